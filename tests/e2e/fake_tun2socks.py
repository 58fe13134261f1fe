#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test double of tun2socks, used ONLY to validate the e2e harness itself:

    T2S_BIN=tests/e2e/fake_tun2socks.py tests/e2e/run

Same command line, exit statuses and log lines as the real program is
specified to have (see tests/e2e/README.md), but TCP is terminated by the
kernel instead of lwIP: packets read from the TUN are NATed ("system stack")
to a local listener on the TUN address and written back; the listener relays
to a SOCKS5 CONNECT made *before* the client's SYN is let through, so a
refused CONNECT becomes an RST to the SYN (ECONNREFUSED), as the real program
must do. TCP only; it is slow-ish (Python) and not meant for anything else.
"""
import fcntl
import ipaddress
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

VERSION = "0.0-fake"
USAGE = """usage: tun2socks --proxy socks5://[user[:pass]@]host[:port] [options]
  --proxy URL            SOCKS5 server (host: IPv4, [IPv6] or name; port 1080)
  --proxy-auth-file F    first line user:password (or env TUN2SOCKS_PROXY_AUTH)
  --tun NAME             TUN device to create or attach to (default tun0)
  --tun-fd N             use an already open TUN file descriptor
  --mtu N                MTU (576..65535, default 1500)
  --address CIDR         IPv4 address of the TUN device
  --address6 CIDR        IPv6 address of the TUN device
  --connect-timeout SEC  --idle-timeout SEC  --max-flows N
  --log-level error|warn|info|debug
  --help  --version
"""
LEVELS = {"error": 0, "warn": 1, "info": 2, "debug": 3}
level = 2


def log(lvl, msg):
    if LEVELS[lvl] <= level:
        sys.stderr.write("%s %s: %s\n" % (time.strftime("%H:%M:%S"), lvl, msg))
        sys.stderr.flush()


def usage_error(msg):
    sys.stderr.write("tun2socks: %s\n%s" % (msg, USAGE))
    sys.exit(2)


def parse_url(url):
    if not url.startswith("socks5://"):
        usage_error("bad --proxy URL (want socks5://): %r" % url)
    rest = url[len("socks5://"):].rstrip("/")
    user = pw = None
    if "@" in rest:
        cred, rest = rest.rsplit("@", 1)
        user, _, pw = cred.partition(":")
    if rest.startswith("["):
        if "]" not in rest:
            usage_error("bad --proxy URL: unclosed '['")
        host, _, port = rest[1:].partition("]")
        if port and not port.startswith(":"):
            usage_error("bad --proxy URL")
        port = port[1:]
    else:
        host, _, port = rest.partition(":")
    if not host:
        usage_error("bad --proxy URL: no host")
    try:
        port = int(port) if port else 1080
    except ValueError:
        usage_error("bad --proxy URL: port %r" % port)
    if not 0 < port < 65536:
        usage_error("bad --proxy URL: port %d" % port)
    return host, port, user, pw


def parse_args(argv):
    opts = {"tun": "tun0", "mtu": 1500, "log-level": "info", "connect-timeout": 10}
    with_val = {"proxy", "proxy-auth-file", "tun", "tun-fd", "mtu", "address", "address6",
                "connect-timeout", "idle-timeout", "max-flows", "log-level"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--help":
            sys.stdout.write(USAGE)
            sys.exit(0)
        if a == "--version":
            print("tun2socks " + VERSION)
            sys.exit(0)
        if not a.startswith("--"):
            usage_error("unexpected argument %r" % a)
        k, eq, v = a[2:].partition("=")
        if k not in with_val:
            usage_error("unknown option %r" % a)
        if not eq:
            i += 1
            if i >= len(argv):
                usage_error("option %s needs a value" % a)
            v = argv[i]
        opts[k] = v
        i += 1
    if "proxy" not in opts:
        usage_error("--proxy is required")
    for k in ("mtu", "connect-timeout", "idle-timeout", "max-flows", "tun-fd"):
        if k in opts:
            try:
                opts[k] = int(opts[k])
            except ValueError:
                usage_error("--%s: not a number: %r" % (k, opts[k]))
    if not 576 <= opts["mtu"] <= 65535:
        usage_error("--mtu out of range")
    if opts["log-level"] not in LEVELS:
        usage_error("bad --log-level")
    for k in ("address", "address6"):
        if k in opts:
            try:
                ipaddress.ip_interface(opts[k])
            except ValueError:
                usage_error("bad --%s" % k)
    opts["proxy"] = parse_url(opts["proxy"])
    return opts


# ---------------------------------------------------------------- checksums
def csum_add(s, data):
    if len(data) % 2:
        data += b"\0"
    return s + sum(struct.unpack("!%dH" % (len(data) // 2), data))


def csum_fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def csum_adjust(old, old_bytes, new_bytes):
    # RFC 1624: HC' = ~(~HC + ~m + m')
    s = (~old & 0xFFFF)
    s = csum_add(s, bytes(b ^ 0xFF for b in old_bytes))
    s = csum_add(s, new_bytes)
    return ~csum_fold(s) & 0xFFFF


# ---------------------------------------------------------------- SOCKS5
class SocksError(Exception):
    def __init__(self, msg, refused=False):
        super().__init__(msg)
        self.refused = refused


def recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise SocksError("proxy closed the connection during the handshake")
        b += d
    return bytes(b)


def socks_connect(proxy, auth, dst, dport, timeout):
    host, port, _, _ = proxy
    s = socket.create_connection((host, port), timeout)
    try:
        s.sendall(b"\x05\x01\x02" if auth else b"\x05\x01\x00")
        ver, m = recv_exact(s, 2)
        if m == 0xFF:
            raise SocksError("proxy accepts none of our authentication methods")
        if m == 2:
            u, p = auth[0].encode(), auth[1].encode()
            s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
            if recv_exact(s, 2)[1] != 0:
                raise SocksError("authentication failed (proxy rejected user %r)" % auth[0])
        ip = ipaddress.ip_address(dst)
        s.sendall(b"\x05\x01\x00" + (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
                  + struct.pack("!H", dport))
        _, rep, _, atyp = recv_exact(s, 4)
        if rep:
            raise SocksError("CONNECT %s port %d: SOCKS reply %d" % (dst, dport, rep), refused=True)
        recv_exact(s, {1: 4, 4: 16}.get(atyp) or recv_exact(s, 1)[0])
        recv_exact(s, 2)
        s.settimeout(None)
        return s
    except BaseException:
        s.close()
        raise


# ---------------------------------------------------------------- the NAT
class Flow:
    __slots__ = ("key", "fport", "state", "syn", "sock")

    def __init__(self, key, fport):
        self.key, self.fport, self.state, self.syn, self.sock = key, fport, "pending", None, None


class Fake:
    def __init__(self, opts, fd):
        self.o = opts
        self.fd = fd
        self.flows = {}     # (ver, a, sp, t, dp) -> Flow
        self.rev = {}       # (ver, fport) -> Flow
        self.lock = threading.Lock()
        self.next_port = 20000
        a4 = ipaddress.ip_interface(opts.get("address", "198.18.128.1/32")).ip
        a6 = ipaddress.ip_interface(opts.get("address6", "2001:2:0:ff::1/128")).ip
        self.laddr = {4: a4.packed, 6: a6.packed}
        self.fake = {4: (a4 + 1).packed, 6: (a6 + 1).packed}
        self.lport = {}
        self.auth = None
        _, _, u, p = opts["proxy"]
        if u is not None:
            self.auth = (u, p or "")
        elif "proxy-auth-file" in opts:
            with open(opts["proxy-auth-file"]) as f:
                u, _, p = f.readline().rstrip("\r\n").partition(":")
            self.auth = (u, p)
        elif os.environ.get("TUN2SOCKS_PROXY_AUTH"):
            u, _, p = os.environ["TUN2SOCKS_PROXY_AUTH"].partition(":")
            self.auth = (u, p)

    def listen(self):
        for ver, fam in ((4, socket.AF_INET), (6, socket.AF_INET6)):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((socket.inet_ntop(fam, self.laddr[ver]), 0))
            s.listen(4096)
            self.lport[ver] = s.getsockname()[1]
            threading.Thread(target=self.accept_loop, args=(s, ver), daemon=True).start()

    # packet layout helpers: returns (ver, ihl, src, dst, tcp_off) or None
    @staticmethod
    def parse(p):
        if len(p) < 20:
            return None
        ver = p[0] >> 4
        if ver == 4:
            ihl = (p[0] & 15) * 4
            if p[9] != 6 or len(p) < ihl + 20:
                return None
            return 4, p[12:16], p[16:20], ihl
        if ver == 6:
            if len(p) < 60 or p[6] != 6:
                return None
            return 6, p[8:24], p[24:40], 40
        return None

    def rewrite(self, p, ver, toff, src, sport, dst, dport):
        p = bytearray(p)
        if ver == 4:
            old = bytes(p[12:20]) + bytes(p[toff:toff + 4])
            p[12:16], p[16:20] = src, dst
            p[10:12] = b"\0\0"
            p[10:12] = struct.pack("!H", ~csum_fold(csum_add(0, bytes(p[:toff]))) & 0xFFFF)
        else:
            old = bytes(p[8:40]) + bytes(p[toff:toff + 4])
            p[8:24], p[24:40] = src, dst
        p[toff:toff + 4] = struct.pack("!HH", sport, dport)
        new = src + dst + bytes(p[toff:toff + 4])
        ck = struct.unpack("!H", p[toff + 16:toff + 18])[0]
        p[toff + 16:toff + 18] = struct.pack("!H", csum_adjust(ck, old, new))
        return bytes(p)

    def rst_for(self, syn, ver, toff):
        src, dst = (syn[12:16], syn[16:20]) if ver == 4 else (syn[8:24], syn[24:40])
        sport, dport, seq = struct.unpack("!HHI", syn[toff:toff + 8])
        tcp = struct.pack("!HHIIBBHHH", dport, sport, 0, (seq + 1) & 0xFFFFFFFF, 5 << 4, 0x14, 0, 0, 0)
        ph = dst + src + (struct.pack("!BBH", 0, 6, 20) if ver == 4 else struct.pack("!I3xB", 20, 6))
        ck = ~csum_fold(csum_add(0, ph + tcp)) & 0xFFFF
        tcp = tcp[:16] + struct.pack("!H", ck) + tcp[18:]
        if ver == 4:
            ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, dst, src))
            ip[10:12] = struct.pack("!H", ~csum_fold(csum_add(0, bytes(ip))) & 0xFFFF)
            return bytes(ip) + tcp
        return struct.pack("!IHBB16s16s", 6 << 28, 20, 6, 64, dst, src) + tcp

    def packet_loop(self):
        while True:
            try:
                p = os.read(self.fd, 65536)
            except OSError:
                return
            h = self.parse(p)
            if not h:
                continue
            ver, src, dst, toff = h
            sport, dport = struct.unpack("!HH", p[toff:toff + 4])
            flags = p[toff + 13]
            if src == self.laddr[ver] and sport == self.lport[ver] and dst == self.fake[ver]:
                f = self.rev.get((ver, dport))
                if f:
                    _, a, sp, t, dp = f.key
                    os.write(self.fd, self.rewrite(p, ver, toff, t, dp, a, sp))
                continue
            key = (ver, src, sport, dst, dport)
            with self.lock:
                f = self.flows.get(key)
                if f is None or (f.state in ("done", "failed") and flags & 0x12 == 0x02):
                    if flags & 0x12 != 0x02:   # not a SYN: unknown flow
                        continue
                    f = Flow(key, self.alloc_port(ver))
                    self.flows[key] = f
                    self.rev[(ver, f.fport)] = f
                    f.syn = (p, ver, toff)
                    threading.Thread(target=self.open_flow, args=(f,), daemon=True).start()
                    continue
                if f.state == "pending":
                    f.syn = (p, ver, toff)   # keep the latest retransmission
                    continue
                if f.state == "failed":
                    continue
            os.write(self.fd, self.rewrite(p, ver, toff, self.fake[ver], f.fport, self.laddr[ver], self.lport[ver]))

    def alloc_port(self, ver):
        for _ in range(45000):
            port = self.next_port
            self.next_port = 20000 if port >= 64999 else port + 1
            old = self.rev.get((ver, port))
            if old is None or old.state in ("done", "failed"):
                if old is not None:
                    self.flows.pop(old.key, None)
                return port
        raise RuntimeError("NAT ports exhausted")

    def open_flow(self, f):
        ver, a, sp, t, dp = f.key
        fam = socket.AF_INET if ver == 4 else socket.AF_INET6
        tgt = socket.inet_ntop(fam, t)
        try:
            f.sock = socks_connect(self.o["proxy"], self.auth, tgt, dp, self.o["connect-timeout"])
        except (OSError, SocksError) as e:
            log("warn" if isinstance(e, SocksError) and not e.refused else "info",
                "flow to %s port %d: %s" % (tgt, dp, e))
            with self.lock:
                f.state = "failed"
                p, v, toff = f.syn
            os.write(self.fd, self.rst_for(p, v, toff))
            return
        log("debug", "flow to %s port %d: connected" % (tgt, dp))
        with self.lock:
            f.state = "up"
            p, v, toff = f.syn
        os.write(self.fd, self.rewrite(p, v, toff, self.fake[v], f.fport, self.laddr[v], self.lport[v]))

    def accept_loop(self, ls, ver):
        while True:
            c, peer = ls.accept()
            f = self.rev.get((ver, peer[1]))
            if f is None or f.sock is None:
                c.close()
                continue
            threading.Thread(target=self.relay, args=(f, c), daemon=True).start()

    def relay(self, f, c):
        s = f.sock

        def pump(a, b):
            try:
                while True:
                    d = a.recv(262144)
                    if not d:
                        break
                    b.sendall(d)
                b.shutdown(socket.SHUT_WR)
            except OSError:
                for x in (a, b):
                    try:
                        x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        x.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        t = threading.Thread(target=pump, args=(s, c), daemon=True)
        t.start()
        pump(c, s)
        t.join()
        c.close()
        s.close()
        f.state = "done"


def ip(*args, ok_exists=False):
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode and not (ok_exists and ("exists" in r.stderr or "already assigned" in r.stderr)):
        raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr.strip()))


def main():
    global level
    opts = parse_args(sys.argv[1:])
    level = LEVELS[opts["log-level"]]
    name = opts["tun"]
    if "tun-fd" in opts:
        fd = opts["tun-fd"]
    else:
        fd = os.open("/dev/net/tun", os.O_RDWR)
        ifr = struct.pack("16sH", name.encode(), 0x0001 | 0x1000) + b"\0" * 22  # IFF_TUN|IFF_NO_PI
        try:
            fcntl.ioctl(fd, 0x400454CA, ifr)  # TUNSETIFF
        except OSError as e:
            log("error", "cannot open TUN %s: %s" % (name, e))
            return 1
    try:
        if "address" in opts:
            ip("addr", "add", opts["address"], "dev", name, ok_exists=True)
        if "address6" in opts:
            ip("-6", "addr", "add", opts["address6"], "dev", name, "nodad", ok_exists=True)
        ip("link", "set", name, "mtu", str(opts["mtu"]), "up")
    except RuntimeError as e:
        log("error", str(e))
        return 1
    fake = Fake(opts, fd)
    fake.listen()
    threading.Thread(target=fake.packet_loop, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log("info", "tun2socks (fake) up on %s, proxy %s port %d" % (name, opts["proxy"][0], opts["proxy"][1]))
    while not stop.wait(1):
        pass
    log("info", "signal received, exiting")
    os.close(fd)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
