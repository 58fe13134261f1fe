#!/bin/bash
# SPDX-License-Identifier: MIT
# The control socket during a known transfer: curl GETs 24 MiB at 2 MiB/s through the
# TUN; meanwhile `tun2socks status` names the TUN, the proxy and its counters,
# `tun2socks flows` (found with no argument, with --tun and with --control) shows
# curl's connection to the target, relaying, with bytes and a rate in, and
# `flows --json --programs` gives the same flow with curl's PID and name (sock_diag).
# The file arrives whole (sha256); the flow then leaves the table. The socket is
# /run/tun2socks/net<inode>-t2s0.control, mode 0660; a client that requests without
# reading is cut off within the stall bound while others are served; a stale socket of a
# dead run is skipped; another namespace's instance does not make this one's ambiguous;
# bad options and a missing instance fail with a clear message.
. "$(dirname "$0")/lib.sh"

setup_default httpd_start

ino=$(in_cli stat -L -c %i /proc/self/ns/net)
SOCK=/run/tun2socks/net$ino-$TUN.control
wait_until 5 test -S "$SOCK" || fail "no control socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "control socket mode $(stat -c %a "$SOCK"), expected 660"
grep -q "control socket: $SOCK" "$T2S_LOG" || fail "the log does not name the control socket"

head -c 24M /dev/urandom >"$WORK/www/big.bin" || fail "cannot create test file"
want=$(sha256sum <"$WORK/www/big.bin" | cut -d' ' -f1)
start_bg curl "$CLI" curl -q --noproxy '*' -sS --fail --max-time 60 --limit-rate 2M \
    -o "$WORK/dl.bin" "http://$TGT4:$HTTP_PORT/big.bin"
CURL_PID=$BG_PID

ctl() { in_cli "$T2S_BIN" "$@"; }
flow_seen() { ctl flows --interval 0 | grep -q "$TGT4:$HTTP_PORT .*relaying"; }
wait_until 10 flow_seen || fail "flows never showed curl's connection: $(ctl flows --interval 0 2>&1)"

st=$(ctl status) || fail "status failed: $st"
info "status: $(head -3 <<<"$st" | tr '\n' '|')"
grep -q "^tun2socks .*, pid $T2S_PID, up " <<<"$st" || fail "status: no version/pid line: $st"
grep -q "TUN  *$TUN (mtu" <<<"$st" || fail "status: no TUN line"
grep -q "proxy  *socks5://$SRV_IP4:$DANTE_PORT" <<<"$st" || fail "status: no proxy line"
grep -q "TCP up" <<<"$st" || fail "status: the proxy is not shown up"
grep -Eq '^ +tcp_opened +[1-9]' <<<"$st" || fail "status: tcp_opened is not counted"
grep -Eq '^ +tcp_flows +1$' <<<"$st" || fail "status: tcp_flows is not 1"

# A socket left by a dead run (nobody answers it) does not count as an instance.
STALE=/run/tun2socks/net0-stale$$.control
CLEANUP_PATHS+=("$STALE")
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$STALE" || fail "cannot make a stale socket"
for how in "" "--tun $TUN" "--control $SOCK"; do
    # shellcheck disable=SC2086
    out=$(ctl flows $how) || fail "flows $how failed: $out"
    row=$(grep "$TGT4:$HTTP_PORT" <<<"$out") || fail "flows $how: no row for the transfer: $out"
    grep -q "^tcp .*relaying" <<<"$row" || fail "flows $how: not a relaying TCP row: $row"
    grep -q "socks5://$SRV_IP4:$DANTE_PORT" <<<"$row" || fail "flows $how: no proxy in the row: $row"
done
info "flows row: $row"

# Another namespace's instance does not make this one's ambiguous: a second tun2socks
# in a namespace of its own, then `flows` and `status` with no argument still answer
# here; from a third namespace, which has none, the two are named and neither chosen.
OTHER=${CLI}o
THIRD=${CLI}t
ip netns add "$OTHER" && NS_CREATED+=("$OTHER") && ip netns add "$THIRD" && NS_CREATED+=("$THIRD") \
    || fail "cannot add namespaces $OTHER and $THIRD"
ino2=$(ip netns exec "$OTHER" stat -L -c %i /proc/self/ns/net)
SOCK2=/run/tun2socks/net$ino2-$TUN.control
CLEANUP_PATHS+=("$SOCK2")
start_bg t2s_other "$OTHER" "$T2S_BIN" --proxy "socks5://127.0.0.1:9" --tun "$TUN" --address "$TUN_ADDR4"
OTHER_PID=$BG_PID
wait_until 10 test -S "$SOCK2" || fail "the second instance made no control socket at $SOCK2"
out=$(ctl flows) || fail "flows with another namespace's instance running: $out"
grep -q "$TGT4:$HTTP_PORT .*relaying" <<<"$out" || fail "flows asked the wrong instance: $out"
out=$(ctl status) || fail "status with another namespace's instance running: $out"
grep -q ", pid $T2S_PID, up " <<<"$out" || fail "status asked the wrong instance: $out"
out=$(ip netns exec "$THIRD" "$T2S_BIN" status 2>&1) && fail "status from a namespace without an instance chose one: $out"
[[ $out == *"several instances run (none in this network namespace)"* && $out == *"$SOCK"* && $out == *"$SOCK2"* ]] \
    || fail "status from a third namespace: unclear message: $out"
out=$(ip netns exec "$THIRD" "$T2S_BIN" status --control "$SOCK2") || fail "status --control $SOCK2: $out"
grep -q ", pid $OTHER_PID, up " <<<"$out" || fail "status --control $SOCK2 answered for another pid: $out"
stop_pid "$OTHER_PID"; forget_pid "$OTHER_PID"
info "another namespace's instance: flows and status still ask this one's; a third namespace must say which"

json=$(ctl flows --json --programs --sort bytes --interval 1.5) || fail "flows --json failed"
echo "$json" >"$LOGDIR/flows.json"
"$PY" - "$TGT4:$HTTP_PORT" "$CURL_PID" "$LOGDIR/flows.json" <<'PYEOF' || fail "flows --json: the transfer's flow is not as expected (see $LOGDIR/flows.json)"
import json, sys
dst, pid, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
flows = json.load(open(path))
f = [x for x in flows if x["dst"] == dst]
assert len(f) == 1, flows
f = f[0]
assert f["proto"] == "tcp" and f["state"] == "relaying", f
assert f["bytes_in"] > 100000 and f["bytes_out"] > 50, f
# curl's --limit-rate reads in bursts and then pauses, so the rate over the 1.5 s
# interval may be anything from 0 up; it must be a rate, not missing.
assert isinstance(f["rate_in"], (int, float)) and f["rate_in"] >= 0, f
assert f["connect_time"] is not None and f["connect_time"] >= 0, f
assert f["app"].startswith("198.18.128.1:"), f
assert f["pid"] == pid and f["program"] == "curl", f
print(f"flow: {f['bytes_in']} bytes in at {f['rate_in']:.0f} B/s, pid {f['pid']} {f['program']}")
PYEOF

# A client that asks and never reads: cut off, while others are still answered.
"$PY" - "$SOCK" >"$LOGDIR/stuck.log" 2>&1 <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.setblocking(False)
t0 = time.monotonic()
sent = 0
try:
    while time.monotonic() - t0 < 20:
        try:
            sent += s.send(b"status\n" * 64)
        except BlockingIOError:
            time.sleep(0.05)
    print("NOT CUT OFF")
except (BrokenPipeError, ConnectionResetError) as e:
    print(f"CUT OFF after {time.monotonic() - t0:.1f} s, {sent} bytes of requests: {e}")
PYEOF
STUCK_PID=$!
BG_PIDS+=("$STUCK_PID")
sleep_ok() { ctl status >/dev/null; }
wait_until 5 sleep_ok || fail "status not answered while a stuck client waits"
wait_until 20 proc_done "$STUCK_PID" || fail "the stuck client was not cut off within 20 s"
wait "$STUCK_PID"; forget_pid "$STUCK_PID"
grep -q "CUT OFF" "$LOGDIR/stuck.log" || fail "stuck client: $(cat "$LOGDIR/stuck.log")"
info "stuck client: $(cat "$LOGDIR/stuck.log")"

wait_until 60 proc_done "$CURL_PID" || fail "curl did not finish"
wait "$CURL_PID" || fail "curl failed (status $?)"
forget_pid "$CURL_PID"
got=$(sha256sum <"$WORK/dl.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "GET: sha256 mismatch"
gone() { ! ctl flows --interval 0 | grep -q "$TGT4:$HTTP_PORT"; }
wait_until 10 gone || fail "the finished flow stays in the table"

# Errors say what is wrong.
out=$(ctl flows --sort speed 2>&1); rc=$?
[ $rc = 2 ] && grep -q "is not rate, bytes" <<<"$out" || fail "--sort speed: status $rc: $out"
out=$(ctl status --control /nonexistent.control 2>&1); rc=$?
[ $rc = 1 ] && grep -q "cannot reach tun2socks at /nonexistent.control" <<<"$out" || fail "missing socket: status $rc: $out"
out=$(ctl status --tun nosuch0 2>&1); rc=$?
[ $rc = 1 ] && grep -q "is it running" <<<"$out" || fail "--tun nosuch0: status $rc: $out"
t2s_alive || fail "tun2socks died"
t2s_stop
[ -e "$SOCK" ] && fail "the control socket is left behind after exit"
info "control socket ok"
