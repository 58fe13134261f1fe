#!/bin/bash
# SPDX-License-Identifier: MIT
# iperf3 TCP through the TUN, client->server (-t 3) and server->client (-R).
. "$(dirname "$0")/lib.sh"

setup_default iperf_start

for mode in up down; do
    args=(-c "$TGT4" -p "$IPERF_PORT" -t 3 -J --connect-timeout 5000)
    [ $mode = down ] && args+=(-R)
    out=$(timeout -k 5 30 ip netns exec "$CLI" iperf3 "${args[@]}" 2>"$WORK/iperf.err")
    st=$?
    echo "$out" >"$LOGDIR/iperf3-client-$mode.json"
    [ $st = 0 ] || fail "iperf3 $mode exited with status $st: $(head -c 300 "$WORK/iperf.err") $(printf '%s' "$out" | grep -m1 '"error"')"
    read -r sent rcvd < <(printf '%s' "$out" | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
e = j["end"]
print(int(e["sum_sent"]["bits_per_second"]), int(e["sum_received"]["bits_per_second"]))')
    [ -n "${rcvd:-}" ] || fail "iperf3 $mode: cannot parse JSON result"
    [ "$sent" -gt 0 ] && [ "$rcvd" -gt 0 ] ||
        fail "iperf3 $mode: zero throughput (sent $sent, received $rcvd bit/s)"
    info "iperf3 $mode: sender $((sent / 1000000)) Mbit/s, receiver $((rcvd / 1000000)) Mbit/s"
done
t2s_alive || fail "tun2socks died"
