#!/bin/bash
# SPDX-License-Identifier: MIT
# `tun2socks top` in tmux during a known transfer: curl GETs 12 MiB at 1 MiB/s; the
# pane shows the header (TUN, flow counts), curl's connection to the target relaying
# with a rate in KiB/s or MiB/s, and, with --programs, curl's name; `q` quits at once
# and the terminal gets its cursor back. The file arrives whole (sha256).
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || fail "tmux is not installed"
setup_default httpd_start

head -c 12M /dev/urandom >"$WORK/www/big.bin" || fail "cannot create test file"
want=$(sha256sum <"$WORK/www/big.bin" | cut -d' ' -f1)
start_bg curl "$CLI" curl -q --noproxy '*' -sS --fail --max-time 90 --limit-rate 1M \
    -o "$WORK/dl.bin" "http://$TGT4:$HTTP_PORT/big.bin"
CURL_PID=$BG_PID

TM=(tmux -S "$WORK/tmux.sock")
"${TM[@]}" -f /dev/null new-session -d -s top -x 200 -y 40 \
    "ip netns exec $CLI $T2S_BIN top --interval 0.5 --programs; echo TOP-EXITED \$?; sleep 30" \
    || fail "cannot start tmux"
TMUX_PID=$("${TM[@]}" display-message -p '#{pid}')
BG_PIDS+=("$TMUX_PID")
pane() { "${TM[@]}" capture-pane -p -t top; }
shows_transfer() {
    local p
    p=$(pane) || return 1
    grep -q "tun2socks top - $TUN, up " <<<"$p" &&
        grep -q "1 TCP" <<<"$p" &&
        grep -Eq "curl +tcp +198\.18\.128\.1:[0-9]+ +$TGT4:$HTTP_PORT +relaying .*(KiB|MiB)/s" <<<"$p"
}
wait_until 20 shows_transfer || { pane >"$LOGDIR/pane.txt"; fail "top never showed the transfer (pane in $LOGDIR/pane.txt)"; }
pane >"$LOGDIR/pane.txt"
info "top: $(grep "$TGT4:$HTTP_PORT" "$LOGDIR/pane.txt" | tr -s ' ')"
# It refreshes: the flow's age goes up between two captures. (Not its bytes in: the
# 12 MiB can sit whole in the buffers between the server and curl's reads, so IN may
# stay put for seconds while curl reads at 1 MiB/s.)
flow_age() { pane | grep "$TGT4:$HTTP_PORT" | awk '{ print $7 }'; }
first=$(flow_age)
[ -n "$first" ] || fail "top shows no age for the flow"
changed() { local a; a=$(flow_age); [ -n "$a" ] && [ "$a" != "$first" ]; }
wait_until 5 changed || fail "top does not refresh (the flow's age stays $first)"

"${TM[@]}" send-keys -t top q
exited() { pane | grep -q "TOP-EXITED 0"; }
wait_until 5 exited || { pane >"$LOGDIR/pane-after-q.txt"; fail "q did not end top with status 0"; }
info "q quit top"
"${TM[@]}" kill-server
wait_until 5 proc_done "$TMUX_PID"; forget_pid "$TMUX_PID"

wait_until 60 proc_done "$CURL_PID" || fail "curl did not finish"
wait "$CURL_PID" || fail "curl failed (status $?)"
forget_pid "$CURL_PID"
got=$(sha256sum <"$WORK/dl.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "GET: sha256 mismatch"
t2s_alive || fail "tun2socks died"
