#!/bin/bash
# SPDX-License-Identifier: MIT
# 200 simultaneous connections through the TUN, each echoing 64 KB of random data.
. "$(dirname "$0")/lib.sh"

setup_default echo_start

fds0=$(t2s_fds)
CLIENT_TIMEOUT=90 client "$CLI" concurrent --host "$TGT4" --port "$ECHO_PORT" -n 200 --size 65536 --timeout 30 \
    || fail "concurrent connections failed"
t2s_alive || fail "tun2socks died"
check_no_fd_leak "$fds0"
