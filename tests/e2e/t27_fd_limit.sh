#!/bin/bash
# SPDX-License-Identifier: MIT
# Out of file descriptors: tun2socks runs under a hard RLIMIT_NOFILE it cannot raise.
# Connections beyond what it can hold are refused at once (RST; a new UDP flow or DNS
# query over TCP gets ICMP port unreachable), never left hanging; the held ones keep relaying correct
# bytes; the episode is logged once and counted; once the held ones close, new
# connections work again and the descriptors are back to the baseline.
. "$(dirname "$0")/lib.sh"

LIMIT=${FD_LIMIT:-64}
N=${FD_CONNS:-120}

topo_up
danted_conf_udp
danted_start
echo_start
udp_echo_start
# (prlimit execs the rest: a wrapper such as valgrind from tests/valgrind/run runs
# under the limit too.)
# --dns tcp: queries to port 53 take a TCP socket each (DNS over TCP), other UDP an
# association.
# No spare UDP associations (--udp-pool 0, and no start-up probe whose association
# would become one): a new UDP flow must need a new descriptor.
T2S_EXTRA="--dns tcp --udp associate --udp-pool 0" T2S_WRAPPER="prlimit --nofile=$LIMIT:$LIMIT ${T2S_WRAPPER:-}" t2s_start
grep -qE "^Max open files +$LIMIT +$LIMIT " "/proc/$T2S_PID/limits" \
    || fail "tun2socks does not run with the limit: $(grep 'open files' "/proc/$T2S_PID/limits")"
fds0=$(t2s_fds)
info "baseline: $fds0 descriptors of $LIMIT"

hold=$WORK/held go=$WORK/go
in_cli "$PY" "$E2E_DIR/stress.py" fdhold --host "$TGT4" --port "$ECHO_PORT" -n "$N" --size 65536 \
    --min-refused $((N - (LIMIT - fds0) - 2)) --min-held $((LIMIT - fds0 - 8)) --max-refuse 2 \
    --udp-probe "$TGT4:$UDP_ECHO_PORT" --udp-probe "$DNS4:53" --hold-file "$hold" --go-file "$go" >"$LOGDIR/fdhold.log" 2>&1 &
cpid=$!
BG_PIDS+=("$cpid")
held_or_done() { [ -s "$hold" ] || proc_done "$cpid"; }
wait_until 60 held_or_done && [ -s "$hold" ] || { cat "$LOGDIR/fdhold.log" >&2; fail "client did not get to hold its connections"; }
info "$(cat "$hold") connections held; $(t2s_fds) descriptors open"
t2s_alive || fail "tun2socks died when it ran out of descriptors"
grep -q "out of file descriptors (Too many open files)" "$T2S_LOG" || fail "no log line for the exhaustion"
[ "$(t2s_stat fd_exhaustion_episodes)" = 1 ] && [ "$(t2s_stat fd_exhausted)" = 1 ] \
    || fail "stats do not show one episode under way: $(grep ' stats: ' "$T2S_LOG" | tail -1)"
[ "$(t2s_stat fd_exhaustion_refused)" -ge 1 ] || fail "stats do not count the refusals"
[ "$(t2s_stat dns_tcp_refused)" -ge 1 ] || fail "the DNS query was not refused: $(grep ' stats: ' "$T2S_LOG" | tail -1)"
touch "$go"
wait "$cpid"; rc=$?
forget_pid "$cpid"
cat "$LOGDIR/fdhold.log" >&2
[ "$rc" = 0 ] || fail "fdhold client failed"
grep -q "recovered from file descriptor exhaustion" "$T2S_LOG" || fail "no 'recovered' log line"
n=$(grep -c "out of file descriptors (" "$T2S_LOG")
[ "$n" = 1 ] || fail "exhaustion logged $n times for one episode"
t2s_alive || fail "tun2socks died"
check_no_fd_leak "$fds0"
client "$CLI" concurrent --host "$TGT4" --port "$ECHO_PORT" -n 20 --size 65536 --timeout 20 \
    || fail "traffic after recovery"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
