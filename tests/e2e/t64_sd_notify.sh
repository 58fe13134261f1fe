#!/bin/bash
# SPDX-License-Identifier: MIT
# The systemd notification protocol (issue 11), with a listener of the test's own on
# $NOTIFY_SOCKET (notify_listen.py): no systemd needed.
#  1. The proxy is down at start (abstract socket, --ready-timeout 60): the probe fails
#     and READY=1 is not sent; once danted is started, READY=1 comes with
#     "STATUS=ready: proxy ... answered", after danted listened. A GET then goes
#     through (SHA-256). SIGTERM: STOPPING=1, exit status 0.
#  2. The proxy stays down (a path socket, --ready-timeout 2, WATCHDOG_USEC=1 s): READY=1
#     between 2 and 8 s after start with a STATUS saying it did not answer; WATCHDOG=1
#     comes every 0.5 s; danted started: "answers again". stderr is the journal
#     ($JOURNAL_STREAM names the log file): lines start with <N> and carry no
#     timestamp, warnings <4>.
#  3. Not under systemd (no $NOTIFY_SOCKET): no probe of the proxy, a GET goes through.
#  4. A reload (SIGHUP with --config): RELOADING=1, then READY=1 with the proxy's STATUS;
#     a file with an error: RELOADING=1, then READY=1 saying the reload failed; the
#     running configuration still serves a GET.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
httpd_start
head -c 1048576 /dev/urandom >"$WORK/www/blob"
want=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)
PROXY=socks5://$SRV_IP4:$DANTE_PORT

notify_start() { # notify_start NS ADDR OUT
    : >"$3"
    start_bg notify "$1" "$PY" "$E2E_DIR/notify_listen.py" "$2" "$3"
    NOTIFY_PID=$BG_PID
    wait_until 5 grep -q LISTENING "$3" || fail "notify_listen.py did not start"
}
has() { grep -q -- "$2" "$1"; }
msg_time() { grep -m1 -- "$2" "$1" | cut -d' ' -f1; }

# ---- 1: the proxy comes up after the start.
N1=$LOGDIR/notify1.log
notify_start "$CLI" "@t2s-e2e-$$" "$N1"
NOTIFY_SOCKET="@t2s-e2e-$$" t2s_start --proxy "$PROXY" --ready-timeout 60
wait_until 10 has "$T2S_LOG" "does not answer" || fail "no log line of the failed probe: $(tail -3 "$T2S_LOG")"
has "$N1" 'READY=1' && fail "READY=1 sent while the proxy was down: $(cat "$N1")"
has "$N1" 'STATUS=TUN up, checking the proxy' || fail "no STATUS at TUN up: $(cat "$N1")"
danted_start
t_danted=$(now)
wait_until 10 has "$N1" 'READY=1' || fail "no READY=1 within 10 s of danted's start: $(cat "$N1")"
t_ready=$(msg_time "$N1" 'READY=1')
awk -v a="$t_ready" -v b="$t_danted" 'BEGIN { exit !(a > b) }' || fail "READY=1 ($t_ready) before danted listened ($t_danted)"
has "$N1" "READY=1|STATUS=ready: proxy $SRV_IP4:$DANTE_PORT answered" || fail "READY without the proxy's STATUS: $(cat "$N1")"
info "READY=1 $(awk -v a="$t_ready" -v b="$t_danted" 'BEGIN { printf "%.2f", a - b }') s after danted listened: $(grep READY "$N1" | cut -d' ' -f2-)"
got=$(cli_curl "http://$TGT4:$HTTP_PORT/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "GET through tun2socks: sha256 $got, want $want"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
wait_until 5 has "$N1" 'STOPPING=1' || fail "no STOPPING=1: $(cat "$N1")"
stop_pid "$NOTIFY_PID"
danted_stop

# ---- 2: the proxy is down past --ready-timeout; journal-style lines; the watchdog.
N2=$LOGDIR/notify2.log
SOCK=$WORK/notify.sock
notify_start "$CLI" "$SOCK" "$N2"
: >"$WORK/journal.log"
T2S_LOG_SAVED=$T2S_LOG
T2S_LOG=$WORK/journal.log
t0=$(now)
JOURNAL_STREAM=$(stat -c '%d:%i' "$T2S_LOG") WATCHDOG_USEC=1000000 NOTIFY_SOCKET=$SOCK \
    t2s_start --proxy "$PROXY" --ready-timeout 2
wait_until 10 has "$N2" 'READY=1' || fail "no READY=1 within 10 s with --ready-timeout 2: $(cat "$N2")"
t_ready=$(msg_time "$N2" 'READY=1')
d=$(awk -v a="$t_ready" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
awk -v d="$d" 'BEGIN { exit !(d >= 1.9 && d < 8) }' || fail "READY=1 after $d s, want about 2 s"
has "$N2" "READY=1|STATUS=proxy $SRV_IP4:$DANTE_PORT did not answer within 2 s" || fail "READY's STATUS: $(cat "$N2")"
info "proxy down: READY=1 after $d s: $(grep READY "$N2" | cut -d' ' -f2-)"
wait_until 5 num_cmp -ge 3 grep -c WATCHDOG=1 "$N2" || fail "fewer than 3 WATCHDOG=1 in 5 s with WATCHDOG_USEC=1000000"
danted_start
wait_until 10 has "$N2" "STATUS=ready: proxy $SRV_IP4:$DANTE_PORT answers again" || fail "no STATUS when the proxy came back: $(cat "$N2")"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
has "$N2" 'STOPPING=1' || fail "no STOPPING=1: $(cat "$N2")"
cat "$T2S_LOG" >>"$T2S_LOG_SAVED"
grep -v '^===' "$T2S_LOG" | grep -qv '^<[3467]>' && fail "a journal line without a <N> priority: $(grep -v '^===' "$T2S_LOG" | grep -v '^<[3467]>' | head -2)"
grep -q '^<4>proxy .* does not answer' "$T2S_LOG" || fail "the warning is not <4>: $(head -5 "$T2S_LOG")"
grep -q '^<6>ready: ' "$T2S_LOG" || fail "no <6>ready line"
grep -qE '^<[0-9]>[0-9]{4}-' "$T2S_LOG" && fail "a journal line carries a timestamp of ours"
T2S_LOG=$T2S_LOG_SAVED
info "journal lines: $(grep -c '^<' "$WORK/journal.log") with priorities, $(grep -c '^<4>' "$WORK/journal.log") warnings"
stop_pid "$NOTIFY_PID"

# ---- 3: without $NOTIFY_SOCKET, nothing probes the proxy.
danted_stop
: >"$LOGDIR/danted.log"
danted_start
n0=$(wc -l <"$T2S_LOG")
t2s_start --proxy "$PROXY" --udp associate
tail -n +"$((n0 + 1))" "$T2S_LOG" | grep -q 'answered the greeting\|does not answer' && fail "a probe ran without \$NOTIFY_SOCKET"
got=$(cli_curl "http://$TGT4:$HTTP_PORT/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "GET without systemd: sha256 $got, want $want"
t2s_stop TERM
info "not under systemd: no probe, GET ok"

# ---- 4: RELOADING=1 and READY=1 around a reload, a good one and a failed one.
N4=$LOGDIR/notify4.log
notify_start "$CLI" "@t2s-e2e4-$$" "$N4"
CONF=$WORK/t64.conf
printf 'proxy = %s\nready-timeout = 30\n' "$PROXY" >"$CONF"
NOTIFY_SOCKET="@t2s-e2e4-$$" t2s_start --config "$CONF"
wait_until 10 has "$N4" 'READY=1' || fail "no READY=1 with --config: $(cat "$N4")"
kill -HUP "$T2S_PID"
wait_until 10 has "$N4" 'RELOADING=1' || fail "no RELOADING=1 after SIGHUP: $(cat "$N4")"
wait_until 10 num_cmp -ge 2 grep -c 'READY=1' "$N4" || fail "no READY=1 after the reload: $(cat "$N4")"
grep 'READY=1' "$N4" | tail -1 | grep -q 'STATUS=.*reloaded' || fail "READY=1 after a reload without its STATUS: $(cat "$N4")"
n_ready=$(grep -c 'READY=1' "$N4")
printf 'proxy = %s\nmtu = bogus\n' "$PROXY" >"$CONF"
kill -HUP "$T2S_PID"
wait_until 10 num_cmp -gt "$n_ready" grep -c 'READY=1' "$N4" || fail "no READY=1 after a failed reload: $(cat "$N4")"
[ "$(grep -c 'RELOADING=1' "$N4")" = 2 ] || fail "want two RELOADING=1: $(cat "$N4")"
grep 'READY=1' "$N4" | tail -1 | grep -q 'STATUS=reload failed.*running configuration stays' \
    || fail "a failed reload's READY=1 does not say so: $(tail -1 "$N4")"
got=$(cli_curl "http://$TGT4:$HTTP_PORT/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "GET after a failed reload: sha256 $got, want $want"
t2s_stop TERM
stop_pid "$NOTIFY_PID"
info "reload under systemd: $(grep -E 'RELOADING|READY' "$N4" | cut -d' ' -f2- | tr '\n' ' ')"
