#!/bin/bash
# SPDX-License-Identifier: MIT
# A proxy that stalls, lies or refuses: each application connection fails cleanly
# and promptly with the error it would see without a proxy, tun2socks logs why and
# keeps serving the next connection.
. "$(dirname "$0")/lib.sh"

BAD_PORT=1090
topo_up
echo_start
danted_start

# try_mode MODE ERRNO MAX_S: run badproxy in MODE, point tun2socks at it, expect ERRNO.
try_mode() {
    local mode=$1 want=$2 max=$3
    start_bg "badproxy-${mode//:/_}" "$SRV" "$PY" "$E2E_DIR/badproxy.py" --bind "$SRV_IP4" --port "$BAD_PORT" --mode "$mode"
    local bp=$BG_PID
    wait_until 10 listening "$SRV" "$SRV_IP4" "$BAD_PORT" || fail "badproxy ($mode) did not listen"
    T2S_EXTRA="--connect-timeout 1.5" t2s_start --proxy "socks5://$SRV_IP4:$BAD_PORT"
    client "$CLI" connecterr --host "$TGT4" --port "$LINE_PORT" --errno "$want" --max "$max" \
        || fail "mode $mode: application did not get $want within $max s"
    t2s_alive || fail "mode $mode: tun2socks died"
    t2s_stop TERM
    [ "$T2S_STATUS" = 0 ] || fail "mode $mode: tun2socks exit status $T2S_STATUS"
    stop_pid "$bp" TERM 5
    wait_until 5 not listening "$SRV" "$SRV_IP4" "$BAD_PORT" || fail "badproxy port still open"
}

try_mode silent EHOSTUNREACH 3.5       # no answer within --connect-timeout: like an unanswered SYN, but fast
try_mode garbage ECONNREFUSED 2
grep -q "broke the SOCKS5 handshake" "$T2S_LOG" || fail "no log line about the broken handshake"
try_mode greetclose ECONNREFUSED 2
try_mode badreply ECONNREFUSED 2
try_mode rep:5 ECONNREFUSED 2
try_mode rep:3 ENETUNREACH 2
try_mode rep:4 EHOSTUNREACH 2
try_mode rep:2 EHOSTUNREACH 2          # ICMP administratively prohibited
try_mode rep:1 ECONNREFUSED 2

# A proxy that answers one byte at a time still works (replies are reassembled).
start_bg badproxy-slow "$SRV" "$PY" "$E2E_DIR/badproxy.py" --bind "$SRV_IP4" --port "$BAD_PORT" --mode slowreply
wait_until 10 listening "$SRV" "$SRV_IP4" "$BAD_PORT" || fail "slow badproxy did not listen"
t2s_start --proxy "socks5://$SRV_IP4:$BAD_PORT"
# The slow proxy echoes what it gets, so a line comes back as sent.
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 8 || fail "slow but valid proxy reply"
t2s_alive || fail "tun2socks died"
