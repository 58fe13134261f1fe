#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Interface-bound sockets for t43: DEV bind|unicast_if ADDR4 ADDR6 TCP_PORT UDP_PORT.
With SO_BINDTODEVICE (bind) or IP_UNICAST_IF/IPV6_UNICAST_IF (unicast_if) on DEV,
for IPv4 and IPv6: an HTTP GET over TCP and one UDP echo; prints one word per try
(HTTP_STATUS,peer=WHO the server saw, "echo N", or the error), never fails
itself. (Linux honours IP_UNICAST_IF/IPV6_UNICAST_IF for UDP and raw sockets only:
a TCP socket with it is an ordinary one.)"""
import socket
import struct
import sys

dev, how = sys.argv[1], sys.argv[2]
res = []
for fam, host in ((socket.AF_INET, sys.argv[3]), (socket.AF_INET6, sys.argv[4])):
    for kind in ("tcp", "udp"):
        s = socket.socket(fam, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
        s.settimeout(2)
        idx = socket.if_nametoindex(dev)
        if how == "bind":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        elif fam == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_IP, 50, struct.pack("!I", idx))  # IP_UNICAST_IF
        else:
            s.setsockopt(socket.IPPROTO_IPV6, 76, struct.pack("!I", idx))  # IPV6_UNICAST_IF
        try:
            if kind == "tcp":
                s.connect((host, int(sys.argv[5])))
                s.sendall(b"GET /peer HTTP/1.0\r\n\r\n")
                data = b""
                while True:
                    more = s.recv(4096)
                    if not more:
                        break
                    data += more
                head, _, body = data.partition(b"\r\n\r\n")
                r = "%s,peer=%s" % (head.split(b"\r\n")[0].decode().replace(" ", "_"), body.decode().strip())
            else:
                s.sendto(b"x" * 10, (host, int(sys.argv[6])))
                r = "echo %d" % len(s.recv(100))
        except OSError as e:
            r = type(e).__name__ + ":" + str(e.errno)
        res.append("%s/%s/%s=%s" % (how, "v4" if fam == socket.AF_INET else "v6", kind, r))
print(" ".join(res))
