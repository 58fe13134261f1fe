#!/bin/bash
# SPDX-License-Identifier: MIT
# Segmentation offload at MTU 1500 (--mtu 1500, offload on): downloads (lwIP -> app)
# are written as GSO packets of up to ~64 KiB that the kernel segments at the app's
# MSS, uploads arrive as the kernel's TSO packets. 16 MiB each way over IPv4 and IPv6,
# checked by SHA-256; the stats line must show GSO packets both ways (tun_gso_out,
# tun_gso_in), and a packet socket on the TUN (gsosniff.py, PACKET_VNET_HDR) must see
# GSO packets cut at exactly the app's MSS (1460 / 1440) and no plain segment above it.
# With the app's MSS lowered to 1000 (route advmss), segments are cut at 1000. With
# --no-offload the same traffic works, no GSO packet is written and no segment exceeds
# the MTU.
. "$(dirname "$0")/lib.sh"

topo_up
danted_start
httpd_start
SIZE=16777216
head -c "$SIZE" /dev/urandom >"$WORK/www/f.bin" || fail "test file"
WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

# both_ways LABEL: GET and PUT of f.bin over IPv4 and IPv6, SHA-256 checked.
both_ways() {
    local host got resp
    for host in "$TGT4" "[$TGT6]"; do
        got=$(cli_curl "http://$host:$HTTP_PORT/f.bin" | sha256sum | cut -d' ' -f1)
        [ "$got" = "$WANT" ] || fail "$1: GET from $host: sha256 mismatch"
        resp=$(cli_curl -H 'Expect:' -T "$WORK/www/f.bin" "http://$host:$HTTP_PORT/upload") \
            || fail "$1: PUT to $host failed"
        [ "$resp" = "$WANT $SIZE" ] || fail "$1: PUT to $host: server reported '$resp'"
    done
}

# sizes_start / sizes_stop: the TUN's segment sizes (gsosniff.py) over a phase;
# size V FIELD reads one figure for IP version V.
sizes_start() {
    SIZES=$WORK/sizes.$RANDOM
    start_bg gsosniff "$CLI" "$PY" "$E2E_DIR/gsosniff.py" --iface "$TUN" --out "$SIZES"
    SIZES_PID=$BG_PID
    wait_until 10 test -s "$SIZES" || fail "gsosniff.py did not start"
}
sizes_stop() {
    stop_pid "$SIZES_PID"
    info "segments written to $TUN: $(tr '\n' ';' <"$SIZES")"
}
size() { sed -n "s/^v$1 .*$2=\([0-9]*\).*/\1/p" "$SIZES"; }

T2S_EXTRA="--mtu 1500" t2s_start
mtu=$(ip -n "$CLI" -o link show "$TUN" | grep -o 'mtu [0-9]*')
[ "$mtu" = "mtu 1500" ] || fail "$TUN has $mtu, expected mtu 1500"
sizes_start
both_ways "offload"
sizes_stop
t2s_stats_now
out=$(t2s_statv tun_gso_out) in=$(t2s_statv tun_gso_in)
[ "${out:-0}" -ge 200 ] || fail "tun_gso_out=$out after 32 MiB of downloads at MTU 1500: GSO not in use"
[ "${in:-0}" -ge 200 ] || fail "tun_gso_in=$in after 32 MiB of uploads: the kernel's TSO packets not seen"
for v in 4 6; do
    mss=$([ $v = 4 ] && echo 1460 || echo 1440)
    [ "$(size $v gso)" -ge 50 ] || fail "IPv$v: only $(size $v gso) GSO packets seen on $TUN"
    [ "$(size $v max_gso_size)" = "$mss" ] || fail "IPv$v: GSO cut at $(size $v max_gso_size), app MSS $mss"
    [ "$(size $v max_plain_payload)" -le "$mss" ] || fail "IPv$v: a plain segment of $(size $v max_plain_payload) bytes"
done
info "offload: 16 MiB down and up over IPv4 and IPv6 (SHA-256); $out GSO packets written, $in read"

# An application whose MSS is really smaller than the MTU allows.
ip -n "$CLI" route replace default dev "$TUN" advmss 1000 || fail "advmss route"
ip -n "$CLI" -6 route replace default dev "$TUN" advmss 1000 || fail "advmss route (IPv6)"
sizes_start
for host in "$TGT4" "[$TGT6]"; do
    got=$(cli_curl "http://$host:$HTTP_PORT/f.bin" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$WANT" ] || fail "MSS 1000: GET from $host: sha256 mismatch"
done
sizes_stop
for v in 4 6; do
    [ "$(size $v gso)" -ge 50 ] || fail "MSS 1000, IPv$v: only $(size $v gso) GSO packets"
    [ "$(size $v max_gso_size)" = 1000 ] || fail "MSS 1000, IPv$v: GSO cut at $(size $v max_gso_size)"
    [ "$(size $v max_plain_payload)" -le 1000 ] || fail "MSS 1000, IPv$v: a plain segment of $(size $v max_plain_payload) bytes"
done
info "an application announcing MSS 1000 got 16 MiB over IPv4 and IPv6, cut at 1000 bytes"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exited with status $T2S_STATUS"

# Without the virtio-net header: the old path, no GSO.
T2S_EXTRA="--mtu 1500 --no-offload" t2s_start
sizes_start
both_ways "--no-offload"
sizes_stop
t2s_stats_now
[ "$(t2s_statv tun_gso_out)" = 0 ] || fail "tun_gso_out=$(t2s_statv tun_gso_out) with --no-offload"
for v in 4 6; do
    mss=$([ $v = 4 ] && echo 1460 || echo 1440)
    [ "$(size $v gso)" = 0 ] || fail "--no-offload, IPv$v: $(size $v gso) GSO packets"
    [ "$(size $v max_plain_payload)" -le "$mss" ] || fail "--no-offload, IPv$v: a segment of $(size $v max_plain_payload) bytes"
done
info "--no-offload: the same traffic, no GSO packet, no segment above the MSS"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exited with status $T2S_STATUS"
