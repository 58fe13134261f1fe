#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGTERM (and SIGINT) with a connection open: exit status 0 within 5 s, the
# TUN it created is gone, no tun2socks process is left in the namespace.
. "$(dirname "$0")/lib.sh"

setup_default echo_start

check_exit() {
    local sig=$1
    # Keep an established connection open across the signal.
    exec 7< <(timeout 30 ip netns exec "$CLI" "$PY" -c '
import socket, sys, time
s = socket.create_connection(("'"$TGT4"'", '"$ECHO_PORT"'), 5)
s.sendall(b"x"); assert s.recv(1) == b"x"
print("open", flush=True)
try:
    s.settimeout(20); s.recv(1)
except OSError:
    pass
')
    read -r -t 10 line <&7 || true
    [ "${line:-}" = open ] || fail "SIG$sig: could not open the idle connection"
    t2s_stop "$sig"
    exec 7<&-
    [ "$T2S_STATUS" = 0 ] || fail "SIG$sig: exit status $T2S_STATUS, expected 0"
    wait_until 2 not tun_exists || fail "SIG$sig: $TUN still exists after exit"
    [ -z "$(t2s_procs)" ] || fail "SIG$sig: tun2socks processes left: $(t2s_procs)"
    info "SIG$sig: exit 0 after ${T2S_STOP_TIME}s, $TUN gone"
}

check_exit TERM
t2s_start
check_exit INT
# The terminal or SSH session going away: the same clean exit.
t2s_start
check_exit HUP
