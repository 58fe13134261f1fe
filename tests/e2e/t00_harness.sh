#!/bin/bash
# SPDX-License-Identifier: MIT
# Harness self-check, no tun2socks involved: the topology, danted (v4 + v6,
# CONNECT), microsocks with auth, the target servers and the python clients,
# all driven through SOCKS-aware clients (curl --socks5, client.py --socks5).
# If this fails, the environment is broken, not tun2socks.
. "$(dirname "$0")/lib.sh"

need_root
topo_up
danted_start
microsocks_start
httpd_start
echo_start
iperf_start

D4=$SRV_IP4:$DANTE_PORT
scurl() { in_cli curl -q -sS --fail --connect-timeout 5 --max-time 30 "$@"; }

# The targets are unreachable without a proxy.
if in_cli curl -q --noproxy '*' -sS --connect-timeout 1 --max-time 2 -o /dev/null "http://$TGT4:$HTTP_PORT/peer" 2>/dev/null; then
    fail "target reachable from the client ns without a proxy"
fi

head -c 16M /dev/urandom >"$WORK/www/mid.bin"
want=$(sha256sum <"$WORK/www/mid.bin" | cut -d' ' -f1)

# GET/PUT through danted over IPv4 and IPv6, and the peer address the target sees.
for px in "$SRV_IP4" "[$SRV_IP6]"; do
    for tgt in "$TGT4" "[$TGT6]"; do
        scurl --socks5 "$px:$DANTE_PORT" -o "$WORK/dl" "http://$tgt:$HTTP_PORT/mid.bin" || fail "GET via $px to $tgt"
        got=$(sha256sum <"$WORK/dl" | cut -d' ' -f1)
        [ "$got" = "$want" ] || fail "GET via $px to $tgt: sha256 mismatch"
        resp=$(scurl --socks5 "$px:$DANTE_PORT" -H 'Expect:' -T "$WORK/www/mid.bin" "http://$tgt:$HTTP_PORT/up") || fail "PUT via $px to $tgt"
        [ "$resp" = "$want 16777216" ] || fail "PUT via $px to $tgt: server said '$resp'"
        peer=$(scurl --socks5 "$px:$DANTE_PORT" "http://$tgt:$HTTP_PORT/peer") || fail "GET /peer"
        case $tgt in \[*) wp=$SRV_IP6 ;; *) wp=$SRV_IP4 ;; esac
        [ "$peer" = "$wp" ] || fail "target saw peer '$peer' via $px, expected danted's $wp"
    done
done
info "danted GET/PUT/peer ok (v4/v6 proxy x v4/v6 target)"

# microsocks: right credentials work, wrong ones and no-auth are rejected.
scurl --socks5 "$SRV_IP4:$MS_PORT" --proxy-user "$MS_USER:$MS_PASS" "http://$TGT4:$HTTP_PORT/peer" >/dev/null \
    || fail "microsocks with correct credentials"
scurl --socks5 "$SRV_IP4:$MS_PORT" --proxy-user "$MS_USER:wrong" "http://$TGT4:$HTTP_PORT/peer" >/dev/null 2>&1 \
    && fail "microsocks accepted wrong credentials"
scurl --socks5 "$SRV_IP4:$MS_PORT" "http://$TGT4:$HTTP_PORT/peer" >/dev/null 2>&1 \
    && fail "microsocks accepted no authentication"
client "$CLI" --socks5 "$SRV_IP4:$MS_PORT" --socks-user "$MS_USER" --socks-pass "$MS_PASS" \
    probe --host "$TGT4" --port "$LINE_PORT" || fail "client.py through microsocks"
info "microsocks auth ok"

# The python clients against the echo services, through danted.
C=(client "$CLI" --socks5 "$D4")
"${C[@]}" concurrent --host "$TGT4" --port "$ECHO_PORT" -n 200 --size 65536 || fail "concurrent"
"${C[@]}" churn --host "$TGT4" --port "$LINE_PORT" -n 400 --deadline 60 || fail "churn"
"${C[@]}" halfclose --host "$TGT4" --port "$HALF_PORT" || fail "halfclose"
"${C[@]}" revclose --host "$TGT4" --port "$REV_PORT" || fail "revclose"
"${C[@]}" refused --host "$TGT4" --port "$CLOSED_PORT" || fail "refused"
"${C[@]}" probe --host "$TGT6" --port "$LINE_PORT" || fail "probe v6"
client "$CLI" --socks5 "[$SRV_IP6]:$DANTE_PORT" probe --host "$TGT6" --port "$LINE_PORT" || fail "probe v6 via v6 proxy"

# iperf3 server is alive (direct, inside the server ns).
timeout 20 ip netns exec "$SRV" iperf3 -c "$TGT4" -p "$IPERF_PORT" -t 1 >/dev/null || fail "iperf3 direct"

# Proxy down/up cycle as t07 does it.
danted_stop
client "$CLI" --socks5 "$D4" probe --expect fail --host "$TGT4" --port "$LINE_PORT" || fail "probe with danted down"
danted_start
client "$CLI" --socks5 "$D4" probe --host "$TGT4" --port "$LINE_PORT" || fail "probe after danted restart"
info "harness ok"
