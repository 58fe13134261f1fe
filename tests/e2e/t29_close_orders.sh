#!/bin/bash
# SPDX-License-Identifier: MIT
# Close orders with a slow target: no byte lost, no pcb used after lwIP freed it.
# A target reading CLOSE_RATE bytes/s (echo.py --order) and small socket buffers in
# both namespaces (so that the backlog sits in tun2socks' queue, not in the kernels)
# make every flow's upload still queued in tun2socks for well over 4 s (lwIP's
# TIME_WAIT, 2 * TCP_MSL) after the last FIN. CLOSE_FLOWS flows per order, at once:
#  - server first: the target sends a reply + FIN at once, then the app uploads
#    CLOSE_SEND bytes and half-closes (lwIP: FIN_WAIT_2, then TIME_WAIT while the
#    queue still holds bytes: the use-after-free of issue 9);
#  - client first: the app uploads and half-closes; once its FIN is acknowledged the
#    target sends its reply + FIN (lwIP: CLOSE_WAIT, then LAST_ACK -> ERR_CLSD with
#    the queue still full: the data loss of issue 9);
#  - simultaneous: both half-close at the same moment (IPv4 and IPv6);
# each SHA-256 checked at the target (the whole upload) and at the app (the reply).
# Resets: an app reset mid-upload reaches the target as a reset within 5 s, after
# a correct prefix; a target reset reaches the app's blocked upload as a reset
# within 5 s, after the whole reply it sent before. Against the ASan build the
# cleanup fails on any sanitizer report.
. "$(dirname "$0")/lib.sh"

FLOWS=${CLOSE_FLOWS:-4}
SEND=${CLOSE_SEND:-3145728}
RATE=${CLOSE_RATE:-131072}

need_root
need_bin
topo_up
# Socket buffers of at most 256 KiB (the namespaces' own sysctls): the kernels along
# the path hold ~2 MiB, so a 3 MiB upload keeps tun2socks' 1 MiB queue full.
for ns in "$CLI" "$SRV"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_rmem="4096 65536 262144" net.ipv4.tcp_wmem="4096 65536 262144" \
        || fail "socket buffer sysctls in $ns"
done
danted_start
echo_start
t2s_start
fds0=$(t2s_fds)

order() {
    local name=$1 host=$2; shift 2
    CLIENT_TIMEOUT=170 client "$CLI" closeorder --host "$host" --port "$ORDER_PORT" --rate "$RATE" \
        --send "$SEND" --timeout 150 "$@" >"$LOGDIR/order-$name.log" 2>&1
}

t0=$(now)
pids=() names=()
run_bg() { local name=$1; order "$@" & pids+=($!); names+=("$name"); BG_PIDS+=($!); }
run_bg server "$TGT4" --order server -n "$FLOWS"
run_bg client "$TGT4" --order client -n "$FLOWS"
run_bg simul "$TGT4" --order simul -n "$FLOWS"
run_bg simul6 "$TGT6" --order simul -n 2
run_bg server6 "$TGT6" --order server -n 2
run_bg appreset "$TGT4" --order appreset -n 2 --reset-after 2097152
run_bg tgtreset "$TGT4" --order tgtreset -n 2 --reset-after 524288
clients_done() { local p; for p in "${pids[@]}"; do proc_done "$p" || return 1; done; }
done_or_dead() { clients_done || ! t2s_alive; }
wait_until 180 done_or_dead
t2s_alive || fail "tun2socks died during the close orders: $(grep -m1 -E 'Sanitizer|runtime error' "$T2S_LOG")"
bad=()
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || bad+=("${names[$i]}")
    forget_pid "${pids[$i]}"
done
cat "$LOGDIR"/order-*.log >&2
info "all orders done in $(elapsed "$t0") s"
[ ${#bad[@]} = 0 ] || fail "close orders failed: ${bad[*]}"
t2s_alive || fail "tun2socks died"
check_no_fd_leak "$fds0"
