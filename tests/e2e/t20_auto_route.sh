#!/bin/bash
# SPDX-License-Identifier: MIT
# Whole-host capture (--auto-route) and the kill switch, with the client ns as
# the "host": it has default routes over its WAN veth to the server ns, so
# anything not captured would reach the targets directly, and sniff.py counts
# every packet to a target address on that veth (must stay 0 while captured).
#  1. Baseline: a direct request is seen by the counter (it can fail).
#  2. --auto-route: HTTP (v4, v6; content checksum), UDP echo (v4, v6) and dig
#     arrive through danted; the proxy connection itself is marked and goes out
#     over the veth (no loop); no leak; SIGTERM restores rules and routes exactly.
#  3. --kill-switch: with the proxy down nothing leaks; after kill -9 nothing
#     leaks (TCP, UDP, v4, v6) and the rules stay; the next start lifts the old
#     state and works; after another kill -9, `tun2socks down` restores rules
#     and routes exactly and direct traffic flows again.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
danted_conf_udp
danted_start
httpd_start
udp_echo_start
have_dns=0
command -v dig >/dev/null && dnsmasq_start && have_dns=1
wan_default_routes "$CLI"
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
STATE=/run/tun2socks/net$ino-$TUN.state
CLEANUP_PATHS+=("$STATE" "$STATE.tmp")
PROXY=socks5://$SRV_IP4:$DANTE_PORT
URL4=http://$TGT4:$HTTP_PORT
URL6=http://[$TGT6]:$HTTP_PORT

before=$(routing_snapshot "$CLI")
sniff_start
head -c 4M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
want=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

# 1. The counter sees traffic that is not captured.
peer=$(cli_curl "$URL4/peer") || fail "direct request before capture failed"
[ "$peer" = "$CLI_IP4" ] || fail "direct request came from '$peer'"
wait_until 5 test "$(sniff_count)" -gt 0 || fail "sniff.py did not count a direct request"
info "leak counter works: $(sniff_count) packets of a direct request"

traffic_through_proxy() {
    local what=$1 got peer
    for u in "$URL4" "$URL6"; do
        got=$(cli_curl -g "$u/f.bin" | sha256sum | cut -d' ' -f1)
        [ "$got" = "$want" ] || fail "$what: GET $u/f.bin: sha256 mismatch"
        peer=$(cli_curl -g "$u/peer") || fail "$what: GET $u/peer"
        [ "$peer" = "$SRV_IP4" ] || [ "$peer" = "$SRV_IP6" ] || fail "$what: $u saw the connection from '$peer', not danted"
    done
    for h in "$TGT4" "$TGT6"; do
        udp_client "$CLI" echo --host "$h" --port "$UDP_ECHO_PORT" -n 5 --count 3 --size 1200 \
            || fail "$what: UDP echo with $h"
    done
    check_udp_peers
    if [ $have_dns = 1 ]; then
        got=$(in_cli timeout 10 dig +short +time=3 +tries=1 @"$DNS4" www.e2e.test A 2>&1) || fail "$what: dig: $got"
        [ "$got" = "$TGT4" ] || fail "$what: dig answered '$got'"
    fi
    info "$what: HTTP v4+v6 (sha256), UDP v4+v6, DNS through the proxy"
}

# no_leak_since N WHAT: the counter still shows N.
no_leak_since() { [ "$(sniff_count)" = "$1" ] || fail "$2: $(($(sniff_count) - $1)) packets to the targets leaked around the proxy"; }

# blocked WHAT: TCP (v4, v6) and UDP to a target fail without a packet out.
blocked() {
    local n0 out
    n0=$(sniff_count)
    out=$(cli_curl --max-time 3 "$URL4/peer" 2>&1) && fail "$1: a request to $TGT4 got through: $out"
    out=$(cli_curl --max-time 3 -g "$URL6/peer" 2>&1) && fail "$1: a request to $TGT6 got through: $out"
    in_cli "$PY" -c "
import socket
for fam, a in ((socket.AF_INET, '$TGT4'), (socket.AF_INET6, '$TGT6')):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.sendto(b'leak?', (a, $UDP_ECHO_PORT))
    except OSError:
        pass
" || fail "$1: UDP probe"
    no_leak_since "$n0" "$1"
}

# 2. Whole host.
cap_start "$CLI" --proxy "$PROXY" --auto-route --tun "$TUN" --exclude 192.0.2.99/32
[ -s "$STATE" ] || fail "no state record at $STATE"
in_cli ip route get "$TGT4" | grep -q "dev $TUN" || fail "$TGT4 not routed into $TUN: $(in_cli ip route get "$TGT4")"
in_cli ip -6 route get "$TGT6" | grep -q "dev $TUN" || fail "$TGT6 not routed into $TUN"
# Our proxy connections carry the default mark and leave over the veth.
in_cli ip route get "$SRV_IP4" mark 0x7432 | grep -q "dev veth-c" || fail "marked traffic does not bypass the TUN"
in_cli ip route get "$SRV_IP4" | grep -q "dev $TUN" || fail "unmarked traffic to the proxy is not captured"
ip -n "$CLI" rule | grep -q "to 192.0.2.99 lookup main" || fail "--exclude rule missing: $(ip -n "$CLI" rule)"
n0=$(sniff_count)
traffic_through_proxy "auto-route"
no_leak_since "$n0" "auto-route"
grep -q "$CLI_IP4" "$LOGDIR/danted.log" || fail "danted saw no connection from the host's WAN address"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after SIGTERM: $(diff <(echo "$before") <(echo "$after"))"
[ ! -e "$STATE" ] || fail "state record left after a clean exit"
info "auto-route: teardown restored rules and routes exactly"

# 3. Kill switch.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN"
n0=$(sniff_count)
traffic_through_proxy "kill-switch"
danted_stop
blocked "kill switch, proxy down"
danted_start
cap_kill9
blocked "kill switch, tun2socks killed"
ip -n "$CLI" rule | grep -q "prohibit" || fail "kill switch rule gone after kill -9"
[ -s "$STATE" ] || fail "state record gone after kill -9"
info "kill -9: nothing leaks"
# The next start lifts what the dead run left and captures again.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN"
grep -q "lifting what a previous run" "$T2S_LOG" || fail "the next start did not lift the previous state"
traffic_through_proxy "restart after kill -9"
cap_kill9
blocked "kill switch, second kill -9"
no_leak_since "$n0" "kill switch"
out=$(ip netns exec "$CLI" "$T2S_BIN" down 2>&1) || fail "tun2socks down failed: $out"
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after down: $(diff <(echo "$before") <(echo "$after"))"
[ ! -e "$STATE" ] || fail "state record left after down"
peer=$(cli_curl "$URL4/peer") || fail "direct request after down failed"
[ "$peer" = "$CLI_IP4" ] || fail "direct request after down came from '$peer'"
out=$(ip netns exec "$CLI" "$T2S_BIN" down 2>&1) || fail "a second down failed: $out"
[[ $out == *"nothing to lift"* ]] || fail "second down: '$out'"
info "down restored rules and routes exactly"
