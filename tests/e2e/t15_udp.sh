#!/bin/bash
# SPDX-License-Identifier: MIT
# UDP through the TUN (SOCKS5 UDP ASSOCIATE via danted), with plain sockets in
# the client ns: 500 concurrent IPv4 flows and 50 IPv6 flows echoed byte for
# byte, one association per source endpoint; empty and 60000-byte datagrams;
# full-cone replies (from another port and another address of the target)
# reach the application's socket;
# dig against dnsmasq (v4 and v6; skipped if dnsmasq or dig is missing); iperf3
# -u at a fixed rate with < 5 % loss.
. "$(dirname "$0")/lib.sh"

UDP_FLOWS4=${UDP_FLOWS4:-500}
UDP_FLOWS6=${UDP_FLOWS6:-50}
IPERF_UDP_RATE=${IPERF_UDP_RATE:-50M}

need_root
need_bin
topo_up
danted_conf_udp
danted_start
udp_echo_start
iperf_start
have_dns=0
command -v dig >/dev/null && dnsmasq_start && have_dns=1
T2S_EXTRA="--udp associate --udp-pool 0" t2s_start

# sessions_ge N: danted has logged at least N UDP associations.
sessions_ge() { [ "$(danted_udp_sessions)" -ge "$1" ]; }

# 1. Many concurrent flows, content and source address checked by the client;
#    every flow is one source endpoint, so one association each.
for v in 4 6; do
    if [ $v = 4 ]; then host=$TGT4 n=$UDP_FLOWS4; else host=$TGT6 n=$UDP_FLOWS6; fi
    s0=$(danted_udp_sessions)
    t0=$(now)
    udp_client "$CLI" echo --host "$host" --port "$UDP_ECHO_PORT" -n "$n" --count 5 --size 1200 \
        || fail "IPv$v: $n concurrent UDP flows x 5 datagrams through the TUN"
    info "IPv$v: $n flows echoed in $(elapsed "$t0")s"
    wait_until 5 sessions_ge "$((s0 + n))" \
        || fail "IPv$v: danted logged $(($(danted_udp_sessions) - s0)) UDP associations for $n application sockets"
    got=$(($(danted_udp_sessions) - s0))
    [ "$got" = "$n" ] || fail "IPv$v: $got UDP associations for $n application sockets (want one per source endpoint)"
done
# Sizes at the edges: empty datagrams, and 60000-byte ones (the TUN MTU is
# 65535; the SOCKS5 UDP header adds 10 or 22 bytes on the proxy side).
for host in "$TGT4" "$TGT6"; do
    for size in 0 60000; do
        udp_client "$CLI" echo --host "$host" --port "$UDP_ECHO_PORT" -n 4 --count 3 --size "$size" \
            || fail "$host: $size-byte datagrams"
    done
done
check_udp_peers
t2s_alive || fail "tun2socks died"

# 2. Full cone: the reply from a port / an address the application never sent
#    to reaches its (unconnected) socket with that source; then the same socket
#    talks to three destinations over a single association. Its source port is outside
#    the ephemeral range: one the kernel gave an earlier flow would still be mapped, and
#    reuse that flow's association (CI saw 0 new ones that way).
for v in 4 6; do
    if [ $v = 4 ]; then host=$TGT4 alt=$TGT4_ALT; else host=$TGT6 alt=$TGT6_ALT; fi
    s0=$(danted_udp_sessions)
    udp_client "$CLI" fullcone --host "$host" --port "$UDP_ECHO_PORT" --other-port "$UDP_OTHER_PORT" \
        --other-addr "$alt" --sport "$((20000 + v))" || fail "IPv$v: full-cone (endpoint-independent) mapping"
    got=$(($(danted_udp_sessions) - s0))
    [ "$got" = 1 ] || fail "IPv$v: one socket talking to 3 destinations used $got UDP associations (want 1)"
done
check_udp_peers
info "full cone ok (v4, v6)"

# 3. DNS: dig (a real resolver client, one query, no retry: the first datagram
#    of a new association must not be lost) against dnsmasq in the server ns.
if [ $have_dns = 1 ]; then
    for q in "$DNS4 A $TGT4" "$DNS6 AAAA $TGT6"; do
        read -r srv type want <<<"$q"
        t0=$(now)
        ans=$(in_cli timeout 10 dig +short +time=3 +tries=1 @"$srv" www.e2e.test "$type" 2>&1) \
            || fail "dig @$srv www.e2e.test $type through the TUN failed: $ans"
        [ "$ans" = "$want" ] || fail "dig @$srv www.e2e.test $type answered '$ans', expected $want"
        info "dig @$srv $type -> $ans in $(elapsed "$t0")s"
    done
    # dnsmasq saw the queries coming from danted.
    grep -q "query\[A\] www.e2e.test from $SRV_IP4" "$LOGDIR/dnsmasq.log" \
        || fail "dnsmasq did not log the A query from danted ($SRV_IP4)"
    grep -q "query\[AAAA\] www.e2e.test from $SRV_IP6" "$LOGDIR/dnsmasq.log" \
        || fail "dnsmasq did not log the AAAA query from danted ($SRV_IP6)"
else
    info "SKIP dig part: dnsmasq or dig is not installed (Debian packages dnsmasq-base, dnsutils)"
fi

# 4. iperf3 -u at a fixed rate: it must complete and lose < 5 % (-l 1400: a
#    packet rate like real traffic; by default iperf3 would send ~32 KB datagrams,
#    the MSS of its control connection).
out=$(timeout -k 5 30 ip netns exec "$CLI" iperf3 -c "$TGT4" -p "$IPERF_PORT" -u -b "$IPERF_UDP_RATE" -l 1400 \
      -t 3 -J --connect-timeout 5000 2>"$WORK/iperf.err")
st=$?
echo "$out" >"$LOGDIR/iperf3-udp.json"
[ $st = 0 ] || fail "iperf3 -u exited with status $st: $(head -c 300 "$WORK/iperf.err") $(printf '%s' "$out" | grep -m1 '"error"')"
res=$(printf '%s' "$out" | "$PY" -c '
import json, sys
e = json.load(sys.stdin)["end"]
s, r = e["sum_sent"], e["sum_received"]
byte_loss = 100.0 * (1 - r["bytes"] / s["bytes"]) if s["bytes"] else 100.0
print("%d %d %d %.2f %.2f %d" % (s["packets"], r["packets"], r["lost_packets"], r["lost_percent"],
                                 byte_loss, r["bits_per_second"]))') || fail "iperf3 -u: cannot parse the JSON result"
read -r psent precv plost lpct bloss bps <<<"$res"
info "iperf3 -u $IPERF_UDP_RATE: sent $psent datagrams, server counted $precv ($plost lost, $lpct %), bytes lost $bloss %, received $((bps / 1000000)) Mbit/s"
[ "$psent" -gt 0 ] && [ "$precv" -gt 0 ] || fail "iperf3 -u: nothing got through (sent $psent, received $precv datagrams)"
awk -v a="$lpct" -v b="$bloss" 'BEGIN { exit !(a < 5 && b < 5) }' \
    || fail "iperf3 -u: loss too high: $lpct % of the datagrams ($plost of $precv), $bloss % of the bytes (limit 5 %)"
t2s_alive || fail "tun2socks died"
