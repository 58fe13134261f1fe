#!/bin/bash
# SPDX-License-Identifier: MIT
# DNS over TCP through CONNECT: automatically with a proxy that has no UDP ASSOCIATE
# (microsocks answers REP 7), where other UDP must fail fast with ICMP; and always with
# --dns tcp (danted, which logs the TCP connection to the DNS server).
. "$(dirname "$0")/lib.sh"

topo_up
dnsmasq_start || fail "dnsmasq is not installed (scripts/setup-deps installs dnsmasq-base)"
udp_echo_start
microsocks_start
danted_start

# 1. A proxy without UDP: DNS still resolves (over TCP), other UDP is refused at once.
t2s_start --proxy "socks5://$MS_USER:$MS_PASS@$SRV_IP4:$MS_PORT"
a=$(in_cli dig +short +time=3 +tries=1 "@$DNS4" www.e2e.test A) || fail "dig A via a proxy without UDP"
[ "$a" = "$TGT4" ] || fail "dig A via a proxy without UDP: got '$a', want $TGT4"
aaaa=$(in_cli dig +short +time=3 +tries=1 "@$DNS6" www.e2e.test AAAA) || fail "dig AAAA over IPv6"
[ "$aaaa" = "$TGT6" ] || fail "dig AAAA: got '$aaaa', want $TGT6"
udp_client "$CLI" refused --host "$TGT4" --port "$UDP_ECHO_PORT" --max 2 \
    || fail "other UDP through a proxy without UDP did not fail fast"
grep -q "does not support UDP ASSOCIATE" "$T2S_LOG" || fail "no log line about the proxy lacking UDP"
# Many queries in a row, each a TCP connection through the proxy.
for i in $(seq 1 20); do
    r=$(in_cli dig +short +time=3 +tries=1 "@$DNS4" "host$i.e2e.test" A) || fail "query $i"
    [ "$r" = "$TGT4" ] || fail "query $i: got '$r'"
done
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"

# 2. --dns tcp with a proxy that has UDP: queries still go over TCP.
T2S_EXTRA="--dns tcp" t2s_start
a=$(in_cli dig +short +time=3 +tries=1 "@$DNS4" tcp.e2e.test A) || fail "dig with --dns tcp"
[ "$a" = "$TGT4" ] || fail "dig with --dns tcp: got '$a'"
wait_until 5 grep -q "tcp/connect .*$DNS4\.53" "$LOGDIR/danted.log" \
    || fail "danted shows no TCP connection to $DNS4:53 with --dns tcp"
t2s_alive || fail "tun2socks died"
