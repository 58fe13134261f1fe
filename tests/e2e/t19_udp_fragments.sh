#!/bin/bash
# SPDX-License-Identifier: MIT
# UDP datagrams larger than the TUN MTU (--mtu 1500): the client's kernel sends
# them as IP fragments, which tun2socks reassembles (lwIP's reassembly is not
# used) and relays whole through danted; the echoes, as large, are written
# back to the TUN as fragments, which the client's kernel reassembles.
# 4000- and 60000-byte datagrams over IPv4 and IPv6, every echo compared byte
# for byte by udp_client.py; small datagrams still pass unfragmented. The
# counters tun2socks logs at exit must show the datagrams reassembled and sent
# fragmented, with nothing dropped. Fragmented ICMP is not relayed and is
# counted as such.
. "$(dirname "$0")/lib.sh"

FLOWS=${FRAG_FLOWS:-4}
COUNT=${FRAG_COUNT:-3}

need_root
need_bin
topo_up
danted_conf_udp
danted_start
udp_echo_start
t2s_start --proxy "socks5://$SRV_IP4:$DANTE_PORT" --mtu 1500
[ "$(ip -n "$CLI" -o link show "$TUN" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')" = 1500 ] \
    || fail "the TUN's MTU is not 1500: $(ip -n "$CLI" -o link show "$TUN")"

# ICMP cannot cross a SOCKS proxy, whole or in fragments: a 3000-byte echo
# request (from a raw socket; the kernel fragments it) is dropped and
# counted. Sent first: the TUN is a queue, so it has been read once the UDP
# echoes below are back.
in_cli "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(b"\x08\x00\x00\x00\x00\x01\x00\x01" + bytes(3000), (sys.argv[1], 0))' "$TGT4" \
    || fail "cannot send a fragmented ICMP echo request"

sent=0
for host in "$TGT4" "$TGT6"; do
    for size in 1200 4000 60000; do
        t0=$(now)
        udp_client "$CLI" echo --host "$host" --port "$UDP_ECHO_PORT" -n "$FLOWS" --count "$COUNT" \
            --size "$size" --max-resends 0 \
            || fail "$host: $FLOWS flows x $COUNT datagrams of $size bytes through a TUN with MTU 1500"
        info "$host: $FLOWS x $COUNT datagrams of $size bytes echoed intact in $(elapsed "$t0")s"
        [ "$size" -gt 1500 ] && sent=$((sent + FLOWS * COUNT))
    done
done
check_udp_peers
t2s_alive || fail "tun2socks died"

t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exited with status $T2S_STATUS"
line=$(grep -m1 'fragments: ' "$T2S_LOG") || fail "tun2socks logged no fragment counters"
info "tun2socks: ${line#*fragments: }"
num() { sed -n "s/.*[:;,] \([0-9]*\) $1.*/\1/p" <<<"$line"; }
reass=$(sed -n 's/.*fragments: \([0-9]*\) UDP datagrams reassembled.*/\1/p' <<<"$line")
outfrag=$(num 'datagrams sent fragmented')
[ -n "$reass" ] && [ -n "$outfrag" ] || fail "cannot read the counters in: $line"
[ "$reass" -ge "$sent" ] || fail "$reass datagrams reassembled, expected at least $sent"
[ "$outfrag" -ge "$sent" ] || fail "$outfrag echoes sent fragmented, expected at least $sent"
for what in 'timed out' overlapping 'too big' 'for want of room' malformed; do
    [ "$(num "$what")" = 0 ] || fail "fragments dropped ($what): $line"
done
[ "$(num 'not UDP')" -ge 1 ] || fail "the fragmented ICMP echo request was not counted as 'not UDP': $line"
