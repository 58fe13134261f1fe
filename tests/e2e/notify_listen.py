#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for systemd's notification socket: binds an AF_UNIX datagram socket
(a path, or an abstract name given as @name) and appends each message it receives to
OUT as one line: "<unix time> <message, newlines as |>". Runs until killed."""
import argparse
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("addr")
ap.add_argument("out")
a = ap.parse_args()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + a.addr[1:] if a.addr.startswith("@") else a.addr)
with open(a.out, "a", buffering=1) as f:
    f.write("%.6f LISTENING\n" % time.time())
    while True:
        m = s.recv(4096).decode("utf-8", "replace")
        f.write("%.6f %s\n" % (time.time(), m.replace("\n", "|")))
