#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Load and resource-exhaustion clients (and an event-driven echo server) for the
tun2socks end-to-end tests. One thread and one selector each, so that 10,000
connections cost 10,000 sockets and not 10,000 threads.

  serve    echo server: every connection gets back what it sends, until EOF
           (with --rst-after N: reset the connection once N bytes came in).
  midstream  one connection echoing chunks without end: after --hold-after bytes
           it writes --hold-file (the test then breaks something); it must end
           with a reset or EOF, never a hang (--stall s without progress).
  fdhold   open N connections one after another and hold them: while tun2socks is
           out of descriptors each new one must be refused within --max-refuse s
           (RST), never hang; then the held ones must echo SIZE bytes correctly;
           after closing them a new connection must work within --recover s.
  many     N concurrent connections (opened in waves of --wave), each sends SIZE
           bytes (seeded per connection) and checks the echo byte for byte; all N
           are open at once before any data moves. --hold-file: when all are open,
           write a line there and wait for --go-file before sending.
  seq      N sequential short connections (send SIZE seeded bytes, check the echo,
           close; every --rst-every-th with RST), for a soak run; prints progress
           every --every connections.

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


class Fail(Exception):
    pass


def body(i, size):
    """SIZE bytes that depend on the connection number i (cheap and checkable)."""
    seed = hashlib.sha256(b"%d" % i).digest()
    reps = size // len(seed) + 1
    return (seed * reps)[:size]


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) and e.errno else type(e).__name__


# ---------------------------------------------------------------- server
def cmd_serve(a):
    sel = selectors.DefaultSelector()
    for b in a.bind:
        fam = socket.AF_INET6 if ":" in b else socket.AF_INET
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((b, a.port))
        ls.listen(4096)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, None)
    pending = {}  # sock -> bytearray still to send back
    seen = {}  # sock -> bytes received (for --rst-after)
    while True:
        for key, ev in sel.select():
            s = key.fileobj
            if key.data is None:
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                c.setblocking(False)
                pending[c] = bytearray()
                sel.register(c, selectors.EVENT_READ, "c")
                continue
            out = pending[s]
            if ev & selectors.EVENT_READ:
                try:
                    d = s.recv(65536)
                except OSError:
                    d = b""
                if d and a.rst_after:
                    seen[s] = seen.get(s, 0) + len(d)
                    if seen[s] >= a.rst_after:
                        sel.unregister(s)
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        s.close()
                        del pending[s], seen[s]
                        continue
                if not d:
                    sel.unregister(s)
                    # flush what is left best-effort, then close
                    try:
                        s.setblocking(True)
                        s.settimeout(5)
                        if out:
                            s.sendall(out)
                    except OSError:
                        pass
                    s.close()
                    del pending[s]
                    continue
                out += d
            if out:
                try:
                    n = s.send(out)
                    del out[:n]
                except BlockingIOError:
                    pass
                except OSError:
                    sel.unregister(s)
                    s.close()
                    del pending[s]
                    continue
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
            if key.events != want:
                sel.modify(s, want, "c")


# ---------------------------------------------------------------- fdhold
def echo_check(s, data, timeout):
    s.settimeout(timeout)
    s.sendall(data)
    got = bytearray()
    while len(got) < len(data):
        d = s.recv(65536)
        if not d:
            break
        got += d
    if bytes(got) != data:
        raise Fail("echo mismatch: %d of %d bytes back" % (len(got), len(data)))


def cmd_fdhold(a):
    held, refused, worst = [], 0, 0.0
    for i in range(a.n):
        s = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET)
        s.settimeout(a.timeout)
        t0 = time.monotonic()
        try:
            s.connect((a.host, a.port))
            held.append(s)
        except (ConnectionRefusedError, ConnectionResetError) as e:
            dt = time.monotonic() - t0
            worst = max(worst, dt)
            refused += 1
            s.close()
            if dt > a.max_refuse:
                raise Fail("connection %d refused only after %.2fs (%s)" % (i, dt, errname(e)))
        except socket.timeout:
            raise Fail("connection %d hung for %.1fs (neither accepted nor refused)" % (i, a.timeout))
    print("fdhold: %d held, %d refused (slowest refusal %.3fs)" % (len(held), refused, worst), flush=True)
    if refused < a.min_refused:
        raise Fail("only %d connections refused, expected at least %d" % (refused, a.min_refused))
    if len(held) < a.min_held:
        raise Fail("only %d connections held, expected at least %d" % (len(held), a.min_held))
    for probe in a.udp_probe or []:
        # A new UDP flow (or a DNS query sent over TCP) needs descriptors too: ICMP
        # port unreachable, promptly.
        host, port = probe.rsplit(":", 1)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(a.max_refuse + 1)
        u.connect((host, int(port)))
        t0 = time.monotonic()
        try:
            u.send(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x03e2e\x04test\x00\x00\x01\x00\x01")
            u.recv(2048)
            raise Fail("UDP datagram to %s was answered while tun2socks had no descriptors" % probe)
        except ConnectionRefusedError:
            print("fdhold: UDP to %s refused with ICMP in %.3fs" % (probe, time.monotonic() - t0), flush=True)
        except socket.timeout:
            raise Fail("UDP datagram to %s neither answered nor refused" % probe)
        finally:
            u.close()
    if a.hold_file:
        with open(a.hold_file, "w") as f:
            f.write("held %d\n" % len(held))
        deadline = time.monotonic() + a.timeout * 4
        while not os.path.exists(a.go_file):
            if time.monotonic() > deadline:
                raise Fail("no go file")
            time.sleep(0.05)
    for i, s in enumerate(held):
        echo_check(s, body(i, a.size), a.timeout)
    print("fdhold: %d held connections echoed %d bytes each" % (len(held), a.size), flush=True)
    for s in held:
        s.close()
    deadline = time.monotonic() + a.recover
    tries = 0
    while True:
        tries += 1
        try:
            s = socket.create_connection((a.host, a.port), a.timeout)
            echo_check(s, body(-1, a.size), a.timeout)
            s.close()
            break
        except (ConnectionRefusedError, ConnectionResetError):
            if time.monotonic() > deadline:
                raise Fail("no new connection within %.1fs of closing the held ones" % a.recover)
            time.sleep(0.1)
    print("fdhold: new connection works again (attempt %d)" % tries, flush=True)


# ---------------------------------------------------------------- midstream
def cmd_midstream(a):
    s = socket.create_connection((a.host, a.port), a.timeout)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    chunk = body(7, 65536)
    sent = got = 0
    held = False
    last = time.monotonic()
    outcome = None
    while outcome is None:
        events = sel.select(0.2)
        if not events and time.monotonic() - last > a.stall:
            outcome = "hang"
            break
        for _, ev in events:
            try:
                if ev & selectors.EVENT_READ:
                    d = s.recv(65536)
                    if not d:
                        outcome = "eof"
                        break
                    off = got % 65536
                    want = (chunk[off:] + chunk * (len(d) // 65536 + 1))[:len(d)]
                    if d != want:
                        raise Fail("echo content differs at byte %d" % got)
                    got += len(d)
                    last = time.monotonic()
                if ev & selectors.EVENT_WRITE and sent - got < 1 << 20:
                    off = sent % 65536
                    sent += s.send(chunk[off:])
            except BlockingIOError:
                pass
            except OSError as e:
                outcome = errname(e)
                break
        if not held and got >= a.hold_after:
            held = True
            with open(a.hold_file, "w") as f:
                f.write("echoed %d\n" % got)
    dt = time.monotonic() - last
    print("midstream: %s after %d bytes echoed, %.2fs after the last progress" % (outcome, got, dt), flush=True)
    if not held:
        raise Fail("broke (%s) before --hold-after" % outcome)
    if outcome == "hang":
        raise Fail("no reset or EOF within %.1fs of the last byte" % a.stall)
    if dt > a.max:
        raise Fail("the application saw the end only %.2fs after the last byte" % dt)


# ---------------------------------------------------------------- many
class Conn:
    __slots__ = ("i", "s", "data", "sent", "got", "state", "t0")


def cmd_many(a):
    sel = selectors.DefaultSelector()
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    conns, opened, failures = [], 0, []
    deadline = time.monotonic() + a.deadline
    t0 = time.monotonic()

    def connecting():
        return sum(1 for c in conns if c.state == "connecting")

    # Phase 1: open all N (at most --wave handshakes in flight at once).
    i = 0
    while opened + len(failures) < a.n:
        while i < a.n and connecting() < a.wave:
            c = Conn()
            c.i, c.state, c.t0 = i, "connecting", time.monotonic()
            c.s = socket.socket(fam, socket.SOCK_STREAM)
            c.s.setblocking(False)
            err = c.s.connect_ex((a.host, a.port))
            if err not in (0, errno.EINPROGRESS):
                failures.append((i, errno.errorcode.get(err, str(err))))
                c.s.close()
            else:
                conns.append(c)
                sel.register(c.s, selectors.EVENT_WRITE, c)
            i += 1
        for key, _ in sel.select(0.5):
            c = key.data
            sel.unregister(c.s)
            err = c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                failures.append((c.i, errno.errorcode.get(err, str(err))))
                c.s.close()
                c.state = "failed"
            else:
                c.state = "open"
                opened += 1
        if time.monotonic() > deadline:
            raise Fail("only %d of %d connections open after %.0fs" % (opened, a.n, a.deadline))
        if failures:
            raise Fail("%d connections failed to open, e.g. #%d: %s" % (len(failures), *failures[0]))
    t_open = time.monotonic() - t0
    print("many: %d connections open at once after %.2fs" % (opened, t_open), flush=True)
    if a.hold_file:
        with open(a.hold_file, "w") as f:
            f.write("open %d\n" % opened)
        go_deadline = time.monotonic() + 60
        while not os.path.exists(a.go_file):
            if time.monotonic() > go_deadline:
                raise Fail("no go file within 60 s")
            time.sleep(0.05)

    # Phase 2: every connection sends its body and reads the echo.
    live = [c for c in conns if c.state == "open"]
    for c in live:
        c.data = body(c.i, a.size)
        c.sent, c.got = 0, bytearray()
        sel.register(c.s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    done = 0
    t1 = time.monotonic()
    while done < len(live):
        if time.monotonic() > deadline:
            raise Fail("only %d of %d echoes complete after %.0fs" % (done, len(live), a.deadline))
        for key, ev in sel.select(0.5):
            c = key.data
            try:
                if ev & selectors.EVENT_WRITE and c.sent < len(c.data):
                    c.sent += c.s.send(c.data[c.sent:c.sent + 65536])
                    if c.sent == len(c.data):
                        sel.modify(c.s, selectors.EVENT_READ, c)
                if ev & selectors.EVENT_READ:
                    d = c.s.recv(65536)
                    if not d:
                        raise Fail("connection %d: EOF after %d of %d bytes" % (c.i, len(c.got), len(c.data)))
                    c.got += d
                    if len(c.got) >= len(c.data):
                        if bytes(c.got) != c.data:
                            raise Fail("connection %d: echo differs" % c.i)
                        sel.unregister(c.s)
                        c.s.close()
                        done += 1
            except OSError as e:
                raise Fail("connection %d: %s" % (c.i, errname(e)))
    dt = time.monotonic() - t1
    print("many: %d/%d echoed %d bytes each, checked, in %.2fs (total %.2fs)" % (
        done, a.n, a.size, dt, time.monotonic() - t0), flush=True)


# ---------------------------------------------------------------- seq
def cmd_seq(a):
    t0 = time.monotonic()
    last = t0
    for i in range(a.n):
        if time.monotonic() - t0 > a.deadline:
            raise Fail("deadline: %d of %d connections in %.0fs" % (i, a.n, a.deadline))
        data = body(i, a.size)
        tries = 0
        while True:
            try:
                s = socket.create_connection((a.host, a.port), a.timeout)
                echo_check(s, data, a.timeout)
                if a.rst_every and i % a.rst_every == 0:
                    # an abortive close (RST) now and then exercises the other teardown
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                break
            except (OSError, Fail) as e:
                tries += 1
                if tries > a.retries:
                    raise Fail("connection %d: %s" % (i, errname(e) if isinstance(e, OSError) else e))
        if a.every and (i + 1) % a.every == 0:
            now = time.monotonic()
            print("seq: %d done, %.0f conn/s" % (i + 1, a.every / (now - last)), flush=True)
            last = now
    dt = time.monotonic() - t0
    print("seq: %d connections, %d bytes each echoed and checked, in %.1fs (%.0f/s)" % (
        a.n, a.size, dt, a.n / dt), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--bind", action="append", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rst-after", type=int, default=0)
    p = sub.add_parser("midstream")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--hold-after", type=int, default=1 << 20)
    p.add_argument("--hold-file", required=True)
    p.add_argument("--stall", type=float, default=15.0)
    p.add_argument("--max", type=float, default=5.0)
    for name in ("fdhold", "many", "seq"):
        p = sub.add_parser(name)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("-n", type=int, required=True)
        p.add_argument("--size", type=int, default=1024)
        p.add_argument("--timeout", type=float, default=10.0)
        p.add_argument("--hold-file")
        p.add_argument("--go-file")
        if name == "fdhold":
            p.add_argument("--max-refuse", type=float, default=2.0)
            p.add_argument("--min-refused", type=int, default=1)
            p.add_argument("--min-held", type=int, default=1)
            p.add_argument("--recover", type=float, default=10.0)
            p.add_argument("--udp-probe", action="append", metavar="HOST:PORT")
        if name == "many":
            p.add_argument("--wave", type=int, default=500)
            p.add_argument("--deadline", type=float, default=120.0)
        if name == "seq":
            p.add_argument("--every", type=int, default=0)
            p.add_argument("--deadline", type=float, default=3600.0)
            p.add_argument("--retries", type=int, default=0)
            p.add_argument("--rst-every", type=int, default=0)
    a = ap.parse_args()
    try:
        {"serve": cmd_serve, "midstream": cmd_midstream, "fdhold": cmd_fdhold, "many": cmd_many, "seq": cmd_seq}[a.cmd](a)
    except Fail as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
