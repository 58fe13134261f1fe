#!/bin/bash
# SPDX-License-Identifier: MIT
# Life cycle of UDP associations, with --udp-timeout 1: a socket that keeps
# talking keeps its association; one idle longer than the timeout gets a new one
# transparently; idle associations are closed (danted sees them end, tun2socks'
# descriptors come back). Failures are never silent: a proxy that refuses UDP
# ASSOCIATE (microsocks) or is down makes the application's connected socket
# get ECONNREFUSED (ICMP port unreachable) within 2 s. A proxy restart drops
# the old associations: the same socket works again afterwards, as does a new one.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
danted_conf_udp
danted_start
microsocks_start
udp_echo_start
T2S_EXTRA="--udp-timeout 1 --udp associate --udp-pool 0" t2s_start
base_fds=$(t2s_fds)

sessions_ge() { [ "$(danted_udp_sessions)" -ge "$1" ]; }
ended_ge() { [ "$(danted_udp_ended)" -ge "$1" ]; }
# new_sessions S0 WANT WHAT: danted logged exactly WANT associations since S0.
new_sessions() {
    local s0=$1 want=$2 what=$3 got
    wait_until 5 sessions_ge "$((s0 + want))"
    got=$(($(danted_udp_sessions) - s0))
    [ "$got" = "$want" ] || fail "$what: danted logged $got new UDP associations, expected $want"
}

# 1. Idle < timeout between datagrams: one association for 3 s of traffic
#    (the timeout counts idle time, not age).
for host in "$TGT4" "$TGT6"; do
    s0=$(danted_udp_sessions)
    udp_client "$CLI" reuse --host "$host" --port "$UDP_ECHO_PORT" --rounds 7 --idle 0.4 --max-resends 0 \
        || fail "$host: echo every 0.4 s with --udp-timeout 1"
    new_sessions "$s0" 1 "$host: 7 echoes 0.4 s apart from one socket"
done
info "an active mapping outlives --udp-timeout"

# 2. Idle > timeout: the association is closed, and the next datagram from the
#    same socket gets a new one without the application noticing.
for host in "$TGT4" "$TGT6"; do
    s0=$(danted_udp_sessions)
    e0=$(danted_udp_ended)
    udp_client "$CLI" reuse --host "$host" --port "$UDP_ECHO_PORT" --rounds 2 --idle 3 --max-resends 0 \
        || fail "$host: the same socket after 3 s idle with --udp-timeout 1"
    new_sessions "$s0" 2 "$host: two echoes 3 s apart from one socket"
    wait_until 5 ended_ge "$((e0 + 2))" \
        || fail "$host: danted saw only $(($(danted_udp_ended) - e0)) of 2 associations end after the idle timeout"
done
info "reuse after the idle timeout ok"

# 3. Idle associations give their descriptors back; danted sees each one end.
e0=$(danted_udp_ended)
udp_client "$CLI" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 50 --count 3 || fail "50 flows"
wait_until 10 ended_ge "$((e0 + 50))" \
    || fail "only $(($(danted_udp_ended) - e0)) of 50 idle associations ended within 10 s (--udp-timeout 1)"
check_no_fd_leak "$base_fds"
check_udp_peers

# 4. A proxy that refuses UDP ASSOCIATE (microsocks: "command not supported").
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"
T2S_EXTRA="--udp-timeout 1" t2s_start --proxy "socks5://$MS_USER:$MS_PASS@$SRV_IP4:$MS_PORT"
for host in "$TGT4" "$TGT6"; do
    udp_client "$CLI" refused --host "$host" --port "$UDP_ECHO_PORT" --max 2 \
        || fail "$host: UDP ASSOCIATE refused by the proxy: no prompt ECONNREFUSED"
done
t2s_alive || fail "tun2socks died after the refused associations"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"
info "refused UDP ASSOCIATE -> ECONNREFUSED"

# 5. The proxy down: ECONNREFUSED within 2 s, every time, v4 and v6.
T2S_EXTRA="--udp-timeout 1" t2s_start
udp_client "$CLI" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 5 --count 2 || fail "UDP before the proxy went down"
danted_stop
for i in 1 2 3; do
    udp_client "$CLI" refused --host "$TGT4" --port "$UDP_ECHO_PORT" --max 2 \
        || fail "attempt #$i with the proxy down: no prompt ECONNREFUSED"
done
udp_client "$CLI" refused --host "$TGT6" --port "$UDP_ECHO_PORT" --max 2 \
    || fail "IPv6 with the proxy down: no prompt ECONNREFUSED"
t2s_alive || fail "tun2socks exited while the proxy was down"

# 6. The proxy back: UDP works at once.
danted_start
udp_client "$CLI" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 20 --count 3 || fail "UDP after the proxy came back"
udp_client "$CLI" echo --host "$TGT6" --port "$UDP_ECHO_PORT" -n 5 --count 3 || fail "UDP v6 after the proxy came back"
info "proxy down -> ECONNREFUSED; back -> works"

# 7. A proxy restart under a live mapping (default --udp-timeout, so the idle
#    timeout cannot hide it): the old association died with its control
#    connection; the same socket must get a new one.
t2s_stop TERM
t2s_start
pause=$WORK/restart-go
start_bg udp_reuse "$CLI" "$PY" "$E2E_DIR/udp_client.py" reuse --host "$TGT4" --port "$UDP_ECHO_PORT" \
    --rounds 2 --pause-file "$pause" --pause-max 60 --max-resends 0
rp=$BG_PID
wait_until 10 test -e "$pause.ready" || fail "reuse client did not finish its first echo: $(tail -2 "$LOGDIR/udp_reuse.log")"
danted_stop
danted_start
touch "$pause"
wait_until 20 proc_done "$rp" || fail "reuse client still running 20 s after the proxy restart"
wait "$rp"
st=$?
forget_pid "$rp"
[ "$st" = 0 ] || fail "the same socket after a proxy restart: $(tail -1 "$LOGDIR/udp_reuse.log")"
cat "$LOGDIR/udp_reuse.log" >&2
check_udp_peers
t2s_alive || fail "tun2socks died"
