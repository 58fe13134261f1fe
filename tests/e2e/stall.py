#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Stalled connections for the memory-budget scenario (t31). One thread, one selector.

  sink     a target that accepts every connection and never reads (small receive
           buffer, so the backlog piles up in front of it, i.e. in tun2socks)
  stall    N connections to a sink, each writing chunks of --min..--max bytes
           (TCP_NODELAY: one segment per write) round-robin until no write has
           gone through for --quiet s; connections refused on the way are counted.
           Then it writes --hold-file ("open O refused R sent B"), waits for
           --go-file and closes every connection with RST.
  slowsink a target that accepts, waits --delay s (or, with --go-file, until that
           file exists, at most 300 s) before reading anything, then reads to EOF
           and answers with the SHA-256 (hex) of what it read; with --out it
           answers nothing and writes "SHA-256 bytes" to that file instead
  probe    one new connection: --expect refused must fail (RST or ICMP) within
           --within s; --expect ok must connect and get SIZE echoed bytes back
           (SHA-256 checked) within --within s.

Exit status 0 = pass; otherwise the last line on stderr says why.
"""
import argparse
import errno
import hashlib
import os
import random
import selectors
import socket
import struct
import sys
import time


def cmd_sink(a):
    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited: no autotuning
    ls.bind((a.bind, a.port))
    ls.listen(4096)
    held = []
    while True:
        c, _ = ls.accept()
        held.append(c)


def cmd_stall(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    sel = selectors.DefaultSelector()
    rnd = random.Random(1)
    chunk = bytes(rnd.getrandbits(8) for _ in range(a.max))
    conns, refused, other, sent = [], 0, [], 0
    t0 = time.monotonic()
    deadline = t0 + a.deadline
    i = 0
    last_progress = time.monotonic()
    pending = 0
    while True:
        now = time.monotonic()
        if now > deadline:
            break
        while i < a.n and pending < a.wave:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            err = s.connect_ex((a.host, a.port))
            if err not in (0, errno.EINPROGRESS):
                other.append(errno.errorcode.get(err, str(err)))
                s.close()
            else:
                sel.register(s, selectors.EVENT_WRITE, ["connecting", s])
                pending += 1
            i += 1
        progress = False
        for key, _ in sel.select(0.2):
            st = key.data
            s = st[1]
            if st[0] == "connecting":
                pending -= 1
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    sel.unregister(s)
                    s.close()
                    if err in (errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH):
                        refused += 1
                    else:
                        other.append(errno.errorcode.get(err, str(err)))
                    continue
                st[0] = "open"
                conns.append(s)
            try:
                n = s.send(chunk[:rnd.randint(a.min, a.max)])
            except BlockingIOError:
                continue
            except OSError as e:
                sel.unregister(s)
                conns.remove(s)
                s.close()
                other.append(errno.errorcode.get(e.errno, str(e.errno)))
                continue
            sent += n
            progress = True
        if progress:
            last_progress = time.monotonic()
        elif i >= a.n and pending == 0 and time.monotonic() - last_progress > a.quiet:
            break
    print("stall: %d open, %d refused, %d other failures %s, %d bytes sent in %.1fs" % (
        len(conns), refused, len(other), sorted(set(other))[:5], sent, time.monotonic() - t0), flush=True)
    if a.hold_file:
        with open(a.hold_file + ".tmp", "w") as f:
            f.write("open %d refused %d sent %d\n" % (len(conns), refused, sent))
        os.rename(a.hold_file + ".tmp", a.hold_file)
        go_deadline = time.monotonic() + 300
        while not os.path.exists(a.go_file):
            if time.monotonic() > go_deadline:
                print("FAIL: no go file within 300 s", file=sys.stderr)
                return 1
            time.sleep(0.05)
    for s in conns:
        s.close()  # SO_LINGER 0: RST
    print("stall: closed %d connections with RST" % len(conns), flush=True)
    return 0 if other == [] else 1


def cmd_slowsink(a):
    import threading

    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind((a.bind, a.port))
    ls.listen(64)

    def serve(c):
        with c:
            if a.go_file:
                go_deadline = time.monotonic() + 300
                while not os.path.exists(a.go_file) and time.monotonic() < go_deadline:
                    time.sleep(0.05)
            else:
                time.sleep(a.delay)
            h, n = hashlib.sha256(), 0
            while True:
                d = c.recv(65536)
                if not d:
                    break
                h.update(d)
                n += len(d)
            if not a.out:
                c.sendall(h.hexdigest().encode())
                return
            with open(a.out + ".tmp", "w") as f:
                f.write("%s %d\n" % (h.hexdigest(), n))
            os.rename(a.out + ".tmp", a.out)

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def cmd_probe(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(a.within)
    t0 = time.monotonic()
    try:
        s.connect((a.host, a.port))
    except (ConnectionRefusedError, ConnectionResetError, OSError) as e:
        dt = time.monotonic() - t0
        if a.expect == "refused" and isinstance(e, (ConnectionRefusedError, ConnectionResetError)):
            print("probe: refused (%s) after %.3fs" % (type(e).__name__, dt))
            return 0
        print("FAIL: connect: %s after %.3fs" % (e, dt), file=sys.stderr)
        return 1
    if a.expect == "refused":
        print("FAIL: connected after %.3fs, expected a refusal" % (time.monotonic() - t0), file=sys.stderr)
        return 1
    data = os.urandom(a.size)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = bytearray()
    while len(got) < len(data):
        d = s.recv(65536)
        if not d:
            break
        got += d
    if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
        print("FAIL: echo of %d bytes differs (%d bytes back)" % (len(data), len(got)), file=sys.stderr)
        return 1
    print("probe: %d bytes echoed and checked in %.3fs" % (len(data), time.monotonic() - t0))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sink")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("stall")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("-n", type=int, required=True)
    p.add_argument("--min", type=int, default=2048)
    p.add_argument("--max", type=int, default=4096)
    p.add_argument("--wave", type=int, default=200)
    p.add_argument("--quiet", type=float, default=3.0)
    p.add_argument("--deadline", type=float, default=120.0)
    p.add_argument("--hold-file")
    p.add_argument("--go-file")
    p = sub.add_parser("slowsink")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--delay", type=float, default=5.0)
    p.add_argument("--go-file")
    p.add_argument("--out")
    p = sub.add_parser("probe")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--expect", choices=("ok", "refused"), required=True)
    p.add_argument("--within", type=float, default=2.0)
    p.add_argument("--size", type=int, default=100000)
    a = ap.parse_args()
    return {"sink": cmd_sink, "stall": cmd_stall, "slowsink": cmd_slowsink,
            "probe": cmd_probe}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
