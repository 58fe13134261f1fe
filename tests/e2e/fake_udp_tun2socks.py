#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test double of tun2socks WITH UDP, used ONLY to validate the UDP scenarios
(t15_udp, t16_udp_lifecycle) before or besides the real implementation:

    T2S_BIN=tests/e2e/fake_udp_tun2socks.py tests/e2e/run t15 t16

TCP is handled by fake_tun2socks.py (imported; it sees the TCP packets through
a socketpair). UDP is done the way the real program is specified to do it:
one SOCKS5 UDP ASSOCIATE per application source endpoint (endpoint-independent
mapping, any reply source is delivered), datagrams queued while the
association is being set up, the mapping closed after --udp-timeout SEC idle
(default 60) or when the proxy closes the control connection, and an ICMP
port unreachable for every datagram that cannot be relayed (proxy down,
UDP ASSOCIATE refused). Broken variants for checking that the scenarios catch
the faults: env FAKE_UDP_BUG=one of
  drop-first     drop the datagrams queued while an association is being set up
  no-icmp        never send ICMP errors (silence)
  restricted     only deliver replies from destinations the app has sent to
  per-dest       one association per (source, destination) instead of per source
  no-timeout     ignore --udp-timeout
  flip           flip a byte in every 100th reply (counted over all associations)
  keep-stale     ignore the proxy closing the control connection (keep the mapping)
"""
import ipaddress
import os
import select
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_tun2socks as ft  # noqa: E402

BUG = os.environ.get("FAKE_UDP_BUG", "")


def csum(data):
    return ~ft.csum_fold(ft.csum_add(0, data)) & 0xFFFF


def ip_packet(ver, src, dst, proto, payload):
    """IPv4/IPv6 packet with PAYLOAD (whose checksum the caller computed)."""
    if ver == 4:
        h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0, src, dst))
        h[10:12] = struct.pack("!H", csum(bytes(h)))
        return bytes(h) + payload
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, src, dst) + payload


def pseudo(ver, src, dst, proto, n):
    if ver == 4:
        return src + dst + struct.pack("!BBH", 0, proto, n)
    return src + dst + struct.pack("!I3xB", n, proto)


def udp_packet(ver, src, sport, dst, dport, data):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    ck = csum(pseudo(ver, src, dst, 17, len(u)) + u) or 0xFFFF
    return ip_packet(ver, src, dst, 17, u[:6] + struct.pack("!H", ck) + u[8:])


def icmp_unreach(ver, orig, src, dst):
    """Port unreachable about ORIG (the app's packet), from SRC (its destination) to DST."""
    if ver == 4:
        body = orig[:548]
        m = struct.pack("!BBHI", 3, 3, 0, 0) + body
        m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
        return ip_packet(4, src, dst, 1, m)
    body = orig[:1232]
    m = struct.pack("!BBHI", 1, 4, 0, 0) + body
    ck = csum(pseudo(6, src, dst, 58, len(m)) + m)
    m = m[:2] + struct.pack("!H", ck) + m[4:]
    return ip_packet(6, src, dst, 58, m)


def sockaddr(addr, port):
    ip = ipaddress.ip_address(addr)
    return (b"\x01" if ip.version == 4 else b"\x04") + ip.packed + struct.pack("!H", port)


class Assoc:
    def __init__(self, key):
        self.key = key              # (ver, src bytes, sport) [+ dst for per-dest]
        self.state = "pending"
        self.queue = []             # (packet, ver, dst bytes, dport, payload)
        self.ctl = self.udp = self.relay = None
        self.last = time.monotonic()
        self.sent_to = set()


class UdpNat:
    def __init__(self, fake, tun_fd, timeout):
        self.fake, self.tun, self.timeout = fake, tun_fd, timeout
        self.maps = {}
        self.lock = threading.Lock()
        self.count = 0

    def write(self, p):
        try:
            os.write(self.tun, p)
        except OSError as e:
            ft.log("debug", "TUN write: %s" % e)

    def packet(self, p):
        ver = p[0] >> 4
        if ver == 4:
            ihl = (p[0] & 15) * 4
            if len(p) < ihl + 8 or struct.unpack("!H", p[6:8])[0] & 0x3FFF:
                return      # fragments: not handled by the double
            src, dst, off = p[12:16], p[16:20], ihl
            d = ipaddress.IPv4Address(dst)
            if d.is_multicast or dst == b"\xff\xff\xff\xff":
                return
        else:
            src, dst, off = p[8:24], p[24:40], 40
            if ipaddress.IPv6Address(dst).is_multicast:
                return
        sport, dport, ulen = struct.unpack("!HHH", p[off:off + 6])
        data = p[off + 8:off + ulen]
        key = (ver, src, sport) + ((dst, dport) if BUG == "per-dest" else ())
        with self.lock:
            a = self.maps.get(key)
            if a is None or a.state == "closed":
                a = Assoc(key)
                self.maps[key] = a
                a.queue.append((p, ver, dst, dport, data))
                threading.Thread(target=self.open, args=(a,), daemon=True).start()
                return
            if a.state == "pending":
                a.queue.append((p, ver, dst, dport, data))
                return
        self.send(a, ver, dst, dport, data, p)

    def send(self, a, ver, dst, dport, data, p):
        a.last = time.monotonic()
        fam = socket.AF_INET if ver == 4 else socket.AF_INET6
        addr = socket.inet_ntop(fam, dst)
        a.sent_to.add((str(ipaddress.ip_address(addr)), dport))
        try:
            a.udp.sendto(b"\0\0\0" + sockaddr(addr, dport) + data, a.relay)
        except OSError as e:
            ft.log("debug", "relay send: %s" % e)

    def open(self, a):
        host, port, _, _ = self.fake.o["proxy"]
        auth = self.fake.auth
        try:
            ctl = socket.create_connection((host, port), self.fake.o["connect-timeout"])
            try:
                ctl.sendall(b"\x05\x01\x02" if auth else b"\x05\x01\x00")
                _, m = ft.recv_exact(ctl, 2)
                if m == 0xFF:
                    raise ft.SocksError("no acceptable method")
                if m == 2:
                    u, pw = auth[0].encode(), auth[1].encode()
                    ctl.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(pw)]) + pw)
                    if ft.recv_exact(ctl, 2)[1]:
                        raise ft.SocksError("authentication failed")
                udp = socket.socket(ctl.family, socket.SOCK_DGRAM)
                udp.bind((ctl.getsockname()[0], 0))
                ctl.sendall(b"\x05\x03\x00" + sockaddr(*udp.getsockname()[:2]))
                _, rep, _, atyp = ft.recv_exact(ctl, 4)
                raw = ft.recv_exact(ctl, {1: 4, 4: 16}.get(atyp) or ft.recv_exact(ctl, 1)[0])
                bport = struct.unpack("!H", ft.recv_exact(ctl, 2))[0]
                if rep:
                    udp.close()
                    raise ft.SocksError("UDP ASSOCIATE: SOCKS reply %d" % rep)
                baddr = socket.inet_ntop(socket.AF_INET if atyp == 1 else socket.AF_INET6, raw) \
                    if atyp in (1, 4) else raw.decode()
                if ipaddress.ip_address(baddr).is_unspecified:
                    baddr = host
                ctl.settimeout(None)
            except BaseException:
                ctl.close()
                raise
        except (OSError, ft.SocksError) as e:
            ft.log("info", "UDP association: %s" % e)
            with self.lock:
                a.state = "closed"
                q, a.queue = a.queue, []
                self.maps.pop(a.key, None)
            if BUG != "no-icmp":
                for p, ver, dst, dport, data in q:
                    src = p[12:16] if ver == 4 else p[8:24]
                    self.write(icmp_unreach(ver, p, dst, src))
            return
        a.ctl, a.udp, a.relay = ctl, udp, (baddr, bport)
        with self.lock:
            q, a.queue = a.queue, []
            a.state = "up"
        ft.log("debug", "UDP association up, relay %s port %d" % a.relay)
        if BUG != "drop-first":
            for p, ver, dst, dport, data in q:
                self.send(a, ver, dst, dport, data, p)
        self.relay_loop(a)

    def relay_loop(self, a):
        ver, app, aport = a.key[:3]
        why = "?"
        po = select.poll()
        po.register(a.udp, select.POLLIN)
        po.register(a.ctl, select.POLLIN)
        try:
            while True:
                left = self.timeout - (time.monotonic() - a.last)
                if left <= 0 and BUG != "no-timeout":
                    why = "idle"
                    break
                r = [fd for fd, _ in po.poll(1000 * max(0.05, min(left, 1.0)))]
                if a.ctl.fileno() in r:
                    if not a.ctl.recv(256):
                        why = "proxy closed the control connection"
                        if BUG == "keep-stale":
                            po.unregister(a.ctl)
                            continue
                        break
                if a.udp.fileno() in r:
                    d, _ = a.udp.recvfrom(65536)
                    if len(d) < 10 or d[2] != 0 or d[3] not in (1, 4):
                        continue
                    n = 4 if d[3] == 1 else 16
                    rsrc, rport = d[4:4 + n], struct.unpack("!H", d[4 + n:6 + n])[0]
                    if (n == 4) != (ver == 4):
                        continue
                    rtxt = str(ipaddress.ip_address(rsrc))
                    if BUG == "restricted" and (rtxt, rport) not in a.sent_to:
                        continue
                    data = d[6 + n:]
                    self.count += 1
                    if BUG == "flip" and self.count % 100 == 0 and data:
                        data = bytes([data[0] ^ 1]) + data[1:]
                    a.last = time.monotonic()
                    self.write(udp_packet(ver, rsrc, rport, app, aport, data))
        except OSError as e:
            why = str(e)
        with self.lock:
            a.state = "closed"
            if self.maps.get(a.key) is a:
                del self.maps[a.key]
        ft.log("debug", "UDP association closed: %s" % why)
        a.ctl.close()
        a.udp.close()


def main():
    argv = sys.argv[1:]
    timeout = 60.0
    if "--udp-timeout" in argv:
        i = argv.index("--udp-timeout")
        timeout = float(argv[i + 1])
        del argv[i:i + 2]
    if not any(x == "--mtu" or x.startswith("--mtu=") for x in argv):
        argv += ["--mtu", "65535"]    # the real program's default (the TCP double's is 1500)
    opts = ft.parse_args(argv)
    ft.level = ft.LEVELS[opts["log-level"]]
    name = opts["tun"]
    if "tun-fd" in opts:
        fd = opts["tun-fd"]
    else:
        fd = os.open("/dev/net/tun", os.O_RDWR)
        try:
            ft.fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", name.encode(), 0x0001 | 0x1000) + b"\0" * 22)
        except OSError as e:
            ft.log("error", "cannot open TUN %s: %s" % (name, e))
            return 1
    try:
        if "address" in opts:
            ft.ip("addr", "add", opts["address"], "dev", name, ok_exists=True)
        if "address6" in opts:
            ft.ip("-6", "addr", "add", opts["address6"], "dev", name, "nodad", ok_exists=True)
        ft.ip("link", "set", name, "mtu", str(opts["mtu"]), "up")
    except RuntimeError as e:
        ft.log("error", str(e))
        return 1
    # TCP: the original double, on one end of a packet socketpair.
    inner, outer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fake = ft.Fake(opts, inner.fileno())
    fake.listen()
    threading.Thread(target=fake.packet_loop, daemon=True).start()

    def back():
        while True:
            os.write(fd, outer.recv(65536))

    threading.Thread(target=back, daemon=True).start()
    nat = UdpNat(fake, fd, timeout)

    def loop():
        while True:
            try:
                p = os.read(fd, 65536)
            except OSError:
                return
            if len(p) < 20:
                continue
            proto = p[9] if p[0] >> 4 == 4 else (p[6] if len(p) >= 40 else 0)
            if proto == 17:
                nat.packet(p)
            elif proto == 6:
                outer.send(p)

    threading.Thread(target=loop, daemon=True).start()
    stop = threading.Event()
    ft.signal.signal(ft.signal.SIGTERM, lambda *_: stop.set())
    ft.signal.signal(ft.signal.SIGINT, lambda *_: stop.set())
    ft.log("info", "tun2socks (fake, UDP) up on %s, udp-timeout %gs" % (name, timeout))
    while not stop.wait(1):
        pass
    ft.log("info", "signal received, exiting")
    os.close(fd)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
