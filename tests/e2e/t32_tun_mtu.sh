#!/bin/bash
# SPDX-License-Identifier: MIT
# TUN reads longer than the buffer: tun2socks runs with --mtu 1500 --no-offload (a
# 1500-byte read buffer), then the device's MTU is raised to 9000 at run time and the
# application sends 8000-byte UDP datagrams (IPv4 and IPv6) and 8000-byte pings. The
# kernel copies what fits into the read and drops the rest (Linux: tun_chr_read_iter
# returns min(packet, buffer)); a guard byte after the buffer tells such a read apart:
# every such packet must be dropped and counted (tun_truncated) with one rate-limited
# log line, never parsed, and traffic that fits (UDP echo, a TCP upload and download
# checked by SHA-256) keeps working.
. "$(dirname "$0")/lib.sh"

topo_up
danted_conf_udp
danted_start
udp_echo_start
httpd_start
T2S_EXTRA="--mtu 1500 --no-offload" t2s_start

echo_ok() {
    udp_client "$CLI" echo --host "$1" --port "$UDP_ECHO_PORT" -n 2 --count 3 --size 1200 >>"$LOGDIR/udp.log" 2>&1 \
        || fail "UDP echo to $1 $2: $(tail -1 "$LOGDIR/udp.log")"
}
echo_ok "$TGT4" "before the MTU change"

ip -n "$CLI" link set dev "$TUN" mtu 9000 || fail "ip link set mtu 9000"
info "$TUN: $(ip -n "$CLI" -o link show "$TUN" | grep -o 'mtu [0-9]*') (tun2socks reads 1500 bytes at most)"
# 20 datagrams of 8000 bytes each way, one IP packet each at MTU 9000.
in_cli "$PY" - "$TGT4" "$TGT6" "$UDP_ECHO_PORT" <<'EOF' || fail "sending the large datagrams"
import socket, sys
for host in sys.argv[1:3]:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for i in range(20):
        s.sendto(bytes([i]) * 8000, (host, int(sys.argv[3])))
EOF
if command -v ping >/dev/null; then
    in_cli ping -c 3 -i 0.2 -W 1 -s 8000 "$TGT4" >/dev/null 2>&1
    pings=3
else
    pings=0
fi
truncated() { t2s_stats_now; [ "$(t2s_statv tun_truncated)" -ge $((40 + pings)) ]; }
wait_until 10 truncated || fail "tun_truncated=$(t2s_statv tun_truncated), expected at least $((40 + pings))"
t2s_alive || fail "tun2socks died on packets longer than its buffer"
n=$(grep -c "dropped a packet from $TUN longer than the 1500-byte read buffer" "$T2S_LOG")
[ "$n" = 1 ] || fail "$n log lines for the long packets, expected 1 (rate-limited)"
info "$(t2s_statv tun_truncated) long packets dropped: $(grep -o 'dropped a packet.*' "$T2S_LOG" | head -1)"

# What fits still goes through, both ways.
echo_ok "$TGT4" "after the MTU change"
echo_ok "$TGT6" "after the MTU change"
head -c 4194304 /dev/urandom >"$WORK/www/up.bin"
want=$(sha256sum <"$WORK/www/up.bin" | cut -d' ' -f1)
resp=$(cli_curl -H 'Expect:' -T "$WORK/www/up.bin" "http://$TGT4:$HTTP_PORT/upload") || fail "PUT 4 MiB failed"
[ "$resp" = "$want 4194304" ] || fail "PUT: server reported '$resp', expected '$want 4194304'"
got=$(cli_curl "http://$TGT4:$HTTP_PORT/up.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "GET: sha256 mismatch"
info "UDP echo and a 4 MiB TCP upload/download (SHA-256) still work"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exited with status $T2S_STATUS"
