#!/bin/bash
# SPDX-License-Identifier: MIT
# Memory budget: STALL_N (default 1000) connections write 2-4 KiB segments to a target
# that accepts and never reads, after STALL_OOSEQ connections made by hand left
# out-of-order segments in tun2socks (tuninject.py ooseq). tun2socks runs with
# --max-memory $BUDGET. Pass: its RSS stays under the idle baseline plus the budget;
# past the budget a new connection is refused at once (RST) and the log has one
# episode line; once the stalled connections are reset, new connections work again
# and the accounted memory is back under half the budget. Then: UDP datagrams held for
# an association that a silent proxy never sets up are refused after --connect-timeout.
. "$(dirname "$0")/lib.sh"

N=${STALL_N:-1000}
NOOSEQ=${STALL_OOSEQ:-50}
BUDGET_MB=${STALL_BUDGET_MB:-48}
SINK_PORT=7020
PROBE_PORT=7021

ulimit -n "$(ulimit -Hn)" || fail "cannot raise the open file limit"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((N + 512)) ] || fail "open file limit $(ulimit -n) too low"

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$T2S_PID/status"; }
probe() { in_cli "$PY" "$E2E_DIR/stall.py" probe --host "$TGT4" --port "$PROBE_PORT" "$@"; }

topo_up
# Small socket buffers in the test's namespaces: the backlog of a stalled connection
# then piles up in tun2socks (what is measured), not in kernel buffers.
for ns in "$CLI" "$SRV"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_rmem="4096 16384 65536" net.ipv4.tcp_wmem="4096 16384 65536" \
        net.ipv4.ip_local_port_range="10000 65000" net.core.somaxconn=8192 || fail "sysctl in $ns"
done
danted_start
start_bg sink "$SRV" "$PY" "$E2E_DIR/stall.py" sink --bind "$TGT4" --port "$SINK_PORT"
start_bg probe_echo "$SRV" "$PY" "$E2E_DIR/stress.py" serve --bind "$TGT4" --port "$PROBE_PORT"
wait_until 10 listening "$SRV" "$TGT4" "$SINK_PORT" || fail "sink did not listen"
wait_until 10 listening "$SRV" "$TGT4" "$PROBE_PORT" || fail "probe echo did not listen"
# STALL_MEM_OPT= (empty) runs a binary without --max-memory, for a figure to compare.
T2S_EXTRA="${STALL_MEM_OPT---max-memory ${BUDGET_MB}M} --max-flows $((N + 1000))" t2s_start

probe --expect ok --within 10 >>"$LOGDIR/probe.log" 2>&1 || fail "first probe: $(tail -1 "$LOGDIR/probe.log")"
rss0=$(rss_kb)
info "idle: RSS $rss0 kB, budget $BUDGET_MB MiB"

# Out-of-order data first (the handshakes need room under the budget).
in_cli "$PY" "$E2E_DIR/tuninject.py" ooseq --dev "$TUN" --dst4 "$TGT4" --dst6 "$TGT6" --port "$SINK_PORT" \
    --count "$NOOSEQ" --segs 256 --seg-size 1400 >"$LOGDIR/ooseq.log" 2>&1 \
    || fail "ooseq injection: $(tail -1 "$LOGDIR/ooseq.log")"
t2s_stats_now
rss_oo=$(rss_kb)
info "$(cat "$LOGDIR/ooseq.log"); RSS $rss0 -> $rss_oo kB ($(( (rss_oo - rss0) / NOOSEQ )) kB per connection)"
# 256 segments of 1400 bytes beyond a hole: lwIP keeps at most 64 pbufs (256 KiB) of
# them per pcb, ~100 kB with their headers; without a limit all 360 kB stay.
if [ -z "${T2S_E2E_SANITIZED:-}" ]; then
    [ $((rss_oo - rss0)) -le $((NOOSEQ * 160)) ] || fail "out-of-order data: RSS grew by $((rss_oo - rss0)) kB for $NOOSEQ connections"
fi

hold=$WORK/stalled go=$WORK/go
in_cli "$PY" "$E2E_DIR/stall.py" stall --host "$TGT4" --port "$SINK_PORT" -n "$N" --min 2048 --max 4096 \
    --quiet 3 --deadline 150 --hold-file "$hold" --go-file "$go" >"$LOGDIR/stall.log" 2>&1 &
cpid=$!
BG_PIDS+=("$cpid")
rss_peak=$rss0
stalled_or_done() {
    local r
    r=$(rss_kb) && [ "$r" -gt "$rss_peak" ] && rss_peak=$r
    [ -s "$hold" ] || proc_done "$cpid"
}
# (wait_until runs the check in this shell, so rss_peak is kept.)
wait_until 200 stalled_or_done
[ -s "$hold" ] || { cat "$LOGDIR/stall.log" >&2; fail "the stalling client did not finish"; }
t2s_alive || fail "tun2socks died under the stalled load"
read -r _ opened _ refused _ sent <"$hold"
t2s_stats_now
used=$(t2s_statv mem_used) limit=$(t2s_statv mem_limit) episodes=$(t2s_statv mem_episodes) mem_refused=$(t2s_statv mem_refused)
info "stalled: $opened open, $refused refused, $sent bytes sent; RSS $rss0 -> peak $rss_peak kB" \
     "($(( (rss_peak - rss0) / (opened > 0 ? opened : 1) )) kB per stalled connection);" \
     "accounted $used of $limit bytes, episodes $episodes, refused $mem_refused, dropped $(t2s_statv mem_dropped)"
[ "$opened" -ge 100 ] || fail "only $opened connections got through"
if [ -z "${T2S_E2E_SANITIZED:-}" ]; then
    # (A sanitizer build's RSS is its shadow memory and quarantine: not checked.)
    [ "$rss_peak" -le $((rss0 + BUDGET_MB * 1024)) ] \
        || fail "RSS peaked at $rss_peak kB: more than the idle $rss0 kB plus the $BUDGET_MB MiB budget"
fi

# Past the budget: refused at once (the stalled flows hold it full), one episode in
# the log however many are refused. The stalled flows keep the accounted memory at the
# bar itself (data past it is dropped at the TUN), so until an episode has begun a probe
# may find it a few bytes under and be admitted; the first refusal begins one, and from
# then on every new flow is refused until the memory falls an eighth below the bar.
for i in $(seq 10); do
    probe --expect refused --within 1 >>"$LOGDIR/probe.log" 2>&1 && break
    [ "$i" -lt 10 ] || fail "10 probes past the budget admitted (accounted $used of $limit): $(tail -1 "$LOGDIR/probe.log")"
done
[ "$i" = 1 ] || info "probes past the budget: $((i - 1)) admitted at the bar before the first refusal"
for i in 1 2 3; do
    probe --expect refused --within 1 >>"$LOGDIR/probe.log" 2>&1 \
        || fail "probe $i after the first refusal (accounted $used of $limit): $(tail -1 "$LOGDIR/probe.log")"
done
info "past the budget: $(tail -1 "$LOGDIR/probe.log")"
t2s_stats_now
[ "$(t2s_statv mem_episodes)" = 1 ] || fail "$(t2s_statv mem_episodes) budget episodes, expected 1"
[ "$(t2s_statv mem_refused)" -ge 3 ] || fail "only $(t2s_statv mem_refused) refusals counted"
n=$(grep -c "over the memory budget (--max-memory) (" "$T2S_LOG")
[ "$n" = 1 ] || fail "$n episode lines in the log, expected 1"

# The stalled connections reset: memory and new connections come back.
touch "$go"
wait "$cpid"; rc=$?
forget_pid "$cpid"
cat "$LOGDIR/stall.log" >&2
[ "$rc" = 0 ] || fail "stalling client failed"
t0=$(now)
probe_ok() { probe --expect ok --within 5 >>"$LOGDIR/probe.log" 2>&1; }
wait_until 30 probe_ok || fail "no new connection works 30 s after the stalled ones were reset: $(tail -1 "$LOGDIR/probe.log")"
info "recovered after $(elapsed "$t0") s: $(tail -1 "$LOGDIR/probe.log")"
grep -q "back under the memory budget (--max-memory) after" "$T2S_LOG" || fail "no end-of-episode log line"
under_half() { t2s_stats_now; [ "$(t2s_statv mem_used)" -lt $((limit / 2)) ]; }
wait_until 20 under_half || fail "accounted memory still $(t2s_statv mem_used) of $limit bytes after the reset"
info "after: accounted $(t2s_statv mem_used) bytes, RSS $(rss_kb) kB, $(t2s_statv tcp_flows) TCP flows left"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exited with status $T2S_STATUS"

# Tiny segments queued behind a slow target are packed densely (collapsed) and still
# arrive intact. The connection is made by hand (tuninject.py tiny): each of
# STALL_TINY_SEGS writes of 1-64 bytes reaches tun2socks as one segment, whatever the
# load (a kernel client coalesces them when its window is full). The target reads
# nothing until all of them and the FIN are acknowledged: ~780 kB fit in lwIP's 1 MiB
# window, and at most a few hundred kB in the socket buffers after tun2socks (64 KiB
# caps above, a 4 KiB receive buffer at the target), so thousands of tiny segments
# wait in its queue. Segment 12000 is left out the first time: the injector's
# retransmission (from the first unacknowledged segment) is exercised too.
TINY_PORT=7022 TINY_SEGS=${STALL_TINY_SEGS:-24000}
tiny_go=$WORK/tiny_go tiny_got=$WORK/tiny_got tiny_sent=$WORK/tiny_sent
start_bg slowsink "$SRV" "$PY" "$E2E_DIR/stall.py" slowsink --bind "$TGT4" --port "$TINY_PORT" \
    --go-file "$tiny_go" --out "$tiny_got"
wait_until 10 listening "$SRV" "$TGT4" "$TINY_PORT" || fail "slowsink did not listen"
T2S_EXTRA= t2s_start
in_cli "$PY" "$E2E_DIR/tuninject.py" tiny --dev "$TUN" --dst4 "$TGT4" --dst6 "$TGT6" --port "$TINY_PORT" \
    --segs "$TINY_SEGS" --min 1 --max 64 --flight 256 --lose 12000 --deadline 120 --out "$tiny_sent" \
    >"$LOGDIR/tiny.log" 2>&1 \
    || fail "tiny segments: $(tail -1 "$LOGDIR/tiny.log")"
t2s_stats_now
collapses=$(t2s_statv tcp_collapses)
touch "$tiny_go"
wait_until 60 test -s "$tiny_got" || fail "the slow target did not read the tiny stream to its end within 60 s"
[ "$(cat "$tiny_got")" = "$(cat "$tiny_sent")" ] \
    || fail "tiny stream: the target got $(cat "$tiny_got"), sent $(cat "$tiny_sent") (SHA-256 bytes)"
[ "${collapses:-0}" -ge 1 ] || fail "the tiny segments were never collapsed: the check proves nothing"
info "$(tail -1 "$LOGDIR/tiny.log"); SHA-256 checked; $collapses collapses"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exited with status $T2S_STATUS"

# UDP held while an association is set up has a deadline: a proxy that never answers
# UDP ASSOCIATE gets the datagram refused (ICMP) after --connect-timeout, not kept
# until the 60 s idle timeout and then dropped without a word.
BAD_PORT=1090
start_bg badproxy "$SRV" "$PY" "$E2E_DIR/badproxy.py" --bind "$SRV_IP4" --port "$BAD_PORT" --mode silent
wait_until 10 listening "$SRV" "$SRV_IP4" "$BAD_PORT" || fail "badproxy did not listen"
T2S_EXTRA= t2s_start --proxy "socks5://$SRV_IP4:$BAD_PORT" --udp associate --udp-pool 0 --connect-timeout 2
udp_client "$CLI" refused --host "$TGT4" --port 7100 --max 5 >"$LOGDIR/udp_refused.log" 2>&1 \
    || fail "UDP to a proxy that never answers: $(tail -1 "$LOGDIR/udp_refused.log")"
info "UDP through a silent proxy: $(tail -1 "$LOGDIR/udp_refused.log") (--connect-timeout 2)"
grep -q "no UDP association within 2 s (--connect-timeout)" "$T2S_LOG" || fail "no log line for the UDP setup deadline"
t2s_stop
