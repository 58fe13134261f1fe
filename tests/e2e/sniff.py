#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Leak counter for the capture-mode scenarios: counts the IPv4/IPv6 packets seen
on the --iface interfaces (repeatable; both directions, AF_PACKET) whose
destination is inside one of the
--net prefixes (and, with --port, that are TCP or UDP to one of those ports),
and rewrites --out with the count after every match (so a test can read it at
any time). Creates --out (count 0) once the socket is bound.
Runs until killed.
"""
import argparse
import ipaddress
import os
import socket

ETH_P_ALL = 0x0003


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", action="append", required=True)
    ap.add_argument("--net", action="append", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", action="append", type=int, default=[])
    a = ap.parse_args()
    nets = [ipaddress.ip_network(n) for n in a.net]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))

    def publish(n):
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % n)
        os.replace(tmp, a.out)

    count = 0
    publish(count)
    while True:
        pkt, addr = s.recvfrom(65535)
        if addr[0] not in a.iface:
            continue
        if len(pkt) < 14:
            continue
        etype = int.from_bytes(pkt[12:14], "big")
        if etype == 0x0800 and len(pkt) >= 34:
            dst = ipaddress.IPv4Address(pkt[30:34])
            proto, l4 = pkt[23], 14 + (pkt[14] & 0x0F) * 4
        elif etype == 0x86DD and len(pkt) >= 54:
            dst = ipaddress.IPv6Address(pkt[38:54])
            proto, l4 = pkt[20], 54  # extension headers: not counted with --port
        else:
            continue
        if a.port and (proto not in (6, 17) or len(pkt) < l4 + 4
                       or int.from_bytes(pkt[l4 + 2:l4 + 4], "big") not in a.port):
            continue
        if any(dst in n for n in nets):
            count += 1
            publish(count)


if __name__ == "__main__":
    main()
