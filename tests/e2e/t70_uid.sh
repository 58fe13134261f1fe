#!/bin/bash
# SPDX-License-Identifier: MIT
# Per-user selection of what --auto-route captures (--uid, --exclude-uid), two
# users in one host namespace: user A's traffic must go through danted with not
# one packet to the targets on the WAN veth (leak counter, sniff.py), user B's
# must go direct (a second server on other addresses sees the host's WAN address;
# a second counter sees its packets). Each run also makes the kernel send packets
# for closed sockets as uid 0: the ACK of the server's FIN to a socket already
# closed (TIME_WAIT) and the ICMP port unreachable answering an echo that comes back
# after its UDP socket closed; they must follow the connection.
#  0. The counter counts direct datagrams; with the selection's nftables chains
#     removed (the uidrange rules alone), it counts the closed sockets' packets
#     of user A: the leak this scenario is about.
#  1. --uid A: A captured, B and root direct; SIGTERM restores rules, routes and
#     nftables exactly.
#  1b. --exclude-uid B in a config file: SIGHUP takes a new --exclude with the
#     selection kept and refuses a new selection; SIGTERM restores.
#  2. --exclude-uid B --kill-switch: A captured, B direct; after kill -9 A is
#     blocked and leaks nothing while B still goes direct; `down` restores.
#  3. Upgrade: a run without selection ($T2S_OLD_BIN, default this binary: an
#     older version's record) with the kill switch dies; the next start with --uid
#     lifts its record; after kill -9 `down` restores exactly.
. "$(dirname "$0")/lib.sh"

UID_A=64101
UID_B=64102
DIRECT4=198.18.200.10
DIRECT6=2001:2:0:3::10
OLD_BIN=${T2S_OLD_BIN:-$T2S_BIN}

cap_setup
echo_start
wan_default_routes "$CLI"
# Every ICMP port unreachable of closed_sockets must be sent: no per-peer rate limit.
ip netns exec "$CLI" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 || fail "icmp ratelimit"
ip -n "$SRV" addr add "$DIRECT4/32" dev lo && ip -n "$SRV" -6 addr add "$DIRECT6/128" dev lo nodad \
    || fail "direct target addresses"
start_bg httpd_direct "$SRV" "$PY" "$E2E_DIR/httpd.py" --root "$WORK/www" --port "$HTTP_PORT" \
    --bind "$DIRECT4" --bind "$DIRECT6"
wait_until 10 listening "$SRV" "$DIRECT4" "$HTTP_PORT" || fail "direct httpd did not listen"
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
STATE=/run/tun2socks/net$ino-$TUN/state
CLEANUP_PATHS+=("${STATE%/state}")
PROXY=socks5://$SRV_IP4:$DANTE_PORT
chmod 755 "$WORK" && chmod -R a+rX "$WORK/www"

snapshot() { routing_snapshot "$CLI"; ip netns exec "$CLI" nft list ruleset 2>&1; }
before=$(snapshot)
sniff_start
# The second counter: packets to the direct server (they must be there for B).
DIRECT_OUT=$WORK/direct.count
start_bg sniff_direct "$SRV" "$PY" "$E2E_DIR/sniff.py" --iface veth-s --net "$DIRECT4/32" --net "$DIRECT6/128" \
    --out "$DIRECT_OUT"
wait_until 10 test -s "$DIRECT_OUT" || fail "second sniff.py did not start"
direct_count() { cat "$DIRECT_OUT"; }
head -c 1M /dev/urandom >"$WORK/www/f.bin" && chmod 644 "$WORK/www/f.bin" || fail "test file"
WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

as_user() { local u=$1; shift; ip netns exec "$CLI" setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"; }

SEL_RUN=as_user
uid_name() { echo "uid $1"; }
SEL_NAME=uid_name
SEL_WANT=$WANT

# selected WHAT: A through the proxy (HTTP, UDP, closed sockets), B direct (HTTP,
# its packets counted), root direct when $1 says so; no leak.
selected() {
    local n0 d0 h
    n0=$(sniff_count); d0=$(direct_count)
    for h in "$TGT4" "$TGT6"; do
        sel_http "$UID_A" "$h" "$SRV_IP4 $SRV_IP6" "$1"
        sel_udp "$UID_A" "$h" "$1"
    done
    sel_closed_sockets "$UID_A" "$1"
    for h in "$DIRECT4" "$DIRECT6"; do
        sel_http "$UID_B" "$h" "$CLI_IP4 $CLI_IP6" "$1"
    done
    [ "$(direct_count)" -gt "$d0" ] || fail "$1: uid $UID_B's traffic did not cross the WAN"
    if [ "${2:-}" = root-direct ]; then
        got=$(cli_curl "http://$DIRECT4:$HTTP_PORT/peer") || fail "$1: root's request"
        [ "$got" = "$CLI_IP4" ] || fail "$1: root's request came from '$got', not direct"
    fi
    cap_no_leak_since "$n0" "$1"
    info "$1: uid $UID_A through the proxy (HTTP sha256, UDP, closed sockets' packets), uid $UID_B direct, no leak"
}

# 0. The counters work, and count the leak of the uidrange rules alone.
sniff_selftest "$CLI"
# (with the kill switch: a table that is not our socket's own may be changed by nft)
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" --uid "$UID_A"
in_cli nft delete chain inet "tun2socks-$TUN" select && in_cli nft flush chain inet "tun2socks-$TUN" output \
    || fail "self-test: cannot take the selection's chains away"
sel_selftest_closed "$UID_A" "with the uidrange rules alone" "$before"

# 1. --uid A.
cap_start "$CLI" --proxy "$PROXY" --auto-route --tun "$TUN" --uid "$UID_A"
r=$(ip -n "$CLI" rule); [[ $r == *"from all iif lo uidrange $((UID_A + 1))-4294967294 lookup main"* ]] || fail "--uid rule missing: $r"
selected "--uid" root-direct
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
[ "$(snapshot)" = "$before" ] || fail "--uid: state differs after SIGTERM: $(diff <(echo "$before") <(snapshot))"
[ ! -e "$STATE" ] || fail "state record left after a clean exit"
info "--uid: SIGTERM restored rules, routes and nftables exactly"

# 1b. --exclude-uid from a config file; SIGHUP: a new --exclude is taken with the selection
# kept, a new selection is refused (a restart's job); SIGTERM restores.
CONF=$WORK/t70.conf
printf 'proxy = %s\nauto-route\nexclude-uid = %s\nexclude = 192.0.2.98/32\n' "$PROXY" "$UID_B" >"$CONF"
cap_start "$CLI" --config "$CONF" --tun "$TUN"
sed -i 's|^exclude = .*|exclude = 192.0.2.99/32|; s|^exclude-uid = .*|exclude-uid = 64103|' "$CONF"
kill -HUP "$T2S_PID"
wait_until 10 grep -q "reload: --exclude now keeps 1 destination out of the TUN" "$T2S_LOG" \
    || fail "reload: --exclude not changed: $(grep reload: "$T2S_LOG" | tail -3)"
grep -q "reload: --exclude-uid cannot change while running" "$T2S_LOG" \
    || fail "reload: the new selection was not refused: $(grep reload: "$T2S_LOG" | tail -3)"
r=$(ip -n "$CLI" rule); [[ $r == *"iif lo uidrange $UID_B-$UID_B lookup main"* && $r == *"to 192.0.2.99 lookup main"* ]] \
    || fail "reload: rules after SIGHUP: $r"
selected "--exclude-uid, reloaded"
t2s_stop TERM
[ "$(snapshot)" = "$before" ] || fail "--exclude-uid: state differs after SIGTERM: $(diff <(echo "$before") <(snapshot))"
info "--exclude-uid: a reload keeps the selection (and refuses a new one); SIGTERM restored everything"

# 2. --exclude-uid B with the kill switch.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" --exclude-uid "$UID_B" --exclude-uid 1-999
selected "--exclude-uid"
cap_kill9
sel_blocked "$UID_A" "$UID_B" "kill -9"
sel_down_restores "--exclude-uid" "" "$before"
info "--exclude-uid: kill -9 + down restored rules, routes and nftables exactly"

# 3. An older run's record with the kill switch, then --uid.
sel_upgrade "$OLD_BIN" "$UID_A" "$UID_B" "$before" --uid "$UID_A"
info "upgrade ($OLD_BIN): the next start and down lift an older run's record exactly"
