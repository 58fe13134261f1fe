#!/bin/bash
# SPDX-License-Identifier: MIT
# Attach to a pre-created persistent TUN: traffic works, SIGTERM exits 0 and
# the persistent device is left in place; a second run attaches again.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
danted_start
httpd_start

ip -n "$CLI" tuntap add mode tun name "$TUN" || fail "ip tuntap add"
tun_exists || fail "persistent $TUN not created"

for run in 1 2; do
    t2s_start
    peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "run $run: request through the persistent TUN failed"
    [ "$peer" = "$SRV_IP4" ] || fail "run $run: target saw '$peer'"
    t2s_stop TERM
    [ "$T2S_STATUS" = 0 ] || fail "run $run: exit status $T2S_STATUS after SIGTERM"
    tun_exists || fail "run $run: the persistent $TUN was deleted by tun2socks"
    [ -z "$(t2s_procs)" ] || fail "run $run: tun2socks processes left"
    info "run $run: ok, $TUN still exists"
done
