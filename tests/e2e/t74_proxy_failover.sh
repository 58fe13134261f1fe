#!/bin/bash
# SPDX-License-Identifier: MIT
# Several proxies (issue 14): two danted, A first and B second.
# 1. SIGKILL A during traffic: within the check interval new connections and new UDP
#    mappings go through B; a download started through B stays intact (SHA-256) while A comes back and
#    new connections fail back to A (first-healthy); the log says what happened.
# 2. The SYN gate's retry: A refusing connections and never judged down (a high
#    --proxy-fall), every new connection is tried on A, then on B, and the
#    application's connect succeeds (no RST); the log names the retry.
# 3. B given by name: looked up on the loop, down until then.
# 4. A first proxy that accepts and never answers: each connection moves on to B
#    after --proxy-check-timeout, inside the SYN gate.
# 5. Reloads that change the list.
# 6. round-robin alternates.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
danted_conf_udp
danted_start
danted_b_start
httpd_start
udp_echo_start
size_mb=32
head -c "${size_mb}M" /dev/urandom >"$WORK/www/big.bin" || fail "test file"
want=$(sha256sum <"$WORK/www/big.bin" | cut -d' ' -f1)
# CONNECTs to the web server begun through a danted (its log's session-start lines);
# the proxies' checks (CONNECT to 127.0.0.1:9) are not counted.
connects() { grep -c "tcp/connect \[: .* ${TGT4//./\\.}\\.$HTTP_PORT\$" "$1" 2>/dev/null || true; }
A_LOG=$LOGDIR/danted.log
B_LOG=$LOGDIR/danted_b.log

# Every danted of A (the main process and its children): only those reading danted.conf.
kill_a() {
    local p
    for p in $(ip netns pids "$SRV" 2>/dev/null); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = danted ] || continue
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "$WORK/danted.conf " && kill -KILL "$p" 2>/dev/null
    done
}
a_gone() { ! listening "$SRV" "$SRV_IP4" "$DANTE_PORT"; }
start_a() {
    start_bg danted "$SRV" danted -f "$WORK/danted.conf" -p "$WORK/danted.pid" -N 2
    wait_until 10 listening "$SRV" "$SRV_IP4" "$DANTE_PORT" || fail "danted A did not listen again"
}

# ---- 1. SIGKILL A, fail over to B, fail back to A
INTERVAL=0.5
t2s_start --proxy "socks5://$SRV_IP4:$DANTE_PORT" --proxy "socks5://$SRV_IP4:$B_PORT" \
    --proxy-check-interval "$INTERVAL" --proxy-check-timeout 1 --proxy-fall 2 --proxy-rise 2 --connect-timeout 5 \
    --control "$WORK/t2s.control" --metrics 9478
a0=$(connects "$A_LOG")
b0=$(connects "$B_LOG")
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "a request through A failed"
[ "$peer" = "$SRV_IP4" ] || fail "the target saw '$peer'"
a_more() { [ "$(connects "$A_LOG")" -gt "$1" ]; }
b_more() { [ "$(connects "$B_LOG")" -gt "$1" ]; }
wait_until 5 a_more "$a0" || fail "the first request did not go through A"

# Traffic while A dies: requests in a loop, bounded.
( for _ in $(seq 1 400); do
      in_cli curl -q --noproxy '*' -s -o /dev/null --max-time 3 "http://$TGT4:$HTTP_PORT/peer"
  done ) >/dev/null 2>&1 &
LOOP_PID=$!
BG_PIDS+=("$LOOP_PID")
killed_at=$(now)
kill_a
wait_until 5 a_gone || fail "danted A still listens after SIGKILL"
wait_until 10 grep -q "proxy 0 (.*) is down" "$T2S_LOG" || fail "A's failure not logged: $(tail -5 "$T2S_LOG")"
wait_until 5 grep -q "new connections go to proxy 1" "$T2S_LOG" || fail "no failover logged"
# When the log says so, against the SIGKILL: at most fall checks of INTERVAL plus a
# check's timeout (live flows' failures usually tell sooner).
at=$(grep -m1 "new connections go to proxy 1" "$T2S_LOG" | cut -d' ' -f1)
took=$(awk -v a="$killed_at" -v b="$(date -d "$at" +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
info "A judged down and B active ${took}s after SIGKILL (by the log)"
awk -v t="$took" -v i="$INTERVAL" 'BEGIN { exit !(t <= i * 2 + 1 + 0.5) }' || fail "failover took ${took}s"
b1=$(connects "$B_LOG")
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "a new connection after A died failed"
wait_until 5 b_more "$b1" || fail "the new connection did not go through B"
kill "$LOOP_PID" 2>/dev/null
wait "$LOOP_PID" 2>/dev/null
# A new UDP mapping: its association is B's.
assoc_b() { grep -c 'udp/udpassociate \[:' "$B_LOG" 2>/dev/null || true; }
u0=$(assoc_b)
udp_client "$CLI" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 2 --count 3 --size 200 \
    || fail "UDP echo after the failover failed"
u_more() { [ "$(assoc_b)" -gt "$u0" ]; }
wait_until 5 u_more || fail "the new UDP mappings did not associate through B"

# A download through B, rate-limited so that it spans A's return.
in_cli curl -q --noproxy '*' -sS --fail --max-time 120 --limit-rate 4M -o "$WORK/got.bin" \
    "http://$TGT4:$HTTP_PORT/big.bin" >"$LOGDIR/curl.log" 2>&1 &
CURL_PID=$!
BG_PIDS+=("$CURL_PID")
got_some() { [ "$(stat -c %s "$WORK/got.bin" 2>/dev/null || echo 0)" -gt $((2 << 20)) ]; }
wait_until 30 got_some || fail "the download did not start through B"
start_a
wait_until 10 grep -q "proxy 0 (.*) is up" "$T2S_LOG" || fail "A's return not logged"
wait_until 5 grep -q "new connections go to proxy 0" "$T2S_LOG" || fail "no fail back logged"
[ "$(stat -c %s "$WORK/got.bin")" -lt $((size_mb << 20)) ] || fail "the download was over before A returned"
a1=$(connects "$A_LOG")
cli_curl "http://$TGT4:$HTTP_PORT/peer" >/dev/null || fail "a request after A returned failed"
wait_until 5 a_more "$a1" || fail "the request after A returned did not go through A (no fail back)"
wait_until 120 proc_done "$CURL_PID" || fail "the download did not finish"
wait "$CURL_PID" || fail "curl failed: $(cat "$LOGDIR/curl.log")"
got=$(sha256sum <"$WORK/got.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "SHA-256 of the download through B differs"
info "$size_mb MiB through B across A's return: SHA-256 intact; new connections back on A"
kill -USR1 "$T2S_PID"
wait_until 5 grep -q "stats: proxies (first-healthy): proxy0=" "$T2S_LOG" || fail "no per-proxy stats line"
grep "stats: proxies" "$T2S_LOG" | tail -1 | grep -q "proxy1=$SRV_IP4:$B_PORT state=up" \
    || fail "B's state not in the stats line: $(grep 'stats: proxies' "$T2S_LOG" | tail -1)"
# `status` and /metrics: per proxy, its state and counters.
st=$(in_cli "$T2S_BIN" status --control "$WORK/t2s.control") || fail "status failed: $st"
grep -Eq "^ +0\. socks5://$SRV_IP4:$DANTE_PORT: up, active for .*; [0-9]+ flows .*down 1 up 1$" <<<"$st" \
    || fail "status: A's line: $(grep -A3 proxies <<<"$st")"
grep -Eq "^ +1\. socks5://$SRV_IP4:$B_PORT: up for .*down 0 up 0$" <<<"$st" || fail "status: B's line: $st"
m=$(in_cli curl -q --noproxy '*' -sS --fail --max-time 5 "http://127.0.0.1:9478/metrics") || fail "no /metrics"
grep -q "^tun2socks_proxy_active{proxy=\"0\",url=\"socks5://$SRV_IP4:$DANTE_PORT\"} 1$" <<<"$m" \
    || fail "metrics: A not active: $(grep proxy_active <<<"$m")"
grep -q "^tun2socks_proxy_transitions_total{proxy=\"0\",url=\"[^\"]*\",to=\"down\"} 1$" <<<"$m" \
    || fail "metrics: A's transitions: $(grep transitions <<<"$m")"
grep -Eq "^tun2socks_proxy_picked_total\{proxy=\"1\",url=\"[^\"]*\"\} [1-9]" <<<"$m" || fail "metrics: B picked nothing"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"

# ---- 2. The SYN gate's retry: A refuses, B serves, the application never sees an RST.
kill_a
wait_until 5 a_gone || fail "danted A still listens"
from=$(($(wc -l <"$T2S_LOG") + 1))
log2() { tail -n +"$from" "$T2S_LOG"; }
t2s_start --proxy "socks5://$SRV_IP4:$DANTE_PORT" --proxy "socks5://$SRV_IP4:$B_PORT" \
    --proxy-fall 100 --proxy-check-interval 3600 --connect-timeout 5
b2=$(connects "$B_LOG")
for i in 1 2 3; do
    peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "connect $i with A refusing failed (reset?)"
    [ "$peer" = "$SRV_IP4" ] || fail "the target saw '$peer'"
done
wait_until 5 b_more "$((b2 + 2))" || fail "the connections did not go through B"
[ "$(log2 | grep -c 'proxy 0 (.*) failed; trying proxy 1')" -ge 3 ] \
    || fail "the retry on B is not logged: $(log2 | grep -i proxy | tail -5)"
log2 | grep -q "proxy 0 (.*) is down" && fail "A judged down with --proxy-fall 100"
info "3 connections with A refusing: each retried on B in the SYN gate, none reset"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"
# `tun2socks check` with both: each one checked in turn, A failing, B fine.
out=$(in_cli timeout 60 "$T2S_BIN" check --proxy "socks5://$SRV_IP4:$DANTE_PORT" --proxy "socks5://$SRV_IP4:$B_PORT" 2>&1)
rc=$?
[ "$rc" = 1 ] || fail "check with A down: exit $rc: $out"
grep -q "^proxy 0: socks5://$SRV_IP4:$DANTE_PORT$" <<<"$out" && grep -q "^proxy 1: socks5://$SRV_IP4:$B_PORT$" <<<"$out" \
    || fail "check does not name each proxy: $out"
b_part=$(sed -n '/^proxy 1: /,$p' <<<"$out")
grep -q "^FAIL" <<<"$b_part" && fail "check of B failed: $b_part"
grep -q "^FAIL" <<<"$(sed -n '/^proxy 0: /,/^proxy 1: /p' <<<"$out")" || fail "check of A (down) did not fail: $out"
out=$(in_cli timeout 60 "$T2S_BIN" check --json --proxy "socks5://$SRV_IP4:$DANTE_PORT" --proxy "socks5://$SRV_IP4:$B_PORT" 2>&1)
[ "$(grep -c '^{"check":"upstream","result":"skip","detail":"proxy [01]: ' <<<"$out")" = 2 ] || fail "check --json: no upstream rows: $out"
info "check with two proxies: A fails, B passes, each under its own header"

# ---- 3. B given by name: looked up on the loop (a dnsmasq of the test's own, named by
# the client namespace's resolv.conf), down until then, up after its checks.
proxy_b_name_start
from=$(($(wc -l <"$T2S_LOG") + 1))
t2s_start --proxy "socks5://$SRV_IP4:$DANTE_PORT" --proxy "socks5://$B_NAME:$B_PORT" \
    --proxy-check-interval 0.5 --proxy-fall 1 --proxy-rise 1 --connect-timeout 5
wait_until 10 eval 'log2 | grep -q "proxy 1 ($B_NAME:$B_PORT) is $SRV_IP4:$B_PORT (TTL"' \
    || fail "B's name not looked up: $(log2 | grep -i 'proxy 1' | tail -3)"
wait_until 10 eval 'log2 | grep -q "new connections go to proxy 1"' || fail "no failover to B by name"
b3=$(connects "$B_LOG")
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "a request through B (by name) failed"
wait_until 5 b_more "$b3" || fail "the request did not go through B"
info "B by name: looked up on the loop, then served new connections with A down"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"

# ---- 4. A proxy that accepts and never answers (badproxy silent): a handshake
# timeout. Each connection waits --proxy-check-timeout (1 s) on it, then moves on to
# B inside the SYN gate, well within --connect-timeout.
SILENT_PORT=1090
start_bg badproxy-silent "$SRV" "$PY" "$E2E_DIR/badproxy.py" --bind "$SRV_IP4" --port "$SILENT_PORT" --mode silent
wait_until 10 listening "$SRV" "$SRV_IP4" "$SILENT_PORT" || fail "badproxy (silent) did not listen"
from=$(($(wc -l <"$T2S_LOG") + 1))
t2s_start --proxy "socks5://$SRV_IP4:$SILENT_PORT" --proxy "socks5://$SRV_IP4:$B_PORT" \
    --proxy-fall 100 --proxy-check-interval 3600 --proxy-check-timeout 1 --connect-timeout 8
b4=$(connects "$B_LOG")
t0=$(now)
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "connect with a silent first proxy failed"
took=$(elapsed "$t0")
[ "$peer" = "$SRV_IP4" ] || fail "the target saw '$peer'"
awk -v t="$took" 'BEGIN { exit !(t >= 0.9 && t < 4) }' || fail "the connection took ${took}s (want ~1 s: one attempt timeout)"
wait_until 5 b_more "$b4" || fail "the connection did not go through B"
log2 | grep -q "proxy 0 (.*) failed; trying proxy 1" || fail "the timeout's retry is not logged"
info "a silent first proxy: the connection moved on to B after ${took}s (attempt timeout 1 s)"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"

# ---- 5. A reload that changes the list: A alone, then B added after it, then B alone.
start_a
CONF=$WORK/t2s.conf
printf 'proxy = socks5://%s:%s\n' "$SRV_IP4" "$DANTE_PORT" >"$CONF"
chmod 600 "$CONF"
from=$(($(wc -l <"$T2S_LOG") + 1))
t2s_start --config "$CONF" --control "$WORK/t2s5.control"
printf 'proxy = socks5://%s:%s\nproxy = socks5://%s:%s\nproxy-check-interval = 2\n' "$SRV_IP4" "$DANTE_PORT" \
    "$SRV_IP4" "$B_PORT" >"$CONF"
kill -HUP "$T2S_PID"
wait_until 10 eval 'log2 | grep -q "reload: 1 proxy after the first now"' || fail "the new list not taken: $(log2 | grep reload: | tail -3)"
log2 | grep -q "reload: --proxy-check-interval cannot change while running" || fail "a changed check interval not refused"
log2 | grep -q "reload: done (1 setting changed)" || fail "the list is not one setting changed: $(log2 | grep 'reload: done')"
st=$(in_cli "$T2S_BIN" status --control "$WORK/t2s5.control") || fail "status failed"
grep -Eq "^ +1\. socks5://$SRV_IP4:$B_PORT: up" <<<"$st" || fail "status after the reload lacks B: $st"
cli_curl "http://$TGT4:$HTTP_PORT/peer" >/dev/null || fail "a request after the reload failed"
printf 'proxy = socks5://%s:%s\n' "$SRV_IP4" "$B_PORT" >"$CONF"
b5=$(connects "$B_LOG")
kill -HUP "$T2S_PID"
wait_until 10 eval 'log2 | grep -q "reload: 0 proxies after the first now"' || fail "the shorter list not taken"
wait_until 10 eval 'log2 | grep -q "reload: new connections go to socks5://$SRV_IP4:$B_PORT"' || fail "B not first"
cli_curl "http://$TGT4:$HTTP_PORT/peer" >/dev/null || fail "a request after the second reload failed"
wait_until 5 b_more "$b5" || fail "the request after the second reload did not go through B"
t2s_alive || fail "tun2socks died on the reloads"
info "reloads: a backup added, the list shortened; new connections follow"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"

# ---- 6. round-robin: new connections alternate between A and B.
t2s_start --proxy "socks5://$SRV_IP4:$DANTE_PORT" --proxy "socks5://$SRV_IP4:$B_PORT" --proxy-policy round-robin
a6=$(connects "$A_LOG")
b6=$(connects "$B_LOG")
for i in 1 2 3 4; do
    cli_curl "http://$TGT4:$HTTP_PORT/peer" >/dev/null || fail "round-robin request $i failed"
done
both_2() { [ "$(connects "$A_LOG")" -ge $((a6 + 2)) ] && [ "$(connects "$B_LOG")" -ge $((b6 + 2)) ]; }
wait_until 5 both_2 || fail "round-robin: A saw $(($(connects "$A_LOG") - a6)), B $(($(connects "$B_LOG") - b6)) of 4"
info "round-robin: 4 connections, 2 through each proxy"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"
info "PASS"
