#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Many short HTTP connections, each body checked by SHA-256, each 4-tuple reused.

  shortconn.py --host H --port P --path /f.bin --sha256 HEX -n N --conc C
               --sport-base PORT [--timeout S] [--deadline S] [--until FILE]

Client c (0 <= c < C) binds source port PORT + c for every one of its connections,
(0: ports the kernel picks) so each 4-tuple is reused about N / C times, back to back: the server closes first
(Connection: close), so this side, the passive closer, keeps no TIME_WAIT and the
next connect reuses the tuple at once (while a socket still in LAST_ACK holds it,
connect fails with EADDRNOTAVAIL: retried within the deadline, counted).
A connection counts only when the whole body arrived and its SHA-256 matches; a
reset or a short body is a failure. With --until, clients stop once FILE exists
(or at the deadline), -n being a cap: background churn for another test phase.
Prints one summary line (with the spread of the connections' times, connect to last
byte, and how many took over 1 s and over 3 s: figures, never asserted); exit status 1
on any failure.
"""
import os
import argparse
import errno
import hashlib
import socket
import sys
import threading
import time


def one(a, sport):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    stage, buf, t0 = "bind", bytearray(), time.monotonic()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(a.timeout)
        if sport:
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
        stage = "connect"
        s.connect((a.host, a.port))
        stage = "request"
        host = "[%s]" % a.host if fam == socket.AF_INET6 else a.host
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (a.path, host)).encode())
        stage = "reply"
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except socket.timeout as e:
        raise RuntimeError("timed out in %s after %.1f s, %d bytes received, local %s" % (
            stage, time.monotonic() - t0, len(buf), s.getsockname()[:2])) from e
    finally:
        s.close()
    head, sep, body = bytes(buf).partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("bad reply head: %r" % head[:80])
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    if length != len(body):
        raise RuntimeError("short body: %d of %s bytes" % (len(body), length))
    if hashlib.sha256(body).hexdigest() != a.sha256:
        raise RuntimeError("sha256 mismatch (%d bytes)" % len(body))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--sha256", required=True)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--conc", type=int, default=8)
    ap.add_argument("--sport-base", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--deadline", type=float, default=120.0)
    ap.add_argument("--until")
    a = ap.parse_args()
    if not (1 <= a.conc <= 256 and 1 <= a.n <= 100000 and (a.sport_base == 0 or 1024 <= a.sport_base <= 65535 - a.conc)):
        print("shortconn: bad -n/--conc/--sport-base", file=sys.stderr)
        return 2

    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "busy_retries": 0}
    times = []
    errors = []
    t0 = time.monotonic()
    deadline = t0 + a.deadline

    def worker(c):
        while True:
            with lock:
                if state["next"] >= a.n or errors:
                    return
                if a.until and (os.path.exists(a.until) or time.monotonic() > deadline):
                    return
                i = state["next"]
                state["next"] += 1
            while True:
                if time.monotonic() > deadline:
                    with lock:
                        errors.append("connection %d: deadline of %.0f s passed" % (i, a.deadline))
                    return
                try:
                    t1 = time.monotonic()
                    one(a, a.sport_base + c if a.sport_base else 0)
                    with lock:
                        times.append(time.monotonic() - t1)
                    break
                except OSError as e:
                    if e.errno in (errno.EADDRNOTAVAIL, errno.EADDRINUSE):
                        # The previous connection on this tuple is still in LAST_ACK.
                        with lock:
                            state["busy_retries"] += 1
                        time.sleep(0.05)
                        continue
                    with lock:
                        errors.append("connection %d (sport %d): %s: %s" % (i, a.sport_base + c, type(e).__name__, e))
                    return
                except RuntimeError as e:
                    with lock:
                        errors.append("connection %d (sport %d): %s" % (i, a.sport_base + c, e))
                    return
            with lock:
                state["ok"] += 1

    ts = [threading.Thread(target=worker, args=(c,), daemon=True) for c in range(a.conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(a.deadline + a.timeout + 5)
    dt = time.monotonic() - t0
    reuse = ("%d tuples each reused ~%d times" % (a.conc, state["next"] // a.conc) if a.sport_base
             else "ports the kernel picked")
    times.sort()
    spread = ""
    if times:
        spread = ", per connection median %.3f s, p99 %.3f s, max %.3f s, %d over 1 s, %d over 3 s" % (
            times[len(times) // 2], times[min(len(times) - 1, len(times) * 99 // 100)], times[-1],
            sum(t > 1 for t in times), sum(t > 3 for t in times))
    print("shortconn: %d/%d ok (sha256), %s, %d waits for a tuple in LAST_ACK, %.1f s%s" % (
        state["ok"], state["next"], reuse, state["busy_retries"], dt, spread))
    for e in errors[:5]:
        print("  " + e, file=sys.stderr)
    return 0 if state["ok"] == state["next"] and (a.until or state["ok"] == a.n) and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
