#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Injects hostile packets into a TUN device from the application side: an
AF_PACKET socket bound to the TUN sends raw L3 bytes, which the kernel hands to
the process that reads the TUN (tun2socks) as if an application had sent them.

  junk    malformed, truncated, bad-checksum, odd-TCP-option, fragmented,
          oversized and random IPv4/IPv6 packets (--rounds times the catalogue
          plus --random random ones), from SRC to DST:PORT
  synflood  --count SYNs from random sources in --src-net to DST, ports from
          --ports (comma list), at most --rate per second
  ooseq   --count connections from sources in --src-net (not on the host, so its
          kernel ignores the answers) to DST4:PORT, each completed by hand (SYN,
          SYN|ACK read back from the TUN, ACK), then --segs segments of --seg-size
          bytes that all lie beyond a hole at the start of the stream: everything
          waits in tun2socks' out-of-order queue; exit status 1 if fewer than half
          of the handshakes completed
  tiny    one connection made by hand as in ooseq, then --segs in-order segments of
          --min..--max seeded bytes (one packet each, whatever the load), within the
          window tun2socks advertises, retransmitted when lost (--lose K: the Kth
          is left out the first time), then FIN; writes
          "SHA-256 bytes" of the stream to --out once all of it is acknowledged

Only the TUN named by --dev receives anything; run it in the client namespace.
Prints a one-line summary of what was sent. Deterministic for a given --seed.
"""
import argparse
import hashlib
import ipaddress
import os
import random
import select
import socket
import struct
import sys
import time

ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(src, dst, proto, payload, ident=0, flags_frag=0, ttl=64, ihl_words=5, opts=b"", tot=None, bad_sum=False):
    hdr_len = 20 + len(opts)
    tot = hdr_len + len(payload) if tot is None else tot
    h = struct.pack("!BBHHHBBH4s4s", (4 << 4) | ihl_words, 0, tot & 0xFFFF, ident, flags_frag, ttl, proto, 0,
                    src.packed, dst.packed) + opts
    s = csum(h)
    if bad_sum:
        s ^= 0x5A5A
    return h[:10] + struct.pack("!H", s) + h[12:] + payload


def ip6(src, dst, nh, payload, plen=None, hlim=64):
    plen = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 6 << 28, plen & 0xFFFF, nh, hlim, src.packed, dst.packed) + payload


def pseudo(src, dst, proto, length):
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, proto, length)
    return src.packed + dst.packed + struct.pack("!IxxxB", length, proto)


def tcp(src, dst, sport, dport, flags, seq=1, ack=0, opts=b"", data=b"", doff=None, bad_sum=False, win=65535):
    doff = (20 + len(opts) + 3) // 4 if doff is None else doff
    opts = opts + b"\0" * ((-len(opts)) % 4)
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (doff & 0xF) << 4, flags, win, 0, 0) + opts
    seg = h + data
    s = csum(pseudo(src, dst, 6, len(seg)) + seg)
    if bad_sum:
        s ^= 0x1234
    return seg[:16] + struct.pack("!H", s) + seg[18:]


def udp(src, dst, sport, dport, data, length=None, bad_sum=False):
    length = 8 + len(data) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, length & 0xFFFF, 0) + data
    s = csum(pseudo(src, dst, 17, 8 + len(data)) + seg) or 0xFFFF
    if bad_sum:
        s ^= 0x00FF
    return seg[:6] + struct.pack("!H", s) + seg[8:]


SYN, ACK, RST, FIN, PSH, URG = 0x02, 0x10, 0x04, 0x01, 0x08, 0x20

ODD_OPTIONS = [
    b"\x02\x04\x05",                  # MSS cut short
    b"\x02\x00",                      # length 0 (a parser that loops on it never ends)
    b"\x02\x01",                      # length 1
    b"\x02\x04\x00\x00",              # MSS 0
    b"\x03\x03\xff",                  # window scale 255
    b"\x04\x07\x00\x00\x00\x00\x00",  # SACK-permitted with a wrong length
    b"\x05\x0a" + b"\x00" * 8,        # SACK blocks on a SYN
    b"\x08\x0a" + b"\xff" * 8,        # timestamps
    b"\x01" * 40,                     # 40 NOPs (maximum option space)
    b"\xfe\x28" + b"\xaa" * 38,       # experimental, length 40
    b"\x02\x28" + b"\x00" * 38,       # MSS claiming 40 bytes
    b"\x00" + b"\x02\x04\xff\xff",    # end of list, then more
    b"\x1e\x03\x00",                  # MPTCP-ish garbage
    b"\x22\x06\x00\x00\x00\x00",      # TFO cookie
]


def catalogue(rnd, s4, d4, s6, d6, port):
    """(name, packet bytes) pairs: each attacks one parsing step."""
    out = []
    sp = lambda: rnd.randrange(1024, 65535)  # noqa: E731
    syn4 = tcp(s4, d4, sp(), port, SYN, opts=b"\x02\x04\x05\xb4")
    good4 = ip4(s4, d4, 6, syn4)
    # -- IPv4 header
    out.append(("empty", b""))
    out.append(("one byte", b"\x45"))
    for n in (1, 10, 19):
        out.append(("ipv4 truncated header %d" % n, good4[:n]))
    out.append(("ipv4 ihl 4", ip4(s4, d4, 6, syn4, ihl_words=4)))
    out.append(("ipv4 ihl 15 short", ip4(s4, d4, 6, syn4[:8], ihl_words=15)))
    out.append(("ipv4 total length > packet", ip4(s4, d4, 6, syn4, tot=1400)))
    out.append(("ipv4 total length < header", ip4(s4, d4, 6, syn4, tot=12)))
    out.append(("ipv4 total length 0", ip4(s4, d4, 6, syn4, tot=0)))
    out.append(("ipv4 bad header checksum", ip4(s4, d4, 6, syn4, bad_sum=True)))
    out.append(("ipv4 version 5", b"\x55" + good4[1:]))
    out.append(("ipv4 ttl 0", ip4(s4, d4, 6, syn4, ttl=0)))
    out.append(("ipv4 options garbage", ip4(s4, d4, 6, syn4, ihl_words=6, opts=b"\x44\x00\x01\x02")))
    out.append(("ipv4 source broadcast", ip4(ipaddress.IPv4Address("255.255.255.255"), d4, 6, syn4)))
    out.append(("ipv4 dest multicast", ip4(s4, ipaddress.IPv4Address("224.0.0.1"), 6, syn4)))
    out.append(("ipv4 proto 253", ip4(s4, d4, 253, b"x" * 40)))
    out.append(("ipv4 icmp echo", ip4(s4, d4, 1, b"\x08\x00\xf7\xff\x00\x00\x00\x00")))
    out.append(("ipv4 icmp truncated", ip4(s4, d4, 1, b"\x03")))
    # -- TCP header
    out.append(("tcp truncated", ip4(s4, d4, 6, syn4[:10])))
    out.append(("tcp doff 0", ip4(s4, d4, 6, tcp(s4, d4, sp(), port, SYN, doff=0))))
    out.append(("tcp doff 4", ip4(s4, d4, 6, tcp(s4, d4, sp(), port, SYN, doff=4))))
    out.append(("tcp doff 15 short", ip4(s4, d4, 6, tcp(s4, d4, sp(), port, SYN, doff=15))))
    out.append(("tcp bad checksum syn", ip4(s4, d4, 6, tcp(s4, d4, sp(), port, SYN, bad_sum=True))))
    out.append(("tcp port 0", ip4(s4, d4, 6, tcp(s4, d4, 0, port, SYN))))
    out.append(("tcp dport 0", ip4(s4, d4, 6, tcp(s4, d4, sp(), 0, SYN))))
    for flags in (0, 0xFF, SYN | FIN, SYN | RST, FIN | PSH | URG, ACK, RST, FIN | ACK, PSH | ACK):
        out.append(("tcp flags %#x" % flags, ip4(s4, d4, 6, tcp(s4, d4, sp(), port, flags, seq=rnd.getrandbits(32),
                                                                 ack=rnd.getrandbits(32), data=b"d" * 17))))
    for i, o in enumerate(ODD_OPTIONS):
        out.append(("tcp option %d" % i, ip4(s4, d4, 6, tcp(s4, d4, sp(), port, SYN, opts=o))))
    out.append(("tcp syn with data", ip4(s4, d4, 6, tcp(s4, d4, sp(), port, SYN, data=b"early" * 100))))
    out.append(("tcp window 0 syn", ip4(s4, d4, 6, tcp(s4, d4, sp(), port, SYN, win=0))))
    # -- UDP header
    u = udp(s4, d4, sp(), port, b"hello")
    out.append(("udp truncated", ip4(s4, d4, 17, u[:5])))
    out.append(("udp length > packet", ip4(s4, d4, 17, udp(s4, d4, sp(), port, b"x", length=500))))
    out.append(("udp length < 8", ip4(s4, d4, 17, udp(s4, d4, sp(), port, b"x" * 20, length=3))))
    out.append(("udp bad checksum", ip4(s4, d4, 17, udp(s4, d4, sp(), port, b"x" * 20, bad_sum=True))))
    out.append(("udp dport 0", ip4(s4, d4, 17, udp(s4, d4, sp(), 0, b"x"))))
    # -- fragments (IPv4: MF, offsets, overlaps, a tiny first fragment)
    ident = rnd.randrange(65536)
    big = tcp(s4, d4, sp(), port, SYN, data=b"F" * 3000)
    out.append(("frag first", ip4(s4, d4, 6, big[:1480], ident=ident, flags_frag=0x2000)))
    out.append(("frag middle", ip4(s4, d4, 6, big[1480:2960], ident=ident, flags_frag=0x2000 | 185)))
    out.append(("frag overlap", ip4(s4, d4, 6, big[8:1488], ident=ident, flags_frag=0x2000 | 1)))
    out.append(("frag last", ip4(s4, d4, 6, big[2960:], ident=ident, flags_frag=370)))
    out.append(("frag tiny first", ip4(s4, d4, 6, big[:8], ident=ident + 1, flags_frag=0x2000)))
    out.append(("frag offset max", ip4(s4, d4, 6, b"z" * 16, ident=ident + 2, flags_frag=0x1FFF)))
    out.append(("frag udp first", ip4(s4, d4, 17, udp(s4, d4, sp(), port, b"U" * 2000)[:1000],
                                      ident=ident + 3, flags_frag=0x2000)))
    out.append(("frag udp last only", ip4(s4, d4, 17, b"u" * 100, ident=ident + 4, flags_frag=125)))
    out.append(("frag DF+MF", ip4(s4, d4, 6, syn4, ident=ident + 5, flags_frag=0x6000)))
    # -- oversized (up to the TUN's 64 KiB MTU)
    out.append(("tcp 65495-byte segment", ip4(s4, d4, 6, tcp(s4, d4, sp(), port, ACK | PSH, data=b"O" * 65495))))
    out.append(("udp 65507-byte datagram", ip4(s4, d4, 17, udp(s4, d4, sp(), port, b"O" * 65507))))
    out.append(("ipv4 65535 claims, 100 sent", ip4(s4, d4, 17, b"o" * 80, tot=65535)))
    # -- IPv6
    syn6 = tcp(s6, d6, sp(), port, SYN, opts=b"\x02\x04\x05\xa0")
    good6 = ip6(s6, d6, 6, syn6)
    for n in (1, 20, 39):
        out.append(("ipv6 truncated header %d" % n, good6[:n]))
    out.append(("ipv6 payload length > packet", ip6(s6, d6, 6, syn6, plen=2000)))
    out.append(("ipv6 payload length 0", ip6(s6, d6, 6, syn6, plen=0)))
    out.append(("ipv6 tcp doff 15", ip6(s6, d6, 6, tcp(s6, d6, sp(), port, SYN, doff=15))))
    out.append(("ipv6 hop-by-hop garbage", ip6(s6, d6, 0, b"\x06\x05" + b"\xff" * 6 + syn6)))
    out.append(("ipv6 ext header loop", ip6(s6, d6, 60, b"\x3c\x00" + b"\x01\x04\x00\x00\x00\x00" * 1 + b"\x3c\x00" * 4)))
    out.append(("ipv6 no next header", ip6(s6, d6, 59, b"")))
    frag = struct.pack("!BBHI", 6, 0, (0 << 3) | 1, rnd.getrandbits(32))
    out.append(("ipv6 fragment first", ip6(s6, d6, 44, frag + syn6)))
    frag = struct.pack("!BBHI", 17, 0, (100 << 3), rnd.getrandbits(32))
    out.append(("ipv6 fragment last only", ip6(s6, d6, 44, frag + b"u" * 64)))
    out.append(("ipv6 atomic fragment", ip6(s6, d6, 44, struct.pack("!BBHI", 6, 0, 0, 7) + syn6)))
    out.append(("ipv6 udp bad checksum", ip6(s6, d6, 17, udp(s6, d6, sp(), port, b"x" * 30, bad_sum=True))))
    out.append(("ipv6 udp checksum 0", ip6(s6, d6, 17, udp(s6, d6, sp(), port, b"x")[:6] + b"\0\0x")))
    out.append(("ipv6 icmp6 echo", ip6(s6, d6, 58, b"\x80\x00\x00\x00\x00\x01\x00\x01")))
    out.append(("ipv6 tcp option garbage", ip6(s6, d6, 6, tcp(s6, d6, sp(), port, SYN, opts=b"\x02\x00\x03"))))
    out.append(("ipv6 65000-byte tcp", ip6(s6, d6, 6, tcp(s6, d6, sp(), port, ACK, data=b"6" * 65000))))
    return out


def random_packet(rnd, s4, d4, s6, d6, port):
    kind = rnd.randrange(4)
    n = rnd.choice((rnd.randrange(1, 64), rnd.randrange(1, 1500), rnd.randrange(1, 9000)))
    junk = rnd.randbytes(n)
    if kind == 0:
        return junk
    if kind == 1:   # plausible IPv4 header, random rest
        return ip4(s4, d4, rnd.choice((6, 17, 1, rnd.randrange(256))), junk)
    if kind == 2:   # plausible IPv6 header, random rest
        return ip6(s6, d6, rnd.choice((6, 17, 58, 44, 0, rnd.randrange(256))), junk)
    # valid IPv4 + TCP header with random flags/options/data
    opts = rnd.randbytes(rnd.randrange(0, 41))
    return ip4(s4, d4, 6, tcp(s4, d4, rnd.randrange(1, 65536), port, rnd.randrange(256), seq=rnd.getrandbits(32),
                              ack=rnd.getrandbits(32), opts=opts, data=junk[:rnd.randrange(0, 200)]))


def open_sock(dev):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)
    s.bind((dev, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    return s


def send(s, dev, pkt, counts):
    if not pkt:
        counts["unsendable"] += 1
        return
    proto = ETH_P_IPV6 if (pkt[0] >> 4) == 6 else ETH_P_IP
    for _ in range(200):
        try:
            s.sendto(pkt, (dev, proto))
            counts["sent"] += 1
            return
        except BlockingIOError:
            time.sleep(0.005)
        except OSError:
            counts["unsendable"] += 1  # e.g. larger than the device MTU
            return
    counts["unsendable"] += 1


def open_rx(dev):
    """An AF_PACKET socket that reads what tun2socks writes to the TUN."""
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    rx.bind((dev, ETH_P_IP))
    try:  # PACKET_IGNORE_OUTGOING: our own data must not crowd the answers out
        rx.setsockopt(263, 23, 1)
    except OSError:
        pass
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rx.settimeout(0.2)
    return rx


def tcp_from(pkt, src, sport):
    """The TCP header and data of pkt if it is TCP to src:sport (from tun2socks), else None."""
    if len(pkt) < 40 or pkt[0] >> 4 != 4 or pkt[9] != 6 or pkt[16:20] != src.packed:
        return None
    t = pkt[(pkt[0] & 0x0F) * 4:]
    if len(t) < 20 or struct.unpack("!H", t[2:4])[0] != sport:
        return None
    return t


def handshake(a, s, rx, src, d4, sport, isn, counts):
    """SYN (MSS 1460, window scale 7: a 1 MiB window is open) until a SYN|ACK comes
    back within 5 s, then the ACK. Returns the SYN|ACK's TCP header, or None."""
    syn = ip4(src, d4, 6, tcp(src, d4, sport, a.port, SYN, seq=isn, opts=b"\x02\x04\x05\xb4\x01\x03\x03\x07"))
    synack = None
    rx.setblocking(False)
    try:
        while rx.recv(65536):
            pass
    except BlockingIOError:
        pass
    rx.settimeout(0.2)
    deadline = time.monotonic() + 5
    next_syn = 0
    while synack is None and time.monotonic() < deadline:
        if time.monotonic() >= next_syn:
            send(s, a.dev, syn, counts)
            next_syn = time.monotonic() + 1
        try:
            pkt, addr = rx.recvfrom(65536)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        t = tcp_from(pkt, src, sport)
        if t is not None and t[13] & (SYN | ACK) == SYN | ACK:
            synack = t
    if synack is None:
        return None
    ack = (struct.unpack("!I", synack[4:8])[0] + 1) & 0xFFFFFFFF
    send(s, a.dev, ip4(src, d4, 6, tcp(src, d4, sport, a.port, ACK, seq=isn + 1, ack=ack)), counts)
    return synack


def ooseq(a, s, d4, rnd, counts):
    """Handshakes by hand, then out-of-order data only; returns connections done."""
    net = ipaddress.ip_network(a.src_net)
    rx = open_rx(a.dev)
    done = 0
    for i in range(a.count):
        src = net[rnd.randrange(1, net.num_addresses - 1)]
        sport = rnd.randrange(1024, 65536)
        isn = rnd.getrandbits(32)
        synack = handshake(a, s, rx, src, d4, sport, isn, counts)
        if synack is None:
            continue
        ack = (struct.unpack("!I", synack[4:8])[0] + 1) & 0xFFFFFFFF
        data = bytes(rnd.getrandbits(8) for _ in range(a.seg_size))
        for k in range(a.segs):
            # The first seg_size bytes are never sent: a hole before everything else.
            seq = (isn + 1 + a.seg_size * (k + 1)) & 0xFFFFFFFF
            send(s, a.dev, ip4(src, d4, 6, tcp(src, d4, sport, a.port, ACK | PSH, seq=seq, ack=ack, data=data)),
                 counts)
        done += 1
    return done


def wscale_of(t):
    """The window scale option of a SYN|ACK's TCP header (0 if none)."""
    opts, i = t[20:(t[12] >> 4) * 4], 0
    while i < len(opts) and opts[i] != 0:
        if opts[i] == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        if opts[i] == 3 and opts[i + 1] == 3 and i + 2 < len(opts):
            return min(opts[i + 2], 14)
        i += opts[i + 1]
    return 0


def tiny(a, s, d4, rnd, counts):
    """One connection by hand, then --segs in-order segments of --min..--max bytes, each
    sent once as built (so it reaches tun2socks as it is, whatever the load), within the
    window tun2socks advertises and at most --flight unacknowledged; go-back-N from the
    first unacknowledged segment when no ACK advanced for 0.5 s (segment number --lose,
    if given, is skipped the first time, as if lost). Then FIN. Returns
    (SHA-256 hex, bytes, retransmitted segments); raises RuntimeError on failure."""
    net = ipaddress.ip_network(a.src_net)
    rx = open_rx(a.dev)
    src = net[rnd.randrange(1, net.num_addresses - 1)]
    sport = rnd.randrange(1024, 65536)
    isn = rnd.getrandbits(32)
    synack = handshake(a, s, rx, src, d4, sport, isn, counts)
    if synack is None:
        raise RuntimeError("no SYN|ACK within 5 s")
    ack = (struct.unpack("!I", synack[4:8])[0] + 1) & 0xFFFFFFFF
    scale = wscale_of(synack)
    sizes = [rnd.randint(a.min, a.max) for _ in range(a.segs)]
    offs = [0]
    for n in sizes:
        offs.append(offs[-1] + n)
    total = offs[-1]
    data = rnd.randbytes(total)
    base = isn + 1
    una, right = 0, struct.unpack("!H", synack[14:16])[0]  # (a SYN|ACK's window is not scaled)
    una_i = nxt_i = 0
    fin_sent = 0.0
    retrans = 0
    deadline = time.monotonic() + a.deadline
    last_adv = time.monotonic()
    rx.setblocking(False)
    while una < total + 1:
        now = time.monotonic()
        if now > deadline:
            raise RuntimeError("%d of %d bytes acknowledged after %.0f s" % (min(una, total), total, a.deadline))
        while nxt_i < a.segs and offs[nxt_i + 1] <= una + right and nxt_i - una_i < a.flight:
            if nxt_i + 1 == a.lose:
                a.lose = 0  # not sent the first time: the retransmission is exercised
                nxt_i += 1
                continue
            seg = data[offs[nxt_i]:offs[nxt_i + 1]]
            send(s, a.dev, ip4(src, d4, 6, tcp(src, d4, sport, a.port, ACK | PSH, seq=(base + offs[nxt_i]) & 0xFFFFFFFF,
                                                ack=ack, data=seg)), counts)
            nxt_i += 1
        if una == total and now - fin_sent > 0.5:
            send(s, a.dev, ip4(src, d4, 6, tcp(src, d4, sport, a.port, FIN | ACK, seq=(base + total) & 0xFFFFFFFF,
                                                ack=ack)), counts)
            fin_sent = now
        got = False
        try:
            while True:
                pkt = rx.recv(65536)
                t = tcp_from(pkt, src, sport)
                if t is None:
                    continue
                if t[13] & RST:
                    raise RuntimeError("RST after %d of %d bytes acknowledged" % (una, total))
                if not t[13] & ACK:
                    continue
                rel = (struct.unpack("!I", t[8:12])[0] - base) & 0xFFFFFFFF
                if una <= rel <= total + 1:
                    if rel > una:
                        una, last_adv = rel, time.monotonic()
                    right = struct.unpack("!H", t[14:16])[0] << scale
                got = True
        except BlockingIOError:
            pass
        while una_i < a.segs and offs[una_i + 1] <= una:
            una_i += 1
        nxt_i = max(nxt_i, una_i)
        if una < total and time.monotonic() - last_adv > 0.5:
            # Lost (e.g. the TUN queue was full) or a closed window: again from the first
            # unacknowledged segment, which also probes the window.
            retrans += nxt_i - una_i if nxt_i > una_i else 1
            nxt_i = una_i
            seg = data[offs[una_i]:offs[una_i + 1]]
            send(s, a.dev, ip4(src, d4, 6, tcp(src, d4, sport, a.port, ACK | PSH, seq=(base + offs[una_i]) & 0xFFFFFFFF,
                                                ack=ack, data=seg)), counts)
            nxt_i += 1
            last_adv = time.monotonic()
        if not got:
            select.select([rx], [], [], 0.01)
    return hashlib.sha256(data).hexdigest(), total, retrans


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("junk", "synflood", "ooseq", "tiny"))
    ap.add_argument("--dev", required=True)
    ap.add_argument("--src4", default="198.18.128.1")
    ap.add_argument("--src6", default="2001:2:0:ff::1")
    ap.add_argument("--dst4", required=True)
    ap.add_argument("--dst6", required=True)
    ap.add_argument("--port", type=int, default=7000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--random", type=int, default=5000)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--src-net", default="198.18.64.0/18")
    ap.add_argument("--ports", default="7000")
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--segs", type=int, default=64)
    ap.add_argument("--seg-size", type=int, default=1400)
    ap.add_argument("--min", type=int, default=1)
    ap.add_argument("--max", type=int, default=64)
    ap.add_argument("--flight", type=int, default=256)
    ap.add_argument("--lose", type=int, default=0)
    ap.add_argument("--deadline", type=float, default=120)
    ap.add_argument("--out")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    s = open_sock(a.dev)
    s4, d4 = ipaddress.IPv4Address(a.src4), ipaddress.IPv4Address(a.dst4)
    s6, d6 = ipaddress.IPv6Address(a.src6), ipaddress.IPv6Address(a.dst6)
    counts = {"sent": 0, "unsendable": 0}
    t0 = time.monotonic()
    if a.mode == "junk":
        names = 0
        for _ in range(a.rounds):
            for name, pkt in catalogue(rnd, s4, d4, s6, d6, a.port):
                names += 1
                send(s, a.dev, pkt, counts)
        for _ in range(a.random):
            send(s, a.dev, random_packet(rnd, s4, d4, s6, d6, a.port), counts)
        print("junk: %d crafted + %d random packets: %d sent, %d not sendable, %.1fs" % (
            names, a.random, counts["sent"], counts["unsendable"], time.monotonic() - t0))
    elif a.mode == "ooseq":
        done = ooseq(a, s, d4, rnd, counts)
        print("ooseq: %d of %d connections from %s to %s:%d got %d out-of-order segments of %d bytes: "
              "%d packets sent, %.1fs" % (done, a.count, a.src_net, a.dst4, a.port, a.segs, a.seg_size,
                                          counts["sent"], time.monotonic() - t0))
        return 0 if done * 2 >= a.count else 1
    elif a.mode == "tiny":
        if not 1 <= a.min <= a.max <= 1400 or a.segs < 1 or a.flight < 1 or not a.out:
            print("FAIL: tiny needs 1 <= --min <= --max <= 1400, --segs >= 1, --flight >= 1 and --out",
                  file=sys.stderr)
            return 2
        try:
            digest, total, retrans = tiny(a, s, d4, rnd, counts)
        except RuntimeError as e:
            print("FAIL: tiny: %s" % e, file=sys.stderr)
            return 1
        with open(a.out + ".tmp", "w") as f:
            f.write("%s %d\n" % (digest, total))
        os.rename(a.out + ".tmp", a.out)
        print("tiny: %d segments of %d-%d bytes (%d bytes) and FIN from %s to %s:%d acknowledged: "
              "%d packets sent, %d segments again, %.1fs" % (a.segs, a.min, a.max, total, a.src_net, a.dst4,
                                                            a.port, counts["sent"], retrans, time.monotonic() - t0))
    else:
        net = ipaddress.ip_network(a.src_net)
        ports = [int(p) for p in a.ports.split(",")]
        gap = 1.0 / a.rate
        for i in range(a.count):
            src = net[rnd.randrange(1, net.num_addresses - 1)]
            pkt = ip4(src, d4, 6, tcp(src, d4, rnd.randrange(1024, 65536), ports[i % len(ports)], SYN,
                                      seq=rnd.getrandbits(32), opts=b"\x02\x04\x05\xb4"))
            send(s, a.dev, pkt, counts)
            due = t0 + (i + 1) * gap
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        print("synflood: %d SYNs from %s to %s ports %s: %d sent, %.1fs" % (
            a.count, a.src_net, a.dst4, a.ports, counts["sent"], time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
