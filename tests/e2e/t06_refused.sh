#!/bin/bash
# SPDX-License-Identifier: MIT
# A target port with no listener: the SOCKS server reports "connection
# refused" and the client in the client ns must get ECONNREFUSED within 3 s.
. "$(dirname "$0")/lib.sh"

setup_default echo_start

client "$CLI" refused --host "$TGT4" --port "$CLOSED_PORT" --max 3 || fail "IPv4 closed port"
client "$CLI" refused --host "$TGT6" --port "$CLOSED_PORT" --max 3 || fail "IPv6 closed port"
# tun2socks is still fine afterwards.
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 5 || fail "connection after the refused ones"
t2s_alive || fail "tun2socks died"
