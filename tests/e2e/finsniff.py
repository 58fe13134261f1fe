#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Counts the TCP segments with FIN that tun2socks writes to its TUN (AF_PACKET on
--iface, raw IP: a TUN has no link header) from source port --port: those that carry
payload too ("data") and bare ones ("bare"). Rewrites --out with "DATA BARE" after
every match, and creates it ("0 0") once the socket is bound. Runs until killed.
"""
import argparse
import os
import socket

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TCP_FIN = 0x01


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    counts = {"data": 0, "bare": 0}

    def publish():
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d\n" % (counts["data"], counts["bare"]))
        os.replace(tmp, a.out)

    publish()
    while True:
        pkt, addr = s.recvfrom(65535)
        # What tun2socks writes to the TUN is what the kernel receives from it.
        if addr[2] == PACKET_OUTGOING or len(pkt) < 20:
            continue
        if pkt[0] >> 4 == 4 and pkt[9] == 6:
            l4, end = (pkt[0] & 0x0F) * 4, int.from_bytes(pkt[2:4], "big")
        elif pkt[0] >> 4 == 6 and len(pkt) >= 40 and pkt[6] == 6:
            l4, end = 40, 40 + int.from_bytes(pkt[4:6], "big")
        else:
            continue
        if len(pkt) < l4 + 14 or int.from_bytes(pkt[l4:l4 + 2], "big") != a.port:
            continue
        if not pkt[l4 + 13] & TCP_FIN:
            continue
        payload = end - l4 - (pkt[l4 + 12] >> 4) * 4
        counts["data" if payload > 0 else "bare"] += 1
        publish()


if __name__ == "__main__":
    main()
