#!/bin/bash
# SPDX-License-Identifier: MIT
# Per-cgroup selection of what --auto-route captures (--cgroup, --exclude-cgroup):
# processes in two cgroups this scenario creates on the cgroup2 mount
# (/sys/fs/cgroup/unified here, removed on exit), in one host namespace. Cgroup A's
# traffic must go through danted (sha256, danted's log, the server sees danted) with not
# one packet to the targets on the WAN veth (leak counter, sniff.py); cgroup B's must go
# direct (a second server on other addresses sees the host's WAN address; a second
# counter sees its packets). A's closed sockets' packets (the ACK from TIME_WAIT, ICMP
# port unreachable: no socket, no cgroup) must follow their connection. tun2socks runs
# under nsenter --net: `ip netns exec` mounts a sysfs over /sys, hiding the cgroup2 mount.
#  0. The counter counts direct datagrams; with the select chain removed (the rules
#     alone), it counts cgroup A's leak; with each connection's mark decided in the
#     select chain (before the cgroup's mark reroutes it) it counts A's closed sockets'.
#  1. --cgroup A: A captured, B and root direct, the TUN's rp_filter loose while it runs;
#     SIGTERM restores rules, routes, nftables and the sysctl exactly.
#  2. --cgroup A --kill-switch: after kill -9 A is blocked and leaks nothing while B and
#     root still go direct; `down` restores exactly.
#  3. exclude-cgroup B in a config file, with the kill switch: A and root captured, B direct
#     (masqueraded: the server sees the WAN address); after kill -9 A is blocked, B still
#     direct; `down` restores exactly.
#  4. A cgroup that does not exist: a clear error, nothing changed; --uid with --cgroup is
#     refused.
#  5. Upgrade: a run without selection ($T2S_OLD_BIN, default this binary) with the kill
#     switch dies; the next start with --cgroup lifts its record; kill -9 + down restore;
#     likewise a --exclude-uid run's record (its uidrange rules gone), SIGTERM restores.
. "$(dirname "$0")/lib.sh"

DIRECT4=198.18.200.10
DIRECT6=2001:2:0:3::10
OLD_BIN=${T2S_OLD_BIN:-$T2S_BIN}

CG2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG2" ] || fail "no cgroup2 mount in /proc/self/mountinfo"
CG_A_REL=t2s-e2e-$$-a
CG_B_REL=t2s-e2e-$$-b
CG_A=$CG2/$CG_A_REL
CG_B=$CG2/$CG_B_REL
mkdir "$CG_A" && CLEANUP_CGROUPS+=("$CG_A") && mkdir "$CG_B" && CLEANUP_CGROUPS+=("$CG_B") \
    || fail "cannot create cgroups under $CG2"
CAP_NSENTER=1

cap_setup
echo_start
wan_default_routes "$CLI"
in_cli sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 || fail "icmp ratelimit"
ip -n "$SRV" addr add "$DIRECT4/32" dev lo && ip -n "$SRV" -6 addr add "$DIRECT6/128" dev lo nodad \
    || fail "direct target addresses"
start_bg httpd_direct "$SRV" "$PY" "$E2E_DIR/httpd.py" --root "$WORK/www" --port "$HTTP_PORT" \
    --bind "$DIRECT4" --bind "$DIRECT6"
wait_until 10 listening "$SRV" "$DIRECT4" "$HTTP_PORT" || fail "direct httpd did not listen"
ino=$(in_cli stat -L -c %i /proc/self/ns/net) || fail "netns inode"
STATE=/run/tun2socks/net$ino-$TUN/state
CLEANUP_PATHS+=("${STATE%/state}")
PROXY=socks5://$SRV_IP4:$DANTE_PORT

snapshot() {
    routing_snapshot "$CLI"
    in_cli nft list ruleset 2>&1
    in_cli sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter net.ipv4.conf.veth-c.rp_filter
}
before=$(snapshot)
sniff_start
DIRECT_OUT=$WORK/direct.count
start_bg sniff_direct "$SRV" "$PY" "$E2E_DIR/sniff.py" --iface veth-s --net "$DIRECT4/32" --net "$DIRECT6/128" \
    --out "$DIRECT_OUT"
wait_until 10 test -s "$DIRECT_OUT" || fail "second sniff.py did not start"
direct_count() { cat "$DIRECT_OUT"; }
head -c 1M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

# in_cg CGROUP CMD...: CMD in the client namespace, moved into CGROUP before it starts.
in_cg() {
    local cg=$1; shift
    nsenter_net "$CLI" sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}

danted_saw() { grep -c " -> .*$1" "$LOGDIR/danted.log" 2>/dev/null || true; }

SEL_RUN=in_cg
cg_name() { echo "${1##*/}"; }
SEL_NAME=cg_name
SEL_WANT=$WANT

root_direct() {
    local got
    got=$(cli_curl "http://$DIRECT4:$HTTP_PORT/peer") || fail "$1: root's request"
    [ "$got" = "$CLI_IP4" ] || fail "$1: root's request came from '$got', not direct"
}

# selected WHAT [root-direct|root-captured]: A through the proxy (HTTP, UDP, closed
# sockets), B direct (HTTP, its packets counted); no leak.
selected() {
    local n0 d0 h s0
    n0=$(sniff_count); d0=$(direct_count)
    for h in "$TGT4" "$TGT6"; do
        s0=$(danted_saw "$h.$HTTP_PORT")
        sel_http "$CG_A" "$h" "$SRV_IP4 $SRV_IP6" "$1"
        [ "$(danted_saw "$h.$HTTP_PORT")" -ge "$((s0 + 2))" ] || fail "$1: danted did not log A's connections to $h"
        sel_udp "$CG_A" "$h" "$1"
    done
    sel_closed_sockets "$CG_A" "$1"
    for h in "$DIRECT4" "$DIRECT6"; do
        sel_http "$CG_B" "$h" "$CLI_IP4 $CLI_IP6" "$1"
    done
    [ "$(direct_count)" -gt "$d0" ] || fail "$1: cgroup B's traffic did not cross the WAN"
    case ${2:-} in
    root-direct) root_direct "$1" ;;
    root-captured)
        got=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "$1: root's request"
        [ "$got" = "$SRV_IP4" ] || fail "$1: root's request came from '$got', not danted" ;;
    esac
    cap_no_leak_since "$n0" "$1"
    info "$1: cgroup A through the proxy (HTTP sha256 + danted's log, UDP, closed sockets), B direct, no leak"
}

# 0. The counters work, and count the leak of the rules without the select chain.
sniff_selftest "$CLI"
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" --cgroup "$CG_A_REL"
in_cli nft delete chain inet "tun2socks-$TUN" select || fail "self-test: cannot take the select chain away"
n0=$(sniff_count)
in_cg "$CG_A" curl -q --noproxy '*' -sS --fail --max-time 10 -o /dev/null "http://$TGT4:$HTTP_PORT/peer" \
    || fail "self-test: without the select chain cgroup A's request should have gone direct"
wait_until 5 num_cmp -gt "$n0" sniff_count || fail "self-test: the counter did not count cgroup A's direct request"
info "self-test: without the select chain cgroup A leaks $(($(sniff_count) - n0)) packets; the counter sees them"
t2s_stop TERM
[ "$(snapshot)" = "$before" ] || fail "self-test: state differs after SIGTERM: $(diff <(echo "$before") <(snapshot))"
# ... and, with each connection's mark decided in the select chain as for --uid (before
# the cgroup's mark reroutes its first packet, so by the main table's interface), the
# closed sockets' packets of cgroup A leak: why the decision is in the post chain.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" --cgroup "$CG_A_REL"
T=tun2socks-$TUN
in_cli nft flush chain inet "$T" post \
    && in_cli nft insert rule inet "$T" select ct mark and 0x03000000 == 0 \
        ct mark set ct mark or 0x02000000 \
    && in_cli nft insert rule inet "$T" select ct mark and 0x03000000 == 0 oifname "$TUN" \
        ct mark set ct mark or 0x01000000 \
    || fail "self-test: cannot move the decision into the select chain"
sel_selftest_closed "$CG_A" "with the decision before the reroute" "$before" leaking

# 1. --cgroup A (relative to the cgroup2 root, as systemd names units).
cap_start "$CLI" --proxy "$PROXY" --auto-route --tun "$TUN" --cgroup "$CG_A_REL"
grep -q "capturing only the processes of cgroup $CG_A_REL (id $(stat -c %i "$CG_A"), level 1)" "$T2S_LOG" \
    || fail "--cgroup: no start line naming the cgroup: $(tail -3 "$T2S_LOG")"
r=$(ip -n "$CLI" rule)
[[ $r == *"from all fwmark 0/0x4000000 iif lo lookup main"* ]] || fail "--cgroup rule missing: $r"
[ "$(in_cli sysctl -n "net.ipv4.conf.$TUN.rp_filter")" = 2 ] || fail "--cgroup: the TUN's rp_filter is not loose"
selected "--cgroup" root-direct
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
[ "$(snapshot)" = "$before" ] || fail "--cgroup: state differs after SIGTERM: $(diff <(echo "$before") <(snapshot))"
[ ! -e "$STATE" ] || fail "state record left after a clean exit"
info "--cgroup: SIGTERM restored rules, routes, nftables and sysctls exactly"

# 2. --cgroup A (an absolute path) with the kill switch; kill -9; down.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" --cgroup "$CG_A"
selected "--cgroup --kill-switch" root-direct
cap_kill9
sel_blocked "$CG_A" "$CG_B" "--cgroup, kill -9"
root_direct "--cgroup, kill -9"
sel_down_restores "--cgroup --kill-switch" "" "$before"
info "--cgroup: kill -9 + down restored rules, routes and nftables exactly"

# 3. exclude-cgroup B from a config file, with the kill switch; kill -9; down.
CONF=$WORK/t75.conf
printf 'proxy = %s\nauto-route\nkill-switch\nexclude-cgroup = %s\n' "$PROXY" "$CG_B_REL" >"$CONF"
cap_start "$CLI" --config "$CONF" --tun "$TUN"
grep -q "not capturing the processes of cgroup $CG_B_REL" "$T2S_LOG" || fail "--exclude-cgroup: no start line"
selected "--exclude-cgroup" root-captured
cap_kill9
sel_blocked "$CG_A" "$CG_B" "--exclude-cgroup, kill -9"
sel_down_restores "--exclude-cgroup" "" "$before"
info "--exclude-cgroup: kill -9 + down restored rules, routes and nftables exactly"

# 4. Refusals: nothing may change.
out=$(nsenter_net "$CLI" "$T2S_BIN" --proxy "$PROXY" --auto-route --tun "$TUN" --cgroup "$CG_A_REL-gone" 2>&1) \
    && fail "a missing cgroup was accepted"
[[ $out == *"--cgroup $CG_A_REL-gone: no such cgroup"* ]] || fail "missing cgroup: unclear error: $out"
out=$(in_cli "$T2S_BIN" --proxy "$PROXY" --auto-route --tun "$TUN" --cgroup "$CG_A_REL" 2>&1) \
    && fail "a start without the cgroup2 mount was accepted"
[[ $out == *"no cgroup2 hierarchy is mounted"* ]] || fail "no cgroup2 mount: unclear error: $out"
out=$(in_cli "$T2S_BIN" --proxy "$PROXY" --auto-route --tun "$TUN" --cgroup "$CG_A_REL" --uid 0 2>&1) \
    && fail "--uid with --cgroup was accepted"
[[ $out == *"do not go together"* ]] || fail "--uid with --cgroup: unclear error: $out"
[ "$(snapshot)" = "$before" ] || fail "refusals: state differs: $(diff <(echo "$before") <(snapshot))"
info "a missing cgroup, a namespace without the cgroup2 mount and --uid with --cgroup are refused clearly"

# 5. An older run's record with the kill switch, then --cgroup.
sel_upgrade "$OLD_BIN" "$CG_A" "$CG_B" "$before" --cgroup "$CG_A_REL"
# A record of the user selection (its rules, its table with the older chains), then
# --cgroup: the uidrange rules go, the table is replaced; SIGTERM restores exactly.
T2S_BIN=$OLD_BIN cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" --exclude-uid 1-999
cap_kill9
[[ $(ip -n "$CLI" rule) == *uidrange* ]] || fail "upgrade: the older run left no uidrange rule to lift"
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" --cgroup "$CG_A_REL"
grep -q "lifting what a previous run" "$T2S_LOG" || fail "upgrade: the uid record was not lifted"
[[ $(ip -n "$CLI" rule) != *uidrange* ]] || fail "upgrade: a uidrange rule of the older run stayed: $(ip -n "$CLI" rule)"
selected "upgrade from --exclude-uid" root-direct
t2s_stop TERM
[ "$(snapshot)" = "$before" ] || fail "upgrade from --exclude-uid: state differs: $(diff <(echo "$before") <(snapshot))"
info "upgrade ($OLD_BIN): the next start and down lift an older run's record exactly, a uid selection's too"
