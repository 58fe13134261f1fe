#!/bin/bash
# SPDX-License-Identifier: MIT
# The SOCKS server goes away: new connections must fail promptly (refused or
# reset within 3 s, never hang) while tun2socks keeps running; once the proxy
# is back, connections work again.
. "$(dirname "$0")/lib.sh"

setup_default echo_start

client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 5 || fail "baseline connection"
danted_stop
for i in 1 2 3; do
    client "$CLI" probe --expect fail --host "$TGT4" --port "$LINE_PORT" --max 3 \
        || fail "connection #$i with the proxy down did not fail promptly"
done
client "$CLI" probe --expect fail --host "$TGT6" --port "$LINE_PORT" --max 3 \
    || fail "IPv6 connection with the proxy down did not fail promptly"
t2s_alive || fail "tun2socks exited while the proxy was down"

danted_start
# tun2socks has no reason to wait: the first attempt after the restart must work.
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 5 || fail "connection after the proxy came back"
client "$CLI" concurrent --host "$TGT4" --port "$ECHO_PORT" -n 20 --size 65536 --timeout 20 \
    || fail "traffic after the proxy came back"
t2s_alive || fail "tun2socks died"
