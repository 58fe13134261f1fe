#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""UDP clients for the tun2socks end-to-end tests (peer: udp_echo.py).

Normally runs in the client namespace with plain UDP sockets, so the datagrams
are captured by the TUN. With --socks5 HOST:PORT each socket makes its own
SOCKS5 UDP ASSOCIATE and sends encapsulated datagrams to the relay, which
validates the harness (danted's UDP relay, the echo server, these checks)
without tun2socks; in that mode "ECONNREFUSED" means the association failed
(proxy unreachable or a non-zero SOCKS reply).

A datagram is resent up to 3 times (--tries 4 sends in all), 1 s apart
(--rto), before it counts as lost; any loss, a reply with different bytes or
from an unexpected source address fails the run. Exit status 0 = pass;
otherwise the last line on stderr says why.

  echo      N sockets (distinct source ports, all active at once) each send K
            datagrams of SIZE random bytes one after the other and check every
            echo byte for byte and its source (the target address and port).
  fullcone  one unconnected socket: an echo, then b"OTHERPORT ..." and
            b"OTHERADDR ..." requests; the answers must arrive on the same
            socket from --other-port and from --other-addr respectively, as
            reported by recvfrom (endpoint-independent mapping); then echoes
            sent to those two endpoints directly and to the first again.
  refused   connected socket: send one datagram; recv must fail with
            ECONNREFUSED (an ICMP port unreachable) within MAX s.
  reuse     connected socket: ROUNDS echoes from the same socket with IDLE s
            of silence between them (or, with --pause-file F: create F.ready,
            then wait until F exists, at most PAUSE_MAX s).
"""
import argparse
import errno
import heapq
import ipaddress
import os
import resource
import selectors
import socket
import struct
import sys
import time


class Fail(Exception):
    pass


def errstr(e):
    return "%s: %s" % (type(e).__name__, e)


def norm(addr):
    """Canonical text form of an address (so 2001:2:0:2::10 == 2001:2:0:2:0:0:0:10)."""
    return str(ipaddress.ip_address(addr.split("%")[0]))


def fam_of(addr):
    return socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET


def hostport(v):
    if v.startswith("["):
        h, _, p = v[1:].partition("]:")
    else:
        h, _, p = v.rpartition(":")
    return h, int(p)


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


# ---------------------------------------------------------------- SOCKS5 UDP
def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "proxy closed the control connection")
        buf += d
    return bytes(buf)


def sockaddr(atyp_addr_port):
    ip = ipaddress.ip_address(atyp_addr_port[0])
    return (b"\x01" if ip.version == 4 else b"\x04") + ip.packed + struct.pack("!H", atyp_addr_port[1])


def parse_addr(b, off):
    """-> ((addr, port), next offset) for ATYP at b[off]."""
    atyp = b[off]
    if atyp == 1:
        a, off = socket.inet_ntop(socket.AF_INET, b[off + 1:off + 5]), off + 5
    elif atyp == 4:
        a, off = socket.inet_ntop(socket.AF_INET6, b[off + 1:off + 17]), off + 17
    elif atyp == 3:
        n = b[off + 1]
        a, off = b[off + 2:off + 2 + n].decode(), off + 2 + n
    else:
        raise ValueError("bad ATYP %d" % atyp)
    return (a, struct.unpack("!H", b[off:off + 2])[0]), off + 2


class Flow:
    """One UDP socket of the application, plain or through an explicit SOCKS5
    association. send_to()/recv_from() speak in target addresses either way."""

    def __init__(self, fam, socks5=None, timeout=5.0, auth=None, sport=0):
        self.ctl = None
        self.relay = None
        if socks5:
            px = hostport(socks5)
            try:
                self.ctl = socket.create_connection(px, timeout)
                self.ctl.settimeout(timeout)
                self.ctl.sendall(b"\x05\x01\x02" if auth else b"\x05\x01\x00")
                ver, m = recv_exact(self.ctl, 2)
                if ver != 5 or m not in (0, 2 if auth else 0):
                    raise ConnectionRefusedError(errno.ECONNREFUSED, "SOCKS5 method %d refused" % m)
                if m == 2:
                    u, p = auth[0].encode(), auth[1].encode()
                    self.ctl.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
                    if recv_exact(self.ctl, 2)[1] != 0:
                        raise ConnectionRefusedError(errno.ECONNREFUSED, "SOCKS5 authentication failed")
                local = self.ctl.getsockname()[0]
                self.sock = socket.socket(self.ctl.family, socket.SOCK_DGRAM)
                self.sock.bind((local, 0))
                me = self.sock.getsockname()
                self.ctl.sendall(b"\x05\x03\x00" + sockaddr(me[:2]))
                _, rep, _ = recv_exact(self.ctl, 3)
                hdr = recv_exact(self.ctl, 1)
                atyp = hdr[0]
                rest = recv_exact(self.ctl, {1: 6, 4: 18}.get(atyp) or (recv_exact(self.ctl, 1)[0] + 2))
                if rep != 0:
                    raise ConnectionRefusedError(errno.ECONNREFUSED, "SOCKS5 UDP ASSOCIATE reply %d" % rep)
                (baddr, bport), _ = parse_addr(hdr + rest, 0)
                if ipaddress.ip_address(baddr).is_unspecified:
                    baddr = px[0]
                self.relay = (baddr, bport)
            except BaseException:
                self.close()
                raise
        else:
            self.sock = socket.socket(fam, socket.SOCK_DGRAM)
            self.sock.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
        self.sock.setblocking(False)

    def fileno(self):
        return self.sock.fileno()

    def send_to(self, data, dst):
        if self.relay:
            self.sock.sendto(b"\0\0\0" + sockaddr(dst) + data, self.relay)
        else:
            self.sock.sendto(data, dst)

    def recv_from(self):
        """-> (data, (addr, port)) or raises BlockingIOError."""
        data, src = self.sock.recvfrom(65536)
        if self.relay:
            if len(data) < 10 or data[2] != 0:
                raise Fail("malformed SOCKS5 UDP datagram from the relay: %r" % data[:24])
            src, off = parse_addr(data, 3)
            data = data[off:]
        return data, (norm(src[0]), src[1])

    def close(self):
        for s in (getattr(self, "sock", None), self.ctl):
            if s is not None:
                s.close()


def make_flow(a, fam):
    auth = (a.socks_user, a.socks_pass or "") if a.socks_user is not None else None
    return Flow(fam, a.socks5, timeout=a.timeout, auth=auth, sport=getattr(a, "sport", 0))


def wait_readable(sock, t):
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    try:
        return bool(sel.select(max(t, 0)))
    finally:
        sel.close()


# exchange FLOW DATA DST WANT_SRC: send DATA to DST until DATA comes back from
# WANT_SRC (resending every --rto s, --tries sends in all). Returns the number
# of resends. Replies from another source or with other bytes are collected and
# reported if the exchange fails.
def exchange(a, flow, data, dst, want_src, expect=None, what="echo"):
    expect = data if expect is None else expect
    want_src = (norm(want_src[0]), want_src[1])
    stray = []
    for attempt in range(a.tries):
        flow.send_to(data, dst)
        deadline = time.monotonic() + a.rto
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not wait_readable(flow.sock, left):
                break
            try:
                got, src = flow.recv_from()
            except BlockingIOError:
                continue
            if got == expect and src == want_src:
                return attempt
            if got.startswith(b"NOALT "):
                raise Fail("%s: the echo server has no alternative socket for %r (check --other-port/"
                           "--other-addr of udp_echo.py)" % (what, data[:10]))
            stray.append((src, got[:40]))
    extra = ""
    if stray:
        extra = "; instead got %d datagram(s), e.g. %s from %s" % (len(stray), stray[0][1], stray[0][0])
    raise Fail("%s: no reply from %s port %d after %d sends %.1f s apart%s"
               % (what, want_src[0], want_src[1], a.tries, a.rto, extra))


# ---------------------------------------------------------------- modes
def cmd_echo(a):
    n, k, size = a.n, a.count, a.size
    dst = (a.host, a.port)
    want_src = (norm(a.host), a.port)
    fam = fam_of(a.host)
    raise_nofile(2 * n + 64)
    flows = []
    t0 = time.monotonic()
    try:
        for _ in range(n):
            flows.append(make_flow(a, fam))
    except OSError as e:
        for f in flows:
            f.close()
        raise Fail("could not open flow %d of %d: %s" % (len(flows) + 1, n, errstr(e)))
    ports = {f.sock.getsockname()[1] for f in flows}
    if len(ports) != n:
        raise Fail("only %d distinct source ports for %d flows" % (len(ports), n))

    sel = selectors.DefaultSelector()
    state = []          # per flow: [seq, payload, sends, old payloads]
    timers = []         # heap of (deadline, flow index, seq, sends)
    resends = 0
    done = 0
    for i, f in enumerate(flows):
        sel.register(f.sock, selectors.EVENT_READ, i)
        state.append([0, os.urandom(size), 0, set()])

    def send(i):
        st = state[i]
        flows[i].send_to(st[1], dst)
        st[2] += 1
        heapq.heappush(timers, (time.monotonic() + a.rto, i, st[0], st[2]))

    try:
        for i in range(n):
            send(i)
        while done < n:
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                _, i, seq, sends = heapq.heappop(timers)
                st = state[i]
                if st[0] != seq or st[2] != sends or st[0] >= k:
                    continue    # answered (or resent) since
                if sends >= a.tries:
                    raise Fail("flow %d (source port %d): datagram %d of %d (%d bytes) lost: no echo after "
                               "%d sends %.1f s apart; %d of %d flows complete"
                               % (i, flows[i].sock.getsockname()[1], seq + 1, k, size, sends, a.rto, done, n))
                resends += 1
                send(i)
            timeout = max(0.0, timers[0][0] - time.monotonic()) if timers else 1.0
            for key, _ in sel.select(timeout):
                i = key.data
                f, st = flows[i], state[i]
                while True:
                    try:
                        got, src = f.recv_from()
                    except BlockingIOError:
                        break
                    except ConnectionRefusedError:
                        raise Fail("flow %d: ECONNREFUSED (ICMP port unreachable) while echoing" % i)
                    if src != want_src:
                        raise Fail("flow %d: reply from %s port %d, expected %s port %d"
                                   % (i, src[0], src[1], want_src[0], want_src[1]))
                    if st[0] < k and got == st[1]:
                        st[3].add(got)
                        st[0] += 1
                        if st[0] == k:
                            done += 1
                        else:
                            st[1] = os.urandom(size)
                            st[2] = 0
                            send(i)
                    elif got in st[3]:
                        continue    # late duplicate of a resent datagram
                    else:
                        raise Fail("flow %d: echo of datagram %d differs from what was sent (%d bytes back, "
                                   "%d sent)%s" % (i, st[0] + 1, len(got), size,
                                                   "" if len(got) != size else ", content differs"))
    finally:
        sel.close()
        for f in flows:
            f.close()
    dt = time.monotonic() - t0
    print("echo: %d flows x %d datagrams of %d bytes to %s port %d ok in %.2fs, %d resends"
          % (n, k, size, a.host, a.port, dt, resends))
    if a.max_resends is not None and resends > a.max_resends:
        raise Fail("%d datagrams had to be resent (limit %d)" % (resends, a.max_resends))


def cmd_fullcone(a):
    fam = fam_of(a.host)
    if fam_of(a.other_addr) != fam:
        raise Fail("--other-addr %s is not of the family of --host %s" % (a.other_addr, a.host))
    f = make_flow(a, fam)
    tok = os.urandom(6).hex().encode()
    dst = (a.host, a.port)
    r = 0
    try:
        r += exchange(a, f, b"HELLO " + tok, dst, dst, what="plain echo")
        r += exchange(a, f, b"OTHERPORT " + tok, dst, (a.host, a.other_port),
                      what="reply from another port (%d)" % a.other_port)
        r += exchange(a, f, b"OTHERADDR " + tok, dst, (a.other_addr, a.port),
                      what="reply from another address (%s)" % a.other_addr)
        # Now talk to those endpoints directly from the same socket (same
        # source endpoint: still one association), then to the first again.
        r += exchange(a, f, b"DIRECT " + tok, (a.host, a.other_port), (a.host, a.other_port),
                      what="echo sent to the other port")
        r += exchange(a, f, b"DIRECT " + tok, (a.other_addr, a.port), (a.other_addr, a.port),
                      what="echo sent to the other address")
        r += exchange(a, f, b"AGAIN " + tok, dst, dst, what="echo after the cone replies")
    finally:
        f.close()
    print("fullcone: replies from %s port %d, %s port %d and %s port %d all reached one socket, then "
          "echoes with each of them (%d resends)" % (a.host, a.port, a.host, a.other_port, a.other_addr, a.port, r))


def cmd_refused(a):
    fam = fam_of(a.host)
    t0 = time.monotonic()
    if a.socks5:
        try:
            f = make_flow(a, fam)
        except ConnectionRefusedError as e:
            print("refused: association failed after %.3fs (%s)" % (time.monotonic() - t0, e))
            return
        f.close()
        raise Fail("the SOCKS5 UDP association succeeded")
    s = socket.socket(fam, socket.SOCK_DGRAM)
    with s:
        s.connect((a.host, a.port))
        s.settimeout(a.max)
        t0 = time.monotonic()
        s.send(b"REFUSED probe " + os.urandom(8).hex().encode())
        try:
            d = s.recv(65536)
        except ConnectionRefusedError:
            dt = time.monotonic() - t0
            if dt > a.max:
                raise Fail("ECONNREFUSED but only after %.2fs (limit %ss)" % (dt, a.max))
            print("refused: ECONNREFUSED after %.3fs" % dt)
            return
        except (socket.timeout, TimeoutError):
            raise Fail("silence: no ICMP port unreachable (ECONNREFUSED) within %.1f s" % a.max)
        except OSError as e:
            raise Fail("expected ECONNREFUSED, got %s after %.2fs" % (errstr(e), time.monotonic() - t0))
        raise Fail("expected ECONNREFUSED, got a %d-byte reply %r" % (len(d), d[:40]))


def cmd_reuse(a):
    fam = fam_of(a.host)
    dst = (a.host, a.port)
    if a.socks5:
        f = make_flow(a, fam)
    else:
        f = Flow(fam)
        f.sock.connect(dst)   # an ICMP error would surface as ECONNREFUSED
    resends = []
    try:
        sport = f.sock.getsockname()[1]
        for rnd in range(a.rounds):
            if rnd:
                if a.pause_file:
                    # Paused by the scenario: tell it, wait for its go (bounded).
                    open(a.pause_file + ".ready", "w").close()
                    deadline = time.monotonic() + a.pause_max
                    while not os.path.exists(a.pause_file):
                        if time.monotonic() > deadline:
                            raise Fail("no go (%s) within %.0f s" % (a.pause_file, a.pause_max))
                        time.sleep(0.05)
                else:
                    time.sleep(a.idle)    # the idle period under test, not a readiness wait
            if f.sock.getsockname()[1] != sport:
                raise Fail("source port changed")
            t0 = time.monotonic()
            try:
                resends.append(exchange(a, f, b"REUSE-%d " % rnd + os.urandom(16).hex().encode(), dst, dst,
                                        what="echo #%d%s" % (rnd + 1, " after a pause" if rnd else "")))
            except ConnectionRefusedError:
                raise Fail("echo #%d: ECONNREFUSED (ICMP port unreachable) on the reused socket" % (rnd + 1))
            last = time.monotonic() - t0
    finally:
        f.close()
    pause = "paused until %s" % a.pause_file if a.pause_file else "%.1f s idle" % a.idle
    print("reuse: %d echoes from source port %d, %s between them, ok (last one in %.3fs; resends %s)"
          % (a.rounds, sport, pause, last, resends))
    if a.max_resends is not None and sum(resends) > a.max_resends:
        raise Fail("%d datagrams had to be resent (limit %d)" % (sum(resends), a.max_resends))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socks5", help="HOST:PORT of a SOCKS5 proxy to use explicitly (UDP ASSOCIATE)")
    ap.add_argument("--socks-user")
    ap.add_argument("--socks-pass")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, **kw):
        p = sub.add_parser(name)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--timeout", type=float, default=5.0, help="SOCKS5 control connection timeout")
        p.add_argument("--tries", type=int, default=4, help="sends per datagram before it counts as lost")
        p.add_argument("--rto", type=float, default=1.0, help="seconds between resends")
        p.add_argument("--max-resends", type=int, default=None)
        for k, v in kw.items():
            flags = ("-n", "--n") if k == "n" else ("--" + k.replace("_", "-"),)
            p.add_argument(*flags, type=type(v) if v is not None else str, default=v)
        return p

    add("echo", n=10, count=5, size=1200)
    add("fullcone", other_port=7201, other_addr=None, sport=0)
    add("refused", max=2.0)
    add("reuse", idle=2.0, rounds=2, pause_file=None, pause_max=60.0)
    a = ap.parse_args()
    if a.cmd == "fullcone" and not a.other_addr:
        ap.error("fullcone needs --other-addr")
    try:
        globals()["cmd_" + a.cmd](a)
    except Fail as e:
        print("FAIL: %s: %s" % (a.cmd, e), file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001
        print("FAIL: %s: unexpected %s" % (a.cmd, errstr(e)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
