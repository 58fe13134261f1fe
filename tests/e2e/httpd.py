#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP target for the tun2socks end-to-end tests.

  GET /<file>   serve a file from --root (sendfile, so 64 MB is quick)
  GET /peer     reply with the peer address the server saw
  PUT|POST /x   stream the body (Content-Length or chunked) through SHA-256
                and reply "<sha256hex> <nbytes>\\n"

Every request is logged to stderr as "PEER <addr> <METHOD> <path> ..." so a
test can check where connections came from.
"""
import argparse
import hashlib
import http.server
import os
import socket
import sys
import threading

BUF = 1 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))
        sys.stderr.flush()

    def peer_log(self, extra=""):
        sys.stderr.write("PEER %s %s %s %s\n" % (self.client_address[0], self.command, self.path, extra))
        sys.stderr.flush()

    def reply(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.peer_log()
        if self.path == "/peer":
            self.reply(200, (self.client_address[0] + "\n").encode())
            return
        name = os.path.basename(self.path.split("?", 1)[0])
        path = os.path.join(self.root, name)
        if not name or not os.path.isfile(path):
            self.reply(404, b"not found\n")
            return
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.flush()
            self.connection.sendfile(f)

    def read_body(self, h):
        n = 0
        rf = self.rfile
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(rf.readline(1024).split(b";")[0].strip(), 16)
                if size == 0:
                    while rf.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return n
                left = size
                while left:
                    data = rf.read(min(left, BUF))
                    if not data:
                        raise ConnectionError("EOF inside chunk")
                    h.update(data)
                    n += len(data)
                    left -= len(data)
                rf.readline(1024)
        left = int(self.headers.get("Content-Length", "0"))
        while left:
            data = rf.read1(min(left, BUF)) if hasattr(rf, "read1") else rf.read(min(left, BUF))
            if not data:
                raise ConnectionError("EOF after %d bytes, %d missing" % (n, left))
            h.update(data)
            n += len(data)
            left -= len(data)
        return n

    def do_PUT(self):
        h = hashlib.sha256()
        try:
            n = self.read_body(h)
        except (ConnectionError, ValueError) as e:
            self.peer_log("ERROR %s" % e)
            self.close_connection = True
            return
        self.peer_log("%d %s" % (n, h.hexdigest()))
        self.reply(200, ("%s %d\n" % (h.hexdigest(), n)).encode())

    do_POST = do_PUT


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, addr, handler):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(addr, handler)

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        # plain TCPServer.server_bind: HTTPServer's would do a reverse DNS lookup
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", action="append", required=True)
    a = ap.parse_args()
    Handler.root = a.root
    servers = [Server((b, a.port), Handler) for b in a.bind]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    sys.stderr.write("READY\n")
    sys.stderr.flush()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
