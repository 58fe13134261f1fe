#!/bin/bash
# SPDX-License-Identifier: MIT
# 10,000 sequential short connections (kernel-chosen source ports) within
# 120 s; the client closes first on even ones, the server on odd ones.
. "$(dirname "$0")/lib.sh"

setup_default echo_start

fds0=$(t2s_fds)
N=${CHURN_N:-10000}
CLIENT_TIMEOUT=130 client "$CLI" churn --host "$TGT4" --port "$LINE_PORT" -n "$N" --deadline 120 --timeout 5 \
    || fail "churn failed"
t2s_alive || fail "tun2socks died"
check_no_fd_leak "$fds0"
