#!/bin/bash
# SPDX-License-Identifier: MIT
# UDP harness self-check, no tun2socks involved: udp_echo.py and udp_client.py
# directly inside the server ns, then through danted's UDP relay with explicit
# SOCKS5 UDP ASSOCIATE (udp_client.py --socks5), including the full-cone
# replies (udp.connectdst: no) and a refused association (microsocks has no UDP
# ASSOCIATE; danted down). If this fails, the environment is broken, not tun2socks.
. "$(dirname "$0")/lib.sh"

need_root
topo_up
danted_conf_udp
danted_start
microsocks_start
udp_echo_start

# 1. Direct, inside the server ns: the echo server and the client checks.
U=(udp_client "$SRV")
"${U[@]}" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 200 --count 5 --size 1200 || fail "direct echo v4"
"${U[@]}" echo --host "$TGT6" --port "$UDP_ECHO_PORT" -n 50 --count 5 --size 1200 || fail "direct echo v6"
"${U[@]}" fullcone --host "$TGT4" --port "$UDP_ECHO_PORT" --other-port "$UDP_OTHER_PORT" --other-addr "$TGT4_ALT" \
    || fail "direct fullcone v4"
"${U[@]}" fullcone --host "$TGT6" --port "$UDP_ECHO_PORT" --other-port "$UDP_OTHER_PORT" --other-addr "$TGT6_ALT" \
    || fail "direct fullcone v6"
"${U[@]}" refused --host "$TGT4" --port "$UDP_CLOSED_PORT" --max 2 || fail "direct refused v4"
"${U[@]}" refused --host "$TGT6" --port "$UDP_CLOSED_PORT" --max 2 || fail "direct refused v6"
"${U[@]}" reuse --host "$TGT4" --port "$UDP_ECHO_PORT" --idle 0.5 || fail "direct reuse"
# The checks themselves fail when they should: a wrong alternative address, an open port.
"${U[@]}" fullcone --host "$TGT4" --port "$UDP_ECHO_PORT" --other-port "$UDP_OTHER_PORT" --other-addr "$TGT4" \
    --tries 1 2>/dev/null && fail "fullcone accepted a reply from the wrong address"
"${U[@]}" refused --host "$TGT4" --port "$UDP_ECHO_PORT" --max 1 2>/dev/null && fail "refused accepted an echo"
info "udp_echo.py / udp_client.py ok directly"

# 2. Through danted's UDP relay (v4 and v6 proxy), from the client ns.
direct_peers=$(udp_echo_npeers)
before=$(danted_udp_sessions)
for px in "$SRV_IP4:$DANTE_PORT" "[$SRV_IP6]:$DANTE_PORT"; do
    S=(udp_client "$CLI" --socks5 "$px")
    "${S[@]}" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 100 --count 5 || fail "echo v4 via $px"
    "${S[@]}" echo --host "$TGT6" --port "$UDP_ECHO_PORT" -n 20 --count 5 || fail "echo v6 via $px"
    "${S[@]}" fullcone --host "$TGT4" --port "$UDP_ECHO_PORT" --other-port "$UDP_OTHER_PORT" --other-addr "$TGT4_ALT" \
        || fail "fullcone v4 via $px (udp.connectdst?)"
    "${S[@]}" fullcone --host "$TGT6" --port "$UDP_ECHO_PORT" --other-port "$UDP_OTHER_PORT" --other-addr "$TGT6_ALT" \
        || fail "fullcone v6 via $px"
    "${S[@]}" reuse --host "$TGT4" --port "$UDP_ECHO_PORT" --idle 0.5 || fail "reuse via $px"
done
after=$(danted_udp_sessions)
[ "$((after - before))" -ge 246 ] || fail "danted logged $((after - before)) UDP associations, expected >= 246"
ended_ge() { [ "$(danted_udp_ended)" -ge "$1" ]; }
wait_until 5 ended_ge "$after" || fail "danted logged the end of only $(danted_udp_ended) of $after UDP sessions"
check_udp_peers "$direct_peers"
info "danted UDP relay ok ($((after - before)) associations logged)"

# 3. No UDP ASSOCIATE: microsocks refuses it, a stopped danted refuses the connection.
udp_client "$CLI" --socks5 "$SRV_IP4:$MS_PORT" --socks-user "$MS_USER" --socks-pass "$MS_PASS" refused --host "$TGT4" --port "$UDP_ECHO_PORT" \
    || fail "microsocks accepted UDP ASSOCIATE"
danted_stop
udp_client "$CLI" --socks5 "$SRV_IP4:$DANTE_PORT" refused --host "$TGT4" --port "$UDP_ECHO_PORT" \
    || fail "association with danted down"
danted_start
udp_client "$CLI" --socks5 "$SRV_IP4:$DANTE_PORT" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 5 \
    || fail "UDP via danted after its restart"

# 4. Tools the UDP scenarios use directly.
if command -v dig >/dev/null && dnsmasq_start; then
    a=$(in_srv dig +short +time=2 +tries=1 @"$DNS4" www.e2e.test A) || fail "dig A direct"
    [ "$a" = "$TGT4" ] || fail "dnsmasq answered A '$a'"
    a=$(in_srv dig +short +time=2 +tries=1 @"$DNS6" www.e2e.test AAAA) || fail "dig AAAA direct"
    [ "$a" = "$TGT6" ] || fail "dnsmasq answered AAAA '$a'"
    info "dnsmasq ok"
else
    info "SKIP dnsmasq check: dnsmasq or dig is not installed (Debian packages dnsmasq-base, dnsutils)"
fi
info "UDP harness ok"
