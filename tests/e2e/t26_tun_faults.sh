#!/bin/bash
# SPDX-License-Identifier: MIT
# Faults on both sides while checksummed transfers run.
#  1. Hostile packets into the TUN (malformed, truncated, bad checksums, odd TCP
#     options, fragments, oversized, random) and a SYN flood from thousands of
#     spoofed sources: tun2socks neither crashes nor corrupts the transfers, counts
#     the drops, gives back its descriptors, keeps its RSS bounded, and a new
#     connection works afterwards.
#  2. The target resets a connection mid-stream: the application sees a reset or
#     EOF promptly, not a hang.
#  3. The proxy is killed (SIGKILL) mid-transfer: the application sees an error
#     promptly; after the proxy restarts, new connections work.
. "$(dirname "$0")/lib.sh"

LOAD_PORT=7010
RST_PORT=7011
RSS_SLACK_KB=${RSS_SLACK_KB:-65536}

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$T2S_PID/status"; }

topo_up
danted_conf_udp
danted_start
echo_start
httpd_start
udp_echo_start
start_bg load_echo "$SRV" "$PY" "$E2E_DIR/stress.py" serve --bind "$TGT4" --bind "$TGT6" --port "$LOAD_PORT"
start_bg rst_echo "$SRV" "$PY" "$E2E_DIR/stress.py" serve --bind "$TGT4" --port "$RST_PORT" --rst-after 4194304
wait_until 10 listening "$SRV" "$TGT4" "$LOAD_PORT" || fail "stress.py serve did not listen"
wait_until 10 listening "$SRV" "$TGT4" "$RST_PORT" || fail "stress.py serve --rst-after did not listen"
# Half-open flows of the SYN flood end after --connect-timeout, the UDP mappings
# the junk opened after --udp-timeout.
T2S_EXTRA="--connect-timeout 3 --udp-timeout 5" t2s_start

fds0=$(t2s_fds)
rss0=$(rss_kb)
info "before: RSS $rss0 kB, $fds0 descriptors"

# ---- 1. hostile packets while transfers run
head -c 192M /dev/urandom >"$WORK/www/big.bin" || fail "cannot create test file"
want=$(sha256sum <"$WORK/www/big.bin" | cut -d' ' -f1)
CURL_MAX_TIME=120 cli_curl --limit-rate 24M -o "$WORK/dl.bin" "http://$TGT4:$HTTP_PORT/big.bin" \
    >"$LOGDIR/curl.log" 2>&1 &
curl_pid=$!
BG_PIDS+=("$curl_pid")
CLIENT_TIMEOUT=120 client "$CLI" concurrent --host "$TGT4" --port "$ECHO_PORT" -n 4 --size 16777216 --timeout 60 \
    >"$LOGDIR/concurrent.log" 2>&1 &
conc_pid=$!
BG_PIDS+=("$conc_pid")
wait_until 10 test -s "$WORK/dl.bin" || fail "the download did not start"

rss_peak=$rss0
sample_rss() { local r; r=$(rss_kb); [ -n "$r" ] && [ "$r" -gt "$rss_peak" ] && rss_peak=$r; return 0; }
in_cli "$PY" "$E2E_DIR/tuninject.py" junk --dev "$TUN" --dst4 "$TGT4" --dst6 "$TGT6" --port "$LOAD_PORT" \
    --rounds 3 --random 6000 --seed 22 >"$LOGDIR/inject.log" 2>&1 || fail "injector failed: $(tail -3 "$LOGDIR/inject.log")"
sample_rss
t2s_alive || fail "tun2socks died from junk packets"
in_cli "$PY" "$E2E_DIR/tuninject.py" synflood --dev "$TUN" --dst4 "$TGT4" --dst6 "$TGT6" \
    --ports "$LOAD_PORT,$CLOSED_PORT,$LOAD_PORT" --count 3000 --rate 1500 --seed 23 \
    >>"$LOGDIR/inject.log" 2>&1 || fail "SYN flood failed: $(tail -3 "$LOGDIR/inject.log")"
sample_rss
cat "$LOGDIR/inject.log" >&2
t2s_alive || fail "tun2socks died in the SYN flood"

transfers_done() { proc_done "$curl_pid" && proc_done "$conc_pid"; }
while ! transfers_done; do sample_rss; wait_until 1 transfers_done; done
wait "$curl_pid" || fail "download failed during the injection: $(tail -3 "$LOGDIR/curl.log")"
forget_pid "$curl_pid"
got=$(sha256sum <"$WORK/dl.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "download corrupted: sha256 mismatch ($(stat -c %s "$WORK/dl.bin") bytes)"
wait "$conc_pid" || fail "echo transfers failed during the injection: $(tail -3 "$LOGDIR/concurrent.log")"
forget_pid "$conc_pid"
info "transfers intact: 192 MiB download and 4 x 16 MiB echo checked"
t2s_alive || fail "tun2socks died"

check_no_fd_leak "$fds0"
malformed=$(t2s_stat malformed)
frags=$(t2s_stat fragments_dropped)
line="malformed=$malformed fragments_dropped=$frags"
info "counters: $line"
[ "${malformed:-0}" -gt 100 ] || fail "malformed packets not counted: $line"
[ "${frags:-0}" -gt 0 ] || fail "dropped fragments not counted: $line"
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 5 || fail "new connection after the injection"
client "$CLI" probe --host "$TGT6" --port "$LINE_PORT" --max 5 || fail "new IPv6 connection after the injection"
rss1=$(rss_kb)
info "RSS: before $rss0 kB, peak $rss_peak kB, after $rss1 kB; descriptors $(t2s_fds) (baseline $fds0)"
# (ASan keeps freed memory in quarantine, up to 256 MiB: RSS says nothing there.)
[ -n "${T2S_E2E_SANITIZED:-}" ] || [ "$rss1" -le $((rss0 + RSS_SLACK_KB)) ] || fail "RSS grew from $rss0 kB to $rss1 kB"

# ---- 2. the target resets mid-stream
client_mid() { # client_mid PORT NAME
    in_cli timeout -k 2 60 "$PY" "$E2E_DIR/stress.py" midstream --host "$TGT4" --port "$1" \
        --hold-after 1048576 --hold-file "$WORK/$2.held" --max 5 --stall 15 >"$LOGDIR/$2.log" 2>&1
}
client_mid "$RST_PORT" target_rst || fail "target reset: $(tail -2 "$LOGDIR/target_rst.log")"
info "target reset: $(cat "$LOGDIR/target_rst.log")"
grep -qE "midstream: (ECONNRESET|eof) " "$LOGDIR/target_rst.log" || fail "target reset: unexpected outcome"

# ---- 3. the proxy is killed mid-transfer
client_mid "$LOAD_PORT" proxy_kill &
mid_pid=$!
BG_PIDS+=("$mid_pid")
wait_until 20 test -s "$WORK/proxy_kill.held" || fail "transfer for the proxy kill did not start"
for p in $(ip netns pids "$SRV"); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = danted ] && kill -KILL "$p"
done
wait "$mid_pid"; rc=$?
forget_pid "$mid_pid"
info "proxy killed: $(cat "$LOGDIR/proxy_kill.log")"
[ "$rc" = 0 ] || fail "proxy killed: $(tail -2 "$LOGDIR/proxy_kill.log")"
wait "$DANTE_PID" 2>/dev/null
forget_pid "$DANTE_PID"
wait_until 5 not listening "$SRV" "$SRV_IP4" "$DANTE_PORT" || fail "danted port still open after SIGKILL"
t2s_alive || fail "tun2socks died when the proxy was killed"
client "$CLI" probe --expect fail --host "$TGT4" --port "$LINE_PORT" --max 3 || fail "proxy down: no prompt failure"
danted_start
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 5 || fail "connection after the proxy restart"
client "$CLI" concurrent --host "$TGT4" --port "$ECHO_PORT" -n 10 --size 1048576 --timeout 20 \
    || fail "traffic after the proxy restart"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
