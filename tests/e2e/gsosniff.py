#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Segment sizes tun2socks writes to its TUN, as the kernel sees them: an AF_PACKET
socket on --iface (a TUN: no link header) with PACKET_VNET_HDR, so that every packet comes with the
virtio-net header the kernel keeps for it (a GSO packet stays one packet, its
gso_size says where it is cut). For the TCP packets entering the kernel from the
TUN (those tun2socks wrote), rewrites --out after every --every packets and on
SIGTERM with one line per IP version:
  v4 gso=N max_gso_size=N max_plain_payload=N
(GSO packets, their largest segment size, the largest TCP payload of the others).
Creates --out once the socket is bound. Runs until SIGTERM.
"""
import argparse
import os
import signal
import socket
import struct

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_OUTGOING = 4
VNET = 10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--every", type=int, default=50)
    a = ap.parse_args()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.bind((a.iface, 0))
    st = {4: [0, 0, 0], 6: [0, 0, 0]}

    def publish(*_):
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            for v in (4, 6):
                f.write("v%d gso=%d max_gso_size=%d max_plain_payload=%d\n" % (v, *st[v]))
        os.replace(tmp, a.out)

    def stop(*_):
        publish()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    publish()
    n = 0
    while True:
        pkt, addr = s.recvfrom(VNET + 65536)
        if addr[2] == PACKET_OUTGOING or len(pkt) < VNET + 40:
            continue
        _flags, gso_type, _hdr_len, gso_size = struct.unpack_from("=BBHH", pkt, 0)
        ip = pkt[VNET:]
        ver = ip[0] >> 4
        if ver == 4 and ip[9] == 6:
            l4 = (ip[0] & 15) * 4
            tot = struct.unpack_from("!H", ip, 2)[0]
        elif ver == 6 and ip[6] == 6:
            l4 = 40
            tot = 40 + struct.unpack_from("!H", ip, 4)[0]
        else:
            continue
        payload = tot - l4 - (ip[l4 + 12] >> 4) * 4
        c = st[ver]
        if gso_type & 0x7f:
            c[0] += 1
            c[1] = max(c[1], gso_size)
        else:
            c[2] = max(c[2], payload)
        n += 1
        if n % a.every == 0:
            publish()


if __name__ == "__main__":
    main()
