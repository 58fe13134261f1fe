#!/bin/bash
# SPDX-License-Identifier: MIT
# Half-close in both directions through the TUN:
#  - the client sends 8 MB and shuts down its write side, then must still get
#    the digest of what it sent plus an 8 MB body;
#  - the server sends 8 MB and shuts down its write side while the client keeps
#    sending 8 MB; the digest the server saw is checked on a second connection.
. "$(dirname "$0")/lib.sh"

setup_default echo_start

CLIENT_TIMEOUT=60 client "$CLI" halfclose --host "$TGT4" --port "$HALF_PORT" --timeout 20 \
    || fail "client-side half-close"
CLIENT_TIMEOUT=90 client "$CLI" revclose --host "$TGT4" --port "$REV_PORT" --timeout 20 \
    || fail "server-side half-close"
# Same over IPv6 targets.
CLIENT_TIMEOUT=60 client "$CLI" halfclose --host "$TGT6" --port "$HALF_PORT" --timeout 20 --send 1048576 --body 1048576 \
    || fail "client-side half-close (IPv6)"
CLIENT_TIMEOUT=90 client "$CLI" revclose --host "$TGT6" --port "$REV_PORT" --timeout 20 --send 2097152 --body 1048576 \
    || fail "server-side half-close (IPv6)"
t2s_alive || fail "tun2socks died"
