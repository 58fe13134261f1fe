#!/bin/bash
# SPDX-License-Identifier: MIT
# IPv6 targets through the TUN: first with the proxy reached over IPv4, then
# with --proxy socks5://[2001:2:0:1::2]:1080.
. "$(dirname "$0")/lib.sh"

setup_default httpd_start
echo_start

head -c 8M /dev/urandom >"$WORK/www/v6.bin"
want=$(sha256sum <"$WORK/www/v6.bin" | cut -d' ' -f1)
U6="http://[$TGT6]:$HTTP_PORT"

run_checks() {
    local how=$1 peer got resp
    peer=$(cli_curl "$U6/peer") || fail "$how: GET [$TGT6] failed (curl status $?)"
    [ "$peer" = "$SRV_IP6" ] || fail "$how: IPv6 target saw '$peer', expected danted's $SRV_IP6"
    cli_curl -o "$WORK/dl" "$U6/v6.bin" || fail "$how: GET 8 MB over IPv6 failed"
    got=$(sha256sum <"$WORK/dl" | cut -d' ' -f1)
    [ "$got" = "$want" ] || fail "$how: GET 8 MB over IPv6: sha256 mismatch"
    resp=$(cli_curl -H 'Expect:' -T "$WORK/www/v6.bin" "$U6/up") || fail "$how: PUT over IPv6 failed"
    [ "$resp" = "$want 8388608" ] || fail "$how: PUT over IPv6: server said '$resp'"
    client "$CLI" concurrent --host "$TGT6" --port "$ECHO_PORT" -n 20 --size 65536 --timeout 20 \
        || fail "$how: echo over IPv6"
    # IPv4 still works at the same time.
    peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "$how: IPv4 GET failed"
    info "$how: ok"
}

run_checks "proxy over IPv4"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"

t2s_start --proxy "socks5://[$SRV_IP6]:$DANTE_PORT"
run_checks "proxy over IPv6"
grep -q "$SRV_IP6.1080 -> " "$LOGDIR/danted.log" || fail "danted never saw a client on [$SRV_IP6]:$DANTE_PORT"
