#!/bin/bash
# SPDX-License-Identifier: MIT
# Fairness at the limits, and logs that a burst of connections cannot flood:
#  - at --max-flows, every SYN beyond the cap is refused at once with RST (each
#    connect fails with ECONNREFUSED within 1 s; before, the SYN was dropped and the
#    application retried for a minute), counted (tcp_refused_cap, tcp_cap_episodes),
#    and logged once when the episode starts and once when it ends;
#  - the per-flow line "proxy could not connect" is rate-limited: a burst of refused
#    connections logs one line per 5 s, and the next line says how many it held back.
. "$(dirname "$0")/lib.sh"

EXTRA=${MAXFLOWS_EXTRA:-40}
BURST=${REFUSED_BURST:-60}

T2S_EXTRA="--max-flows 3"
setup_default echo_start

out=$(client "$CLI" maxflows --host "$TGT4" --port "$LINE_PORT" -n 3 --extra "$EXTRA" --max 1.0 2>&1) \
    || fail "--max-flows 3: $out"
info "$out"
refused=$(printf '%s\n' "$out" | sed -n 's/.*refused=\([0-9]*\).*/\1/p')
[ -n "$refused" ] || fail "client did not report its refusals"
starts=$(grep -c "at --max-flows ([0-9]* TCP connections open): new connections are refused" "$T2S_LOG")
ends=$(grep -c "below --max-flows again after" "$T2S_LOG")
[ "$starts" = 1 ] && [ "$ends" = 1 ] \
    || fail "one episode logged as $starts start and $ends end lines: $(grep -- '--max-flows' "$T2S_LOG" | head -5)"
n=$(t2s_stat tcp_refused_cap)
[ "$n" = "$refused" ] || fail "tcp_refused_cap=$n, but the client saw $refused refusals"
n=$(t2s_stat tcp_cap_episodes)
[ "$n" = 1 ] || fail "tcp_cap_episodes=$n, expected 1"
info "$refused connections beyond --max-flows refused, 1 episode, logged once at each edge"

# A burst of connections the proxy cannot complete (REP 5: nothing listens there).
t0=$(now)
client "$CLI" refused --host "$TGT4" --port "$CLOSED_PORT" -n "$BURST" --max 3 >/dev/null || fail "refused burst"
took=$(elapsed "$t0")
lines=$(grep -c "proxy could not connect" "$T2S_LOG")
allowed=$(awk -v t="$took" 'BEGIN { printf "%d", 2 + t / 5 }')
[ "$lines" -ge 1 ] && [ "$lines" -le "$allowed" ] \
    || fail "$BURST refused connections in $took s logged $lines lines (at most $allowed expected)"
[ "$(t2s_stat tcp_failed)" -ge "$BURST" ] || fail "tcp_failed does not count the burst"
# Once the interval has passed, the next such line counts the ones held back.
refuse_and_summarize() {
    client "$CLI" refused --host "$TGT4" --port "$CLOSED_PORT" --max 3 >/dev/null
    grep -q "proxy could not connect: .* (and [0-9]* more like it since the last such line)" "$T2S_LOG"
}
wait_until 15 refuse_and_summarize || fail "no line summarizing the held-back ones"
info "$BURST refused connections in $took s: $lines log lines; then: $(grep -o '(and [0-9]* more like it[^)]*)' "$T2S_LOG" | head -1)"
t2s_alive || fail "tun2socks died"
