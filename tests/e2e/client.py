#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Traffic clients for the tun2socks end-to-end tests (peer: echo.py).

Normally runs in the client namespace with plain sockets, so the traffic is
captured by the TUN. With --socks5 HOST:PORT it speaks SOCKS5 itself, which
validates the harness (servers, proxy, checks) without tun2socks.

Exit status 0 = pass; otherwise the last line on stderr says why.

  concurrent  N simultaneous connections to the raw echo port, each sends
              SIZE random bytes and checks the echo.
  churn       N sequential short connections to the line port; even ones are
              closed by the client first, odd ones by the server first.
  halfclose   client sends data then SHUT_WR; it must still get the digest of
              what it sent and a BODY-byte reply (half port).
  revclose    server sends a body then SHUT_WR; the client keeps sending
              afterwards; the digest the server saw is queried on a second
              connection (rev port).
  refused     connect to a closed port: must fail with ECONNREFUSED within MAX s
              (N times in a row).
  probe       one line-echo exchange; --expect ok|fail (fail = refused or reset
              within MAX s; a hang or a working echo is an error).
  idlereset   one exchange, then stay idle: the connection must be reset
              (RST or EOF) within MAX s, and not before MIN s.
  maxflows    hold N connections; EXTRA more must each be refused
              (ECONNREFUSED) within MAX s; after closing one, a new connection
              must work (retried while refused, up to 5 s). Prints how many
              attempts were refused in all ("refused=K").
  connecterr  connect must fail with errno --errno (a name, e.g. EHOSTUNREACH)
              within MAX s.
  closeorder  N flows at once to the order port (echo.py --order, a target
              reading RATE bytes/s); each uploads SEND bytes and gets a BODY-byte
              reply; --order says who closes first:
                server    the target sends BODY + FIN at once; the client reads
                          it, then uploads and half-closes;
                client    the client uploads and half-closes, waits until its
                          FIN is acknowledged (FIN_WAIT2), then tells the target
                          (GO) to send BODY + FIN;
                simul     the client queues its upload, tells the target, and
                          half-closes at once: both FINs leave together;
                appreset  the client uploads RESET_AFTER bytes, then resets
                          (SO_LINGER 0): the target must see the connection end
                          within MAX s, having read a prefix of the upload;
                tgtreset  the target sends BODY, reads RESET_AFTER bytes, then
                          resets: the client's upload must fail with a reset
                          within MAX s of it, after the whole BODY arrived.
              In the FIN orders the target's SHA-256 of all it read (queried
              afterwards) must match the upload, and the reply must be exact.
"""
import argparse
import errno
import hashlib
import ipaddress
import os
import random
import socket
import struct
import sys
import threading
import time

BUF = 1 << 20


class Fail(Exception):
    pass


class SocksError(OSError):
    pass


# ---------------------------------------------------------------- SOCKS5
def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("EOF after %d of %d bytes" % (len(buf), n))
        buf += d
    return bytes(buf)


REP_ERRNO = {1: errno.EIO, 2: errno.EACCES, 3: errno.ENETUNREACH, 4: errno.EHOSTUNREACH,
             5: errno.ECONNREFUSED, 6: errno.ETIMEDOUT, 7: errno.EOPNOTSUPP, 8: errno.EAFNOSUPPORT}


def socks5_connect(s, host, port, user=None, password=None):
    methods = b"\x02" if user is not None else b"\x00"
    s.sendall(b"\x05" + bytes([len(methods)]) + methods)
    ver, m = recv_exact(s, 2)
    if ver != 5 or m == 0xFF:
        raise SocksError(errno.EACCES, "SOCKS5: no acceptable method (ver %d m %d)" % (ver, m))
    if m == 2:
        u, p = user.encode(), password.encode()
        s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        _, st = recv_exact(s, 2)
        if st != 0:
            raise SocksError(errno.EACCES, "SOCKS5: authentication failed")
    ip = ipaddress.ip_address(host)
    atyp = b"\x01" if ip.version == 4 else b"\x04"
    s.sendall(b"\x05\x01\x00" + atyp + ip.packed + struct.pack("!H", port))
    ver, rep, _, atyp = recv_exact(s, 4)
    if rep != 0:
        e = REP_ERRNO.get(rep, errno.EIO)
        if e == errno.ECONNREFUSED:
            raise ConnectionRefusedError(e, "SOCKS5 reply %d (connection refused)" % rep)
        raise SocksError(e, "SOCKS5 reply %d" % rep)
    recv_exact(s, {1: 4, 4: 16}.get(atyp) or recv_exact(s, 1)[0])
    recv_exact(s, 2)


def hostport(v):
    if v.startswith("["):
        h, _, p = v[1:].partition("]:")
    else:
        h, _, p = v.rpartition(":")
    return h, int(p)


def connect(a, port=None, timeout=10.0):
    port = port or a.port
    if a.socks5:
        s = socket.create_connection(hostport(a.socks5), timeout)
        try:
            socks5_connect(s, a.host, port, a.socks_user, a.socks_pass)
        except BaseException:
            s.close()
            raise
    else:
        s = socket.create_connection((a.host, port), timeout)
    s.settimeout(timeout)
    return s


def recv_all(s, limit=None):
    buf = bytearray()
    while limit is None or len(buf) < limit:
        d = s.recv(BUF if limit is None else min(BUF, limit - len(buf)))
        if not d:
            break
        buf += d
    return bytes(buf)


def body_bytes(n, seed):
    return random.Random(seed).randbytes(n)


def errstr(e):
    return "%s: %s" % (type(e).__name__, e)


# ---------------------------------------------------------------- scenarios
def cmd_concurrent(a):
    n, size = a.n, a.size
    barrier = threading.Barrier(n)
    errors = []
    lock = threading.Lock()
    ok = [0]

    def one(i):
        s = None
        try:
            s = connect(a, timeout=a.timeout)
            barrier.wait(timeout=a.timeout)  # all N are open at the same time
            data = os.urandom(size)
            snd = threading.Thread(target=s.sendall, args=(data,), daemon=True)
            snd.start()
            got = recv_all(s, size)
            snd.join(a.timeout)
            if got != data:
                raise Fail("echo mismatch: got %d bytes, %s" % (
                    len(got), "prefix ok" if data.startswith(got) else "content differs"))
            with lock:
                ok[0] += 1
        except Exception as e:  # noqa: BLE001
            if not isinstance(e, threading.BrokenBarrierError):
                barrier.abort()
            with lock:
                errors.append((i, errstr(e)))
        finally:
            if s:
                s.close()

    t0 = time.monotonic()
    ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(a.timeout * 3)
    dt = time.monotonic() - t0
    print("concurrent: %d/%d ok (%d bytes each) in %.2fs" % (ok[0], n, size, dt))
    if ok[0] != n:
        real = [e for e in errors if "BrokenBarrier" not in e[1]] or errors
        for i, e in real[:10]:
            print("  conn %d: %s" % (i, e), file=sys.stderr)
        raise Fail("%d of %d concurrent connections failed" % (n - ok[0], n))


def cmd_churn(a):
    t0 = time.monotonic()
    deadline = t0 + a.deadline
    for i in range(a.n):
        if time.monotonic() > deadline:
            raise Fail("churn: deadline %ds passed after %d of %d connections" % (a.deadline, i, a.n))
        server_first = i % 2 == 1
        msg = (b"CLOSE %d\n" if server_first else b"PING %d\n") % i
        stage = "connect"
        try:
            s = connect(a, timeout=a.timeout)
            with s:
                stage = "send"
                s.sendall(msg)
                stage = "recv echo"
                got = recv_all(s, len(msg))
                if got != msg:
                    raise Fail("bad echo %r" % got)
                if server_first:
                    stage = "wait server EOF"
                    extra = s.recv(64)
                    if extra:
                        raise Fail("expected EOF, got %r" % extra)
        except Exception as e:  # noqa: BLE001
            raise Fail("churn: connection #%d (%s closes first) failed at %s after %.1fs: %s" % (
                i, "server" if server_first else "client", stage, time.monotonic() - t0, errstr(e)))
    dt = time.monotonic() - t0
    print("churn: %d connections ok in %.1fs (%.0f/s)" % (a.n, dt, a.n / dt))


def cmd_halfclose(a):
    seed = random.getrandbits(32)
    s = connect(a, timeout=a.timeout)
    with s:
        s.sendall(b"HC %d %d\n" % (a.body, seed))
        h = hashlib.sha256()
        left = a.send
        while left:
            chunk = os.urandom(min(left, BUF))
            h.update(chunk)
            s.sendall(chunk)
            left -= len(chunk)
        s.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        resp = recv_all(s)
    line, _, body = resp.partition(b"\n")
    want = b"SHA256 %s %d" % (h.hexdigest().encode(), a.send)
    if line != want:
        raise Fail("after SHUT_WR the server saw %r, expected %r" % (line[:120], want))
    if len(body) != a.body:
        raise Fail("after SHUT_WR got %d of %d reply body bytes" % (len(body), a.body))
    if body != body_bytes(a.body, seed):
        raise Fail("reply body content differs")
    print("halfclose: sent %d then SHUT_WR; server digest ok; received %d-byte body in %.2fs"
          % (a.send, a.body, time.monotonic() - t0))


def cmd_revclose(a):
    seed = random.getrandbits(32)
    token = os.urandom(8).hex()
    h = hashlib.sha256()
    part1 = os.urandom(min(a.send, BUF))
    part2 = os.urandom(a.send - len(part1))
    h.update(part1)
    h.update(part2)
    eof = threading.Event()
    sent = {}

    s = connect(a, timeout=a.timeout)

    def sender():
        try:
            s.sendall(part1)
            sent["part1"] = True
            if not eof.wait(a.timeout):
                sent["err"] = "server FIN not seen within %ss" % a.timeout
                return
            s.sendall(part2)   # still sending after the server's FIN
            s.shutdown(socket.SHUT_WR)
            sent["part2"] = True
        except OSError as e:
            sent["err"] = errstr(e)

    with s:
        s.sendall(b"RC %s %d %d\n" % (token.encode(), a.body, seed))
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        try:
            body = recv_all(s)  # until the server's FIN
        finally:
            eof.set()
        th.join(a.timeout * 2)
        if "err" in sent or "part2" not in sent:
            raise Fail("client could not keep sending after the server's SHUT_WR: %s"
                       % sent.get("err", "sender stuck"))
        # the server may also close fully once it has read our EOF: drain
        try:
            rest = s.recv(1)
        except OSError:
            rest = b""
        if rest:
            raise Fail("data after the server's FIN")
    if len(body) != a.body or body != body_bytes(a.body, seed):
        raise Fail("body before the server's FIN: got %d of %d bytes%s" % (
            len(body), a.body, "" if len(body) != a.body else ", content differs"))
    q = connect(a, timeout=35)
    with q:
        q.sendall(b"Q %s\n" % token.encode())
        rec = recv_all(q).decode().strip()
    want = "%d %s" % (a.send, h.hexdigest())
    if rec != want:
        raise Fail("server received %r after its own SHUT_WR, expected %r" % (rec, want))
    print("revclose: server sent %d + SHUT_WR, client then sent %d more; server got all %d bytes"
          % (a.body, len(part2), a.send))


def cmd_refused(a):
    for _ in range(a.n - 1):
        refused_once(a)
    refused_once(a)


def refused_once(a):
    t0 = time.monotonic()
    try:
        s = connect(a, timeout=a.max + 2)
    except ConnectionRefusedError:
        dt = time.monotonic() - t0
        if dt > a.max:
            raise Fail("ECONNREFUSED but only after %.2fs (limit %ss)" % (dt, a.max))
        print("refused: ECONNREFUSED after %.3fs" % dt)
        return
    except Exception as e:  # noqa: BLE001
        raise Fail("expected ECONNREFUSED, got %s after %.2fs" % (errstr(e), time.monotonic() - t0))
    with s:
        s.settimeout(a.max)
        try:
            d = s.recv(1)
            what = "then EOF" if not d else "then data %r" % d
        except Exception as e:  # noqa: BLE001
            what = "then %s" % errstr(e)
    raise Fail("connect() to a closed port succeeded (the SYN was answered before the proxy "
               "replied), %s after %.2fs; expected ECONNREFUSED" % (what, time.monotonic() - t0))


def cmd_probe(a):
    t0 = time.monotonic()
    msg = b"PING probe\n"
    outcome = None
    try:
        s = connect(a, timeout=a.max)
        with s:
            s.sendall(msg)
            got = recv_all(s, len(msg))
            if got == msg:
                outcome = "ok"
            elif got == b"":
                outcome = "eof"
            else:
                outcome = "garbage %r" % got
    except ConnectionRefusedError:
        outcome = "refused"
    except ConnectionResetError:
        outcome = "reset"
    except (socket.timeout, TimeoutError):
        outcome = "timeout"
    except OSError as e:
        outcome = "error %s" % errstr(e)
    dt = time.monotonic() - t0
    print("probe: %s after %.3fs" % (outcome, dt))
    if a.expect == "ok":
        if outcome != "ok":
            raise Fail("expected a working connection, got %s after %.2fs" % (outcome, dt))
    else:
        if outcome not in ("refused", "reset"):
            raise Fail("expected a prompt refused/reset, got %s after %.2fs" % (outcome, dt))
        if dt > a.max:
            raise Fail("failure took %.2fs (limit %ss)" % (dt, a.max))


def cmd_connecterr(a):
    want = getattr(errno, a.errno)
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET)
    s.settimeout(a.max + 2)
    try:
        s.connect((a.host, a.port))
    except OSError as e:
        took = time.monotonic() - t0
        if e.errno != want:
            raise Fail("connect failed with %s, wanted %s" % (errstr(e), a.errno))
        if took > a.max:
            raise Fail("connect failed with %s after %.2f s (> %.1f s)" % (a.errno, took, a.max))
        return
    finally:
        s.close()
    raise Fail("connect succeeded, wanted %s" % a.errno)


def line_exchange(s, text):
    s.sendall(text)
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            raise Fail("EOF before the echo")
        got += d
    if got != text:
        raise Fail("echo mismatch")


def cmd_idlereset(a):
    s = connect(a)
    line_exchange(s, b"hello idle\n")
    t0 = time.monotonic()
    s.settimeout(a.max + 1)
    try:
        d = s.recv(1)
        if d:
            raise Fail("unexpected data while idle")
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise Fail("still open after %.1f s idle" % a.max)
    took = time.monotonic() - t0
    if took < a.min or took > a.max:
        raise Fail("closed after %.2f s, expected %.1f..%.1f s" % (took, a.min, a.max))


def cmd_maxflows(a):
    held = []
    for i in range(a.n):
        s = connect(a)
        line_exchange(s, b"held %d\n" % i)
        held.append(s)
    refused, worst = 0, 0.0
    for j in range(a.extra):
        extra = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET)
        extra.settimeout(a.max + 2)
        t0 = time.monotonic()
        try:
            extra.connect((a.host, a.port))
            raise Fail("connection %d succeeded beyond the cap" % (a.n + 1 + j))
        except ConnectionRefusedError:
            took = time.monotonic() - t0
        except socket.timeout:
            raise Fail("connection %d beyond the cap was neither accepted nor refused within %.1f s "
                       "(SYN dropped?)" % (a.n + 1 + j, a.max + 2))
        finally:
            extra.close()
        if took > a.max:
            raise Fail("connection beyond the cap refused only after %.2f s (limit %.1f s)" % (took, a.max))
        refused += 1
        worst = max(worst, took)
    held.pop().close()
    deadline = time.monotonic() + 5
    while True:
        try:
            s = connect(a)
            break
        except ConnectionRefusedError:
            refused += 1  # the closed flow may not be gone yet
            if time.monotonic() > deadline:
                raise Fail("no new connection within 5 s of closing a held one")
            time.sleep(0.1)
    line_exchange(s, b"after\n")
    s.close()
    for h in held:
        line_exchange(h, b"still\n")
        h.close()
    print("maxflows: %d held, %d beyond the cap refused in at most %.3f s; refused=%d"
          % (a.n, a.extra, worst, refused))


LINUX_TCP_FIN_WAIT2 = 5


def tcp_state(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def order_ctl(a, line, timeout=130.0):
    q = connect(a, timeout=timeout)
    with q:
        q.sendall(line)
        return recv_all(q).decode().strip()


def order_flow(a, i):
    """One close-order flow; returns a one-line summary or raises Fail."""
    seed = random.getrandbits(32)
    token = "%s%02d%s" % (a.order, i, os.urandom(6).hex())
    data = random.Random(seed ^ 0x5EED).randbytes(a.send)
    mode = {"server": "server", "client": "client", "simul": "client", "appreset": "client",
            "tgtreset": "reset"}[a.order]
    t0 = time.monotonic()
    s = connect(a, timeout=a.timeout)
    with s:
        s.sendall(b"CO %s %s %d %d %d %d\n" % (token.encode(), mode.encode(), a.body, seed, a.rate,
                                               a.reset_after))
        body = b""
        if a.order == "server":
            body = recv_all(s)  # until the target's FIN
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        elif a.order == "client":
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + a.timeout
            while tcp_state(s) != LINUX_TCP_FIN_WAIT2:
                if time.monotonic() > deadline:
                    raise Fail("%s: our FIN not acknowledged within %.0f s" % (token, a.timeout))
                time.sleep(0.05)
            if order_ctl(a, b"GO %s\n" % token.encode()) != "OK":
                raise Fail("%s: GO not answered" % token)
            body = recv_all(s)
        elif a.order == "simul":
            s.sendall(data)
            if order_ctl(a, b"GO %s\n" % token.encode()) != "OK":
                raise Fail("%s: GO not answered" % token)
            s.shutdown(socket.SHUT_WR)
            body = recv_all(s)
        elif a.order == "appreset":
            s.sendall(data[:a.reset_after])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            t_rst = time.monotonic()
            s.close()
            rec = order_ctl(a, b"Q %s\n" % token.encode()).split()
            took = time.monotonic() - t_rst
            if len(rec) != 3 or rec[0] != "RESET":
                raise Fail("%s: after our reset the target saw %r, not a reset" % (token, rec))
            n = int(rec[1])
            if n >= a.reset_after or hashlib.sha256(data[:n]).hexdigest() != rec[2]:
                raise Fail("%s: the target read %d of %d bytes%s" % (
                    token, n, a.reset_after, "" if n >= a.reset_after else ", not a prefix of the upload"))
            if took > a.max:
                raise Fail("%s: the target's connection ended %.2f s after our reset" % (token, took))
            return "%s: reset after %d bytes: target saw RESET after %.2f s, read a correct %d-byte prefix" % (
                token, a.reset_after, took, n)
        else:  # tgtreset
            got = bytearray()
            box = {}

            def reader():
                try:
                    while True:
                        d = s.recv(BUF)
                        if not d:
                            box["end"] = "EOF"
                            return
                        got.extend(d)
                except OSError as e:
                    box["end"] = type(e).__name__
            th = threading.Thread(target=reader, daemon=True)
            th.start()
            try:
                s.sendall(data)
                raise Fail("%s: the whole upload went through a target that reset" % token)
            except (ConnectionResetError, BrokenPipeError) as e:
                t_err = time.time()
                err = type(e).__name__
            th.join(a.timeout)
            rec = order_ctl(a, b"Q %s.r\n" % token.encode()).split()
            if len(rec) != 2 or rec[0] != "TRESET":
                raise Fail("%s: the target recorded no reset: %r" % (token, rec))
            took = t_err - float(rec[1])
            if bytes(got) != body_bytes(a.body, seed):
                raise Fail("%s: got %d of the %d bytes the target sent before its reset%s" % (
                    token, len(got), a.body, "" if len(got) != a.body else ", content differs"))
            # (The socket reports the reset once: to the upload or to the download.)
            if "ConnectionResetError" not in (err, box.get("end")):
                raise Fail("%s: the upload failed with %s and the download ended with %s: no reset" % (
                    token, err, box.get("end", "nothing")))
            if took > a.max:
                raise Fail("%s: our upload failed %.2f s after the target's reset" % (token, took))
            rec = order_ctl(a, b"Q %s\n" % token.encode()).split()
            if len(rec) != 2 or int(rec[0]) != a.reset_after or \
                    hashlib.sha256(data[:a.reset_after]).hexdigest() != rec[1]:
                raise Fail("%s: the target read %r before its reset, expected %d correct bytes" % (
                    token, rec, a.reset_after))
            return "%s: target reset after %d bytes: %s %.2f s later, whole %d-byte body received" % (
                token, a.reset_after, err, took, a.body)
        # FIN orders: the reply, then what the target read.
        if len(body) != a.body or body != body_bytes(a.body, seed):
            raise Fail("%s: reply of %d bytes, expected %d%s" % (
                token, len(body), a.body, "" if len(body) != a.body else ", content differs"))
        rec = order_ctl(a, b"Q %s\n" % token.encode())
    want = "%d %s" % (a.send, hashlib.sha256(data).hexdigest())
    if rec != want:
        raise Fail("%s: the target read %r, expected %r" % (token, rec, want))
    return "%s: %d bytes up, %d down, digest ok, %.1f s" % (token, a.send, a.body, time.monotonic() - t0)


def cmd_closeorder(a):
    results = [None] * a.n

    def one(i):
        try:
            results[i] = ("ok", order_flow(a, i))
        except Fail as e:
            results[i] = ("fail", str(e))
        except Exception as e:  # noqa: BLE001
            results[i] = ("fail", "flow %d: unexpected %s" % (i, errstr(e)))
    ths = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(a.n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(a.timeout * 4)
    bad = [r[1] if r else "flow stuck" for r in results if r is None or r[0] != "ok"]
    for r in results:
        if r and r[0] == "ok":
            print("closeorder %s" % r[1])
    if bad:
        raise Fail("%d of %d %s flows: %s" % (len(bad), a.n, a.order, "; ".join(bad[:4])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socks5", help="HOST:PORT of a SOCKS5 proxy to use explicitly")
    ap.add_argument("--socks-user")
    ap.add_argument("--socks-pass")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, **kw):
        p = sub.add_parser(name)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--timeout", type=float, default=kw.pop("timeout", 30.0))
        for k, v in kw.items():
            flags = ("-n", "--n") if k == "n" else ("--" + k.replace("_", "-"),)
            p.add_argument(*flags, type=type(v), default=v)
        return p

    add("concurrent", n=200, size=65536)
    add("churn", n=10000, deadline=120, timeout=5.0)
    add("halfclose", send=8 << 20, body=8 << 20)
    add("revclose", send=8 << 20, body=8 << 20)
    add("refused", max=3.0, n=1)
    add("probe", max=3.0, expect="ok")
    add("connecterr", max=3.0, errno="ECONNREFUSED")
    add("idlereset", max=4.0, min=0.5)
    add("maxflows", n=3, extra=1, max=1.0)
    add("closeorder", order="server", n=4, send=3 << 20, body=65536, rate=131072, reset_after=1 << 20,
        max=5.0, timeout=120.0)
    a = ap.parse_args()
    try:
        globals()["cmd_" + a.cmd](a)
    except Fail as e:
        print("FAIL: %s" % e, file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001
        print("FAIL: %s: unexpected %s" % (a.cmd, errstr(e)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
