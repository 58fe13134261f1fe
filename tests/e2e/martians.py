#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Destinations that can never be a remote host, sent into the TUN (t35).

  listen  TCP and UDP listeners on 127.0.0.1:PORT and [::1]:PORT (run in the
          proxy's namespace): each connection or datagram is logged as
          "GOT tcp|udp LISTENER from PEER"; "READY" once bound. Anything
          logged means the proxy was made to reach its own host's loopback.
  inject  raw packets into the TUN through AF_PACKET (run in the client
          namespace): TCP SYNs and UDP datagrams to 0.0.0.0/8, 127/8, ::,
          ::1, IPv4-mapped and -compatible IPv6, link-local, multicast and
          broadcast destinations, and from sources that cannot be a host.
          Answers coming back out of the TUN are matched to the cases by
          their quoted headers: the unicast destinations must be answered
          with ICMP administratively prohibited (ICMPv6 code 1), the others
          not at all. A final SYN to 169.254.0.1 is the sentinel: once its
          answer and every other expected one are back, an answer to a silent
          case would be too (tun2socks answers each packet as it reads it).
  apps    what ordinary sockets can send there: TCP connect and connected
          UDP to 169.254.169.254 and fe80::1%TUN must fail at once
          (EHOSTUNREACH / EACCES); datagrams to 255.255.255.255, multicast
          and the TUN subnet's broadcast and network addresses must be
          accepted by the kernel (they went into the TUN).

Prints one line per case and a summary; exits 1 when an expectation fails.
"""
import argparse
import errno
import ipaddress
import select
import socket
import struct
import sys
import time

from tuninject import SYN, ip4, ip6, tcp, udp

ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
PACKET_HOST = 0


def packet(src, dst, proto, sport, dport):
    if proto == 6:
        seg = tcp(src, dst, sport, dport, SYN, seq=1000)
    else:
        seg = udp(src, dst, sport, dport, b"martian?")
    if src.version == 4:
        return ip4(src, dst, proto, seg, flags_frag=0x4000)
    return ip6(src, dst, proto, seg)


def cases(src4, src6, tun_bcast, tun_net, port):
    """(name, src, dst, proto, answered)"""
    a = ipaddress.ip_address
    out = []
    for proto, pname in ((6, "tcp"), (17, "udp")):
        for dst, answered in (("0.0.0.0", True), ("0.1.2.3", True), ("127.0.0.1", True), ("127.9.9.9", True),
                              ("169.254.169.254", True), ("224.0.0.251", False), ("239.255.255.250", False),
                              ("255.255.255.255", False), (tun_bcast, False), (tun_net, False),
                              ("::", True), ("::1", True), ("::ffff:127.0.0.1", True), ("::127.0.0.1", True),
                              ("fe80::1", True), ("ff02::fb", False), ("ff05::1:3", False)):
            src = src4 if a(dst).version == 4 else src6
            out.append(("%s to %s" % (pname, dst), a(src), a(dst), proto, answered))
        for src, dst in (("0.0.0.0", "198.19.0.10"), ("127.0.0.1", "198.19.0.10"), ("224.0.0.9", "198.19.0.10"),
                         ("255.255.255.255", "198.19.0.10"), ("::", "2001:2:0:2::10"), ("::1", "2001:2:0:2::10"),
                         ("ff02::1", "2001:2:0:2::10"), ("::ffff:198.18.128.1", "2001:2:0:2::10")):
            out.append(("%s from %s" % (pname, src), a(src), a(dst), proto, False))
    return out


def parse_answer(pkt):
    """(sport, quoted dst, icmp type, code) of an ICMP error about one of our packets, or None."""
    if len(pkt) >= 20 and pkt[0] >> 4 == 4 and pkt[9] == 1:
        ihl = (pkt[0] & 15) * 4
        icmp = pkt[ihl:]
        if len(icmp) < 8 + 28:
            return None
        q = icmp[8:]
        qihl = (q[0] & 15) * 4
        return (struct.unpack("!H", q[qihl:qihl + 2])[0], ipaddress.ip_address(q[16:20]), icmp[0], icmp[1])
    if len(pkt) >= 40 and pkt[0] >> 4 == 6 and pkt[6] == 58:
        icmp = pkt[40:]
        if len(icmp) < 8 + 48 or icmp[0] >= 128:
            return None
        q = icmp[8:]
        return (struct.unpack("!H", q[40:42])[0], ipaddress.ip_address(q[24:40]), icmp[0], icmp[1])
    return None


def inject(args):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    s.bind((args.dev, 0))
    all_cases = cases(args.src4, args.src6, args.tun_bcast, args.tun_net, args.port)
    sentinel = ("sentinel", ipaddress.ip_address(args.src4), ipaddress.ip_address("169.254.0.1"), 6, True)
    all_cases.append(sentinel)
    by_sport = {}
    for i, (name, src, dst, proto, answered) in enumerate(all_cases):
        sport = 41000 + i
        by_sport[sport] = (name, dst, answered)
        pkt = packet(src, dst, proto, sport, args.port)
        s.sendto(pkt, (args.dev, ETH_P_IP if src.version == 4 else ETH_P_IPV6))
    got = {}
    other = 0
    deadline = time.monotonic() + args.timeout
    want = {sport for sport, (_, _, answered) in by_sport.items() if answered}
    # Until every expected answer is in (the sentinel among them): answers written in
    # order could still be seen out of order if tun2socks moved between CPUs.
    while not want <= got.keys() and time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        data, addr = s.recvfrom(65535)
        if addr[2] != PACKET_HOST:
            continue  # our own injections
        ans = parse_answer(data)
        if ans is None or ans[0] not in by_sport or ans[1] != by_sport[ans[0]][1]:
            other += 1
            continue
        got[ans[0]] = ans
    bad = 0
    for sport, (name, dst, answered) in sorted(by_sport.items()):
        ans = got.get(sport)
        if ans is None:
            verdict = "no answer"
        else:
            verdict = "ICMP%s type %d code %d" % ("" if dst.version == 4 else "v6", ans[2], ans[3])
        want_icmp = (3, 13) if dst.version == 4 else (1, 1)
        ok = (ans is None) if not answered else (ans is not None and (ans[2], ans[3]) == want_icmp)
        bad += not ok
        print("%s %-32s %s%s" % ("ok  " if ok else "BAD ", name, verdict,
                                 "" if ok else " (expected %s)" % ("ICMP admin prohibited" if answered else
                                                                   "no answer")))
    n_answered = sum(1 for c in all_cases if c[4])
    print("inject: %d packets, %d to be answered, %d answered as expected or silent as expected, "
          "%d other packets from the TUN" % (len(all_cases), n_answered, len(all_cases) - bad, other))
    print("INJECTED %d ANSWERED %d" % (len(all_cases), n_answered))
    return 1 if bad else 0


def expect_fail(what, fn, want, limit):
    t0 = time.monotonic()
    try:
        fn()
    except OSError as e:
        dt = time.monotonic() - t0
        ok = e.errno == want and dt < limit
        print("%s %-40s %s after %.3f s" % ("ok  " if ok else "BAD ", what, errno.errorcode.get(e.errno, e.errno), dt))
        return ok
    print("BAD  %-40s succeeded (expected %s)" % (what, errno.errorcode[want]))
    return False


def apps(args):
    ifindex = socket.if_nametoindex(args.dev)
    ok = True
    n_sent = 0

    def tcp(family, addr):
        c = socket.socket(family, socket.SOCK_STREAM)
        c.settimeout(args.timeout)
        try:
            c.connect(addr)
        finally:
            c.close()

    def udp(family, addr):
        c = socket.socket(family, socket.SOCK_DGRAM)
        c.settimeout(args.timeout)
        try:
            c.connect(addr)
            c.send(b"martian?")
            c.recv(100)
        finally:
            c.close()

    ll4 = ("169.254.169.254", args.port)
    ll6 = ("fe80::1", args.port, 0, ifindex)
    ok &= expect_fail("tcp connect 169.254.169.254", lambda: tcp(socket.AF_INET, ll4), errno.EHOSTUNREACH, 3)
    ok &= expect_fail("udp 169.254.169.254", lambda: udp(socket.AF_INET, ll4), errno.EHOSTUNREACH, 3)
    ok &= expect_fail("tcp connect fe80::1%" + args.dev, lambda: tcp(socket.AF_INET6, ll6), errno.EACCES, 3)
    ok &= expect_fail("udp fe80::1%" + args.dev, lambda: udp(socket.AF_INET6, ll6), errno.EACCES, 3)
    n_sent += 4

    u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u4.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    # IPv4 multicast follows the default route (the TUN); IPv6 names the interface.
    u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    for sock, addr in ((u4, ("255.255.255.255", args.port)), (u4, ("224.0.0.251", 5353)),
                       (u4, ("239.255.255.250", 1900)), (u4, (args.tun_bcast, args.port)),
                       (u4, (args.tun_net, args.port)), (u6, ("ff02::fb", 5353, 0, ifindex)),
                       (u6, ("ff05::1:3", 547))):
        try:
            sock.sendto(b"martian?", addr)
            print("ok   udp to %-36s sent into %s" % (addr[0], args.dev))
            n_sent += 1
        except OSError as e:
            print("BAD  udp to %-36s %s" % (addr[0], e))
            ok = False
    print("SENT %d" % n_sent)
    return 0 if ok else 1


def listen(args):
    socks = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        t = socket.socket(family, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((host, args.port))
        t.listen(64)
        u = socket.socket(family, socket.SOCK_DGRAM)
        u.bind((host, args.port))
        socks += [("tcp", host, t), ("udp", host, u)]
    print("READY", flush=True)
    while True:
        r, _, _ = select.select([x[2] for x in socks], [], [])
        for kind, host, sock in socks:
            if sock not in r:
                continue
            if kind == "tcp":
                c, peer = sock.accept()
                c.close()
            else:
                _, peer = sock.recvfrom(65535)
            print("GOT %s %s from %s" % (kind, host, peer[0]), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("listen", "inject", "apps"))
    ap.add_argument("--dev", default="t2s0")
    ap.add_argument("--port", type=int, default=7300)
    ap.add_argument("--src4", default="198.18.128.1")
    ap.add_argument("--src6", default="2001:2:0:ff::1")
    ap.add_argument("--tun-bcast", default="198.18.128.255")
    ap.add_argument("--tun-net", default="198.18.128.0")
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()
    return {"listen": listen, "inject": inject, "apps": apps}[args.mode](args) or 0


if __name__ == "__main__":
    sys.exit(main())
