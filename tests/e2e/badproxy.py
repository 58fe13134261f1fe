#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A misbehaving SOCKS5 server for fault tests. One mode per run:

  silent      accept, never answer
  garbage     answer the greeting with bytes that are not SOCKS5
  greetclose  answer the greeting (method 0), then close
  badreply    answer CONNECT with VER 4
  rep:N       answer CONNECT with REP N (a well-formed failure)
  slowreply   answer CONNECT with success one byte per 200 ms, then echo
  answerclose answer CONNECT with success, a 6-byte banner (hello and a newline) and a FIN,
              all in one segment (a server that speaks first and closes at once)
  udpsilent   a working CONNECT (relays to the real target), and a UDP
              ASSOCIATE that succeeds but whose relay swallows every datagram
"""
import argparse
import socket
import threading
import time


def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        d = c.recv(n - len(buf))
        if not d:
            raise ConnectionError("eof")
        buf += d
    return buf


def read_request(c):
    ver, nmeth = recv_exact(c, 2)
    recv_exact(c, nmeth)
    return ver


def read_connect(c):
    hdr = recv_exact(c, 4)
    atyp = hdr[3]
    n = {1: 4, 4: 16}.get(atyp)
    if n is None:
        n = recv_exact(c, 1)[0]
    recv_exact(c, n + 2)


def read_request_full(c):
    """CMD and (host, port) of a SOCKS5 request."""
    ver, cmd, _, atyp = recv_exact(c, 4)
    if atyp == 1:
        host = socket.inet_ntop(socket.AF_INET, recv_exact(c, 4))
    elif atyp == 4:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
    else:
        host = recv_exact(c, recv_exact(c, 1)[0]).decode()
    port = int.from_bytes(recv_exact(c, 2), "big")
    return cmd, host, port


def reply(c, sockname):
    fam = 4 if ":" in sockname[0] else 1
    addr = socket.inet_pton(socket.AF_INET6 if fam == 4 else socket.AF_INET, sockname[0])
    c.sendall(bytes([5, 0, 0, fam]) + addr + sockname[1].to_bytes(2, "big"))


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                b.shutdown(socket.SHUT_WR)
                return
            b.sendall(d)
    except OSError:
        pass


def serve_udpsilent(c):
    cmd, host, port = read_request_full(c)
    if cmd == 1:
        t = socket.create_connection((host, port), timeout=5)
        t.settimeout(None)
        reply(c, t.getsockname())
        th = threading.Thread(target=pump, args=(t, c), daemon=True)
        th.start()
        pump(c, t)
        th.join(30)
        t.close()
        return
    if cmd != 3:
        c.sendall(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
        return
    here = c.getsockname()[0]
    u = socket.socket(socket.AF_INET6 if ":" in here else socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((here, 0))
    reply(c, u.getsockname())
    u.setblocking(False)
    try:
        while c.recv(4096):
            pass
    finally:
        u.close()


def serve(c, mode):
    try:
        if mode == "udpsilent":
            read_request(c)
            c.sendall(b"\x05\x00")
            serve_udpsilent(c)
            return
        if mode == "silent":
            while c.recv(4096):
                pass
            return
        read_request(c)
        if mode == "garbage":
            c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            return
        c.sendall(b"\x05\x00")
        if mode == "greetclose":
            return
        read_connect(c)
        ok = b"\x05\x00\x00\x01\xc6\x12\x00\x02\x04\x38"
        if mode == "badreply":
            c.sendall(b"\x04" + ok[1:])
            return
        if mode.startswith("rep:"):
            c.sendall(b"\x05" + bytes([int(mode[4:])]) + ok[2:])
            return
        if mode == "answerclose":
            # Corked: the reply, the banner and the FIN leave in one segment, so all
            # three are in tun2socks' socket before its application connects.
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            c.sendall(ok + b"hello\n")
            return
        if mode == "slowreply":
            for b in ok:
                c.sendall(bytes([b]))
                time.sleep(0.2)
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)
    except OSError:
        pass
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", required=True)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET6 if ":" in a.bind else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, a.mode), daemon=True).start()


if __name__ == "__main__":
    main()
