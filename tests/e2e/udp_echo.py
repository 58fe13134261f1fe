#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""UDP target service for the tun2socks end-to-end tests (peer: udp_client.py).

Single-threaded, select-based. Binds every --bind address (IPv4 and IPv6) on
every --port and echoes each datagram back to its sender, from the socket it
arrived on, except:

  b"OTHERPORT ..."  answered (same payload) from a second socket bound on the
                    same address but on --other-port: the reply comes from a
                    port the client never sent to.
  b"OTHERADDR ..."  answered (same payload) from a socket bound on --other-addr
                    (one per address family, e.g. 198.19.0.11 and
                    2001:2:0:2::11) and the port the request arrived on: the
                    reply comes from an address the client never sent to.

The alternative sockets echo like the others when addressed directly.
A request whose alternative socket does not exist (no --other-port, or no
--other-addr of that family) is answered with b"NOALT " + payload from the
normal socket, so the client can tell the difference from loss.

Logs to stdout, flushed: "READY" once every socket is bound, and
"PEER <addr> <port>" the first time a sender endpoint is seen (the harness
checks that every peer is the SOCKS server and counts the endpoints it used).
"""
import argparse
import ipaddress
import selectors
import socket
import sys


def out(*a):
    print(*a, flush=True)


def family(addr):
    return socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET


def bind(addr, port):
    fam = family(addr)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    # Deep buffers: a burst of hundreds of flows must not be dropped here.
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
        except OSError:
            pass
    s.bind((addr, port))
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bind", action="append", required=True, help="address to serve on (repeatable)")
    ap.add_argument("--port", type=int, action="append", required=True, help="echo port (repeatable)")
    ap.add_argument("--other-port", type=int, help="port that answers OTHERPORT requests")
    ap.add_argument("--other-addr", action="append", default=[],
                    help="address that answers OTHERADDR requests (one per family)")
    a = ap.parse_args()

    sel = selectors.DefaultSelector()
    other_port = {}    # (family, bind addr) -> socket on other_port
    other_addr = {}    # (family, port) -> socket on the other address
    for addr in a.bind:
        for port in a.port:
            sel.register(bind(addr, port), selectors.EVENT_READ, (addr, port))
        if a.other_port:
            other_port[addr] = bind(addr, a.other_port)
            sel.register(other_port[addr], selectors.EVENT_READ, (addr, a.other_port))
    for oa in a.other_addr:
        for port in a.port:
            other_addr[(family(oa), port)] = bind(oa, port)
            sel.register(other_addr[(family(oa), port)], selectors.EVENT_READ, (oa, port))
    out("READY")

    seen = set()
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            addr, port = key.data
            while True:
                try:
                    data, peer = s.recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:   # e.g. an ICMP error queued on the socket
                    out("ERROR recvfrom on %s port %d: %s" % (addr, port, e))
                    continue
                ep = (peer[0], peer[1])
                if ep not in seen:
                    seen.add(ep)
                    out("PEER %s %d" % ep)
                reply_sock = s
                if data.startswith(b"OTHERPORT ") and port != a.other_port:
                    reply_sock = other_port.get(addr)
                elif data.startswith(b"OTHERADDR ") and addr not in a.other_addr:
                    reply_sock = other_addr.get((s.family, port))
                if reply_sock is None:
                    reply_sock, data = s, b"NOALT " + data
                try:
                    reply_sock.sendto(data, peer[:2] if s.family == socket.AF_INET else peer)
                except OSError as e:
                    out("ERROR sendto %s port %d: %s" % (peer[0], peer[1], e))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
