#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""TCP target services for the tun2socks end-to-end tests.

One thread per connection; every service listens on every --bind address
(IPv4 and IPv6). Services, each on its own port:

  --echo PORT  raw echo: send back every byte until EOF, then close.
  --line PORT  line echo: echo each line; a line starting with b"CLOSE" is
               echoed and then the server closes first (the client must then
               see EOF). Otherwise the server closes after the client's EOF.
  --half PORT  client half-close: request "HC <bodylen> <seed>\\n" followed by
               data until the client's FIN. After EOF the server replies
               "SHA256 <hex> <nbytes>\\n" (digest of the data after the header)
               followed by <bodylen> bytes of random.Random(seed).randbytes().
  --rev PORT   server half-close: request "RC <token> <bodylen> <seed>\\n": the
               server sends <bodylen> bytes of random.Random(seed).randbytes(),
               shuts down its write side, and keeps reading until the client's
               EOF; it then records "<nbytes> <sha256>" of what it read under
               <token> (also logged as "REV <token> <nbytes> <sha256>").
               Request "Q <token>\\n" waits (up to 30 s) for that record and
               replies "<nbytes> <sha256>\\n" (or "NONE\\n").
  --order PORT close orders with a slow reader. Request "CO <token> <mode>
               <bodylen> <seed> <rate> [<resetafter>]\\n". The server reads at
               most <rate> bytes/s (0: no limit) until the client's EOF or an
               error, and records "<nbytes> <sha256>" (after ECONNRESET:
               "RESET <nbytes> <sha256>") under <token>, as --rev does (same
               "Q <token>" query, on this port too). It sends <bodylen> bytes of
               random.Random(seed).randbytes() and shuts down its write side:
                 server  at once, before reading;
                 client  when "GO <token>\\n" arrives on another connection to
                         this port (answered "OK\\n"): the client decides when;
                 reset   never: after reading <resetafter> bytes (having sent
                         the body first) it resets the connection (SO_LINGER 0)
                         and also records "TRESET <unix time>" under <token>.r.

Logs one line per connection error to stderr; "READY" once listening.
"""
import argparse
import hashlib
import random
import selectors
import socket
import struct
import sys
import threading
import time

BUF = 1 << 20
records = {}
records_cv = threading.Condition()


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def read_line(conn, limit=4096):
    """Read one header line byte-exactly (nothing after the newline is consumed)."""
    buf = bytearray()
    while len(buf) < limit:
        b = conn.recv(1)
        if not b:
            break
        buf += b
        if b == b"\n":
            break
    return bytes(buf)


def svc_echo(conn):
    while True:
        data = conn.recv(BUF)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def svc_line(conn):
    f = conn.makefile("rb", buffering=65536)
    while True:
        line = f.readline(65536)
        if not line:
            break
        conn.sendall(line)
        if line.startswith(b"CLOSE"):
            return  # caller closes: the server closes first
    # client closed first: we close after its EOF


def body_bytes(n, seed):
    return random.Random(seed).randbytes(n)


def svc_half(conn):
    hdr = read_line(conn).split()
    if len(hdr) != 3 or hdr[0] != b"HC":
        raise ValueError("bad HC header %r" % hdr)
    bodylen, seed = int(hdr[1]), int(hdr[2])
    h = hashlib.sha256()
    n = 0
    while True:
        data = conn.recv(BUF)
        if not data:
            break
        h.update(data)
        n += len(data)
    conn.sendall(b"SHA256 %s %d\n" % (h.hexdigest().encode(), n))
    body = body_bytes(bodylen, seed)
    conn.sendall(body)
    conn.shutdown(socket.SHUT_WR)


def answer_query(conn, token, wait=30):
    deadline = time.monotonic() + wait
    with records_cv:
        while token not in records and time.monotonic() < deadline:
            records_cv.wait(deadline - time.monotonic())
        rec = records.get(token)
    conn.sendall((rec + "\n").encode() if rec else b"NONE\n")
    conn.shutdown(socket.SHUT_WR)


def record(token, rec):
    with records_cv:
        records[token] = rec
        records_cv.notify_all()


def svc_rev(conn):
    hdr = read_line(conn).split()
    if len(hdr) == 2 and hdr[0] == b"Q":
        answer_query(conn, hdr[1].decode())
        return
    if len(hdr) != 4 or hdr[0] != b"RC":
        raise ValueError("bad RC header %r" % hdr)
    token, bodylen, seed = hdr[1].decode(), int(hdr[2]), int(hdr[3])
    box = {}

    def reader():
        h = hashlib.sha256()
        n = 0
        try:
            while True:
                data = conn.recv(BUF)
                if not data:
                    break
                h.update(data)
                n += len(data)
            box["rec"] = "%d %s" % (n, h.hexdigest())
        except OSError as e:
            box["rec"] = "ERROR %s after %d bytes" % (e, n)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    conn.sendall(body_bytes(bodylen, seed))
    conn.shutdown(socket.SHUT_WR)
    log("REV %s sent %d bytes and SHUT_WR" % (token, bodylen))
    t.join(120)
    rec = box.get("rec", "ERROR reader timed out")
    log("REV %s %s" % (token, rec))
    record(token, rec)


go_events = {}


def go_event(token):
    with records_cv:
        return go_events.setdefault(token, threading.Event())


def svc_order(conn):
    hdr = read_line(conn).split()
    if len(hdr) == 2 and hdr[0] == b"Q":
        answer_query(conn, hdr[1].decode(), wait=120)
        return
    if len(hdr) == 2 and hdr[0] == b"GO":
        go_event(hdr[1].decode()).set()
        conn.sendall(b"OK\n")
        return
    if len(hdr) not in (6, 7) or hdr[0] != b"CO" or hdr[2] not in (b"server", b"client", b"reset"):
        raise ValueError("bad CO header %r" % hdr)
    token, mode = hdr[1].decode(), hdr[2].decode()
    bodylen, seed, rate = int(hdr[3]), int(hdr[4]), int(hdr[5])
    reset_after = int(hdr[6]) if len(hdr) == 7 else 0

    def send_body():
        conn.sendall(body_bytes(bodylen, seed))
        if mode != "reset":
            conn.shutdown(socket.SHUT_WR)

    if mode in ("server", "reset"):
        send_body()
    else:
        def later():
            if go_event(token).wait(120):
                try:
                    send_body()
                except OSError as e:
                    log("ORDER %s: body not sent: %r" % (token, e))
        threading.Thread(target=later, daemon=True).start()
    h = hashlib.sha256()
    n = 0
    t0 = time.monotonic()
    try:
        while True:
            want = 16384
            if mode == "reset":
                want = min(want, reset_after - n)
                if want <= 0:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    record(token + ".r", "TRESET %.3f" % time.time())
                    log("ORDER %s reset after %d bytes" % (token, n))
                    rec = "%d %s" % (n, h.hexdigest())
                    break
            data = conn.recv(want)
            if not data:
                rec = "%d %s" % (n, h.hexdigest())
                break
            h.update(data)
            n += len(data)
            if rate > 0:
                ahead = t0 + n / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    except ConnectionResetError:
        rec = "RESET %d %s" % (n, h.hexdigest())
    except OSError as e:
        rec = "ERROR %r after %d bytes" % (e, n)
    log("ORDER %s %s %s" % (token, mode, rec))
    record(token, rec)


SERVICES = {"echo": svc_echo, "line": svc_line, "half": svc_half, "rev": svc_rev, "order": svc_order}


def handle(conn, peer, name):
    try:
        with conn:
            SERVICES[name](conn)
    except Exception as e:  # noqa: BLE001 - log and drop the connection
        log("ERROR %s from %s: %r" % (name, peer[0], e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", action="append", required=True)
    for s in SERVICES:
        ap.add_argument("--" + s, type=int)
    a = ap.parse_args()
    sel = selectors.DefaultSelector()
    for name in SERVICES:
        port = getattr(a, name)
        if not port:
            continue
        for addr in a.bind:
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
            s.listen(4096)
            sel.register(s, selectors.EVENT_READ, name)
    log("READY")
    while True:
        for key, _ in sel.select():
            try:
                conn, peer = key.fileobj.accept()
            except OSError:
                continue
            threading.Thread(target=handle, args=(conn, peer, key.data), daemon=True).start()


if __name__ == "__main__":
    main()
