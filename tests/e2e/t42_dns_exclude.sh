#!/bin/bash
# SPDX-License-Identifier: MIT
# DNS past --exclude (issue 10, section 1): a "LAN" namespace behind the client ns
# (the host) runs the LAN's own nameserver (dnsmasq answering 198.18.2.99) on an
# excluded network and on a link-local address; a second counter on the LAN link
# counts every TCP/UDP packet to port 53 of those addresses. With --auto-route
# --kill-switch --exclude <the LAN>, queries to the LAN's server must not reach it:
#  1. Baseline: a direct query is answered by the LAN and counted (the counter works).
#  2. --dns-server: UDP (v4, v6, link-local) and TCP queries to the LAN's server are
#     answered by the --dns-server through the proxy (the answer of the server ns'
#     dnsmasq, not the LAN's); zero DNS packets on the LAN link, zero on the WAN;
#     the rules send marked packets (our own lookups) to the main table; other
#     traffic to the excluded LAN still goes direct.
#  3. No --dns-server: a fast REFUSED (UDP) / refused connection (TCP) and one log
#     line, never a timeout; with --dns fake-ip an answer from the pool.
#  4. kill -9 with the kill switch: queries to the LAN fail and nothing reaches it;
#     `tun2socks down` restores rules and routes exactly.
#  5. --exclude-dns: the LAN's server answers directly again (and is counted).
#  6. An upgrade: the previous version's kill-switch state (rules, record) is lifted
#     by the next start and by `down`, exactly.
. "$(dirname "$0")/lib.sh"

command -v dig >/dev/null || fail "dig (bind9-dnsutils) is needed"
cap_setup
dnsmasq_start
wan_default_routes "$CLI"
LAN=t2s$$l
LAN4=198.18.2.2
LAN6=2001:2:0:4::2
LL4=169.254.53.1
LAN_ANSWER=198.18.2.99
stub_ns_add "$LAN" lan-c $LAN4/24 $LAN6/64 "$CLI" lan-h 198.18.2.1/24 2001:2:0:4::1/64
ip -n "$LAN" addr add $LL4/16 dev lan-c && ip -n "$CLI" addr add 169.254.53.2/16 dev lan-h || fail "link-local addresses"
start_bg lan-dnsmasq "$LAN" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --port 53 \
    --listen-address=$LAN4 --listen-address=$LAN6 --listen-address=$LL4 --bind-interfaces \
    --address="/e2e.test/$LAN_ANSWER" --user=root --group=root --pid-file="$WORK/lan-dnsmasq.pid" \
    --log-queries --log-facility=-
wait_until 10 udp_bound "$LAN" $LL4 53 || fail "the LAN's dnsmasq did not bind"
LANCOUNT=$WORK/lan.count
start_bg lan-sniff "$LAN" "$PY" "$E2E_DIR/sniff.py" --iface lan-c --net $LAN4/32 --net $LAN6/128 \
    --net $LL4/32 --port 53 --out "$LANCOUNT"
wait_until 10 test -s "$LANCOUNT" || fail "sniff.py on the LAN did not start"
lan_count() { cat "$LANCOUNT"; }
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
STATE=/run/tun2socks/net$ino-$TUN/state
CLEANUP_PATHS+=("${STATE%/state}")
PROXY=socks5://$SRV_IP4:$DANTE_PORT
EXCL=(--exclude 198.18.2.0/24 --exclude 2001:2:0:4::/64)
before=$(routing_snapshot "$CLI")
sniff_start

# q SERVER [DIG OPTIONS]: the answer of a query for www.e2e.test from the host.
q() { local s=$1; shift; ip netns exec "$CLI" timeout 10 dig +short +time=3 +tries=1 "$@" @"$s" www.e2e.test A 2>&1; }

# 1. The LAN counter sees a direct query.
n=$(lan_count)
got=$(q $LAN4) || fail "direct query to the LAN: $got"
[ "$got" = "$LAN_ANSWER" ] || fail "direct query to the LAN answered '$got'"
wait_until 5 num_cmp -gt "$n" lan_count || fail "the LAN counter did not count a direct query"
info "LAN counter works: a direct query counted ($(($(lan_count) - n)) packets)"

# 2. Captured, answered by --dns-server through the proxy.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" "${EXCL[@]}" --dns-server "$DNS4"
r=$(in_cli ip route get $LAN4 ipproto udp dport 53); [[ $r == *"dev $TUN "* ]] || fail "UDP DNS to the LAN not captured: $r"
r=$(in_cli ip route get $LAN4 ipproto tcp dport 53); [[ $r == *"dev $TUN "* ]] || fail "TCP DNS to the LAN not captured: $r"
r=$(in_cli ip -6 route get $LAN6 ipproto udp dport 53); [[ $r == *"dev $TUN "* ]] || fail "v6 DNS to the LAN not captured: $r"
r=$(in_cli ip route get $LL4 ipproto udp dport 53); [[ $r == *"dev $TUN "* ]] || fail "link-local DNS not captured: $r"
r=$(in_cli ip route get $LAN4 ipproto udp dport 53 mark 0x7432); [[ $r == *"dev lan-h "* ]] || fail "our own (marked) lookups would enter the TUN: $r"
r=$(in_cli ip route get $LAN4 ipproto udp dport 9); [[ $r == *"dev lan-h "* ]] || fail "other traffic to the excluded LAN is captured: $r"
n=$(lan_count); w=$(sniff_count)
for args in "$LAN4" "$LAN4 +tcp" "$LAN6" "$LAN6 +tcp" "$LL4"; do
    # shellcheck disable=SC2086
    got=$(q $args) || fail "query $args: $got"
    [ "$got" = "$TGT4" ] || fail "query $args answered '$got', not the --dns-server's $TGT4"
done
[ "$(lan_count)" = "$n" ] || fail "$(($(lan_count) - n)) DNS packets reached the LAN's server"
[ "$(sniff_count)" = "$w" ] || fail "$(($(sniff_count) - w)) packets leaked on the WAN"
lan_queries() { grep -c 'query\[' "$LOGDIR/lan-dnsmasq.log"; }
[ "$(lan_queries)" = 1 ] || fail "the LAN's dnsmasq saw $(($(lan_queries) - 1)) captured queries"
# Traffic to the LAN other than DNS goes direct (the exclusion still holds).
# (a connection to a closed port there is refused by the LAN host itself: it was reached)
in_cli "$PY" -c "
import socket, sys
s = socket.socket(); s.settimeout(3)
try:
    s.connect(('$LAN4', 9))
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)
" || fail "the excluded LAN is not reached directly"
info "captured: UDP/TCP, v4/v6/link-local queries to the LAN answered through the proxy; 0 DNS packets on the LAN, 0 on the WAN"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after SIGTERM: $(diff <(echo "$before") <(echo "$after"))"

# 3. No --dns-server: refused at once, one log line.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" "${EXCL[@]}"
n=$(lan_count)
for i in 1 2 3; do
    t0=$(now)
    out=$(ip netns exec "$CLI" timeout 10 dig +time=3 +tries=1 @$LAN4 www.e2e.test A 2>&1)
    [[ $out == *"status: REFUSED"* ]] || fail "query without --dns-server: not REFUSED: $out"
    dt=$(elapsed "$t0")
    awk -v d="$dt" 'BEGIN { exit !(d < 2) }' || fail "REFUSED took $dt s"
done
t0=$(now)
out=$(q $LAN4 +tcp) && fail "TCP query without --dns-server answered: $out"
dt=$(elapsed "$t0")
awk -v d="$dt" 'BEGIN { exit !(d < 2) }' || fail "the TCP query failed after $dt s, not at once: $out"
[ "$(grep -c "queries to $LAN4 get REFUSED" "$T2S_LOG")" = 1 ] || fail "not exactly one log line about REFUSED queries"
[ "$(lan_count)" = "$n" ] || fail "DNS packets reached the LAN's server without --dns-server"
info "no --dns-server: REFUSED within ${dt} s, one log line, nothing on the LAN"
t2s_stop TERM
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" "${EXCL[@]}" --dns fake-ip \
    --fake-ip-range 198.19.200.0/24
got=$(q $LAN4) || fail "fake-ip query: $got"
[[ $got == 198.19.200.* ]] || fail "fake-ip query to the LAN answered '$got', not from the pool"
[ "$(lan_count)" = "$n" ] || fail "DNS packets reached the LAN's server with fake-ip"
info "fake-ip: the LAN's server's query answered from the pool ($got)"

# 4. Crash with the kill switch: DNS to the LAN is refused, not sent there.
cap_kill9
out=$(q $LAN4) && fail "query after kill -9 answered: $out"
out=$(q $LAN4 +tcp) && fail "TCP query after kill -9 answered: $out"
out=$(q $LL4) && fail "link-local query after kill -9 answered: $out"
[ "$(lan_count)" = "$n" ] || fail "$(($(lan_count) - n)) DNS packets reached the LAN after kill -9"
out=$(ip netns exec "$CLI" "$T2S_BIN" down 2>&1) || fail "tun2socks down failed: $out"
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after down: $(diff <(echo "$before") <(echo "$after"))"
info "kill -9: DNS to the LAN blocked; down restored rules and routes exactly"

# 5. --exclude-dns: the user's choice, DNS to the LAN goes there directly.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" "${EXCL[@]}" --exclude-dns
r=$(ip -n "$CLI" rule); [[ $r != *"dport"* ]] || fail "--exclude-dns: port rules installed: $r"
n=$(lan_count)
got=$(q $LAN4) || fail "--exclude-dns query: $got"
[ "$got" = "$LAN_ANSWER" ] || fail "--exclude-dns: answered '$got', not by the LAN"
wait_until 5 num_cmp -gt "$n" lan_count || fail "--exclude-dns: the query was not seen on the LAN"
t2s_stop TERM
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after SIGTERM: $(diff <(echo "$before") <(echo "$after"))"
cap_no_leak_since "$w" "whole scenario"
info "--exclude-dns: the LAN's server answers directly"

# 6. An upgrade with the kill switch on: the state a previous version left after a
#    crash (its rules at 7430-7435, no DNS rules, no nftables table, and its record)
#    is lifted by the next start, whose own clean exit then restores everything, and
#    by `down`.
old_state() {
    local fam pid
    pid=$(sh -c 'echo $$') # a process that is gone
    mkdir -p "${STATE%/state}"
    {
        printf 'tun2socks-capture 1\npid %s\nstart 0\n' "$pid"
        for fam in 4 6; do
            printf 'route %s 7432 unicast default dev %s\n' $fam "$TUN"
            if [ $fam = 4 ]; then
                printf 'rule 4 7430 to %s lookup 254\n' 127.0.0.0/8 169.254.0.0/16 224.0.0.0/4 255.255.255.255/32 198.18.2.0/24
            else
                printf 'rule 6 7430 to %s lookup 254\n' ::1/128 fe80::/10 ff00::/8 2001:2:0:4::/64
            fi
            printf 'rule %s 7431 fwmark 0x7432/0x7432 lookup 254\nrule %s 7432 fwmark 0x7432/0x7432 unreachable\n' $fam $fam
            printf 'rule %s 7434 lookup 7432\nrule %s 7435 prohibit\n' $fam $fam
        done
    } >"$STATE"
    chmod 644 "$STATE"
    for x in 127.0.0.0/8 169.254.0.0/16 224.0.0.0/4 255.255.255.255/32 198.18.2.0/24; do
        in_cli ip -4 rule add pref 7430 to $x lookup main || fail "old rule to $x"
    done
    for x in ::1/128 fe80::/10 ff00::/8 2001:2:0:4::/64; do
        in_cli ip -6 rule add pref 7430 to $x lookup main || fail "old rule to $x"
    done
    for fam in -4 -6; do
        in_cli ip $fam rule add pref 7431 fwmark 0x7432/0x7432 lookup main &&
            in_cli ip $fam rule add pref 7432 fwmark 0x7432/0x7432 unreachable &&
            in_cli ip $fam rule add pref 7434 lookup 7432 && in_cli ip $fam rule add pref 7435 prohibit \
            || fail "old rules ($fam)"
    done
}
old_state
cap_blocked "$CLI" "the previous version's kill switch"
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" "${EXCL[@]}" --dns-server "$DNS4"
grep -q "lifting what a previous run" "$T2S_LOG" || fail "the start did not lift the previous version's state"
got=$(q $LAN4) || fail "query after the upgrade: $got"
[ "$got" = "$TGT4" ] || fail "query after the upgrade answered '$got'"
t2s_stop TERM
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after the upgrade and SIGTERM: $(diff <(echo "$before") <(echo "$after"))"
old_state
out=$(ip netns exec "$CLI" "$T2S_BIN" down 2>&1) || fail "tun2socks down (previous version's state) failed: $out"
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after down of the previous version's state: $(diff <(echo "$before") <(echo "$after"))"
[ ! -e "$STATE" ] || fail "the previous version's record left after down"
info "upgrade: the previous version's kill switch is lifted by the next start and by down, exactly"
