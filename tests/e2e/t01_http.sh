#!/bin/bash
# SPDX-License-Identifier: MIT
# HTTP through the TUN with plain curl (no proxy options): GET a 64 MB random
# file and PUT 64 MB back, comparing SHA-256 on both ends; the target must see
# the connection coming from danted (198.18.0.2), not from the client.
. "$(dirname "$0")/lib.sh"

setup_default httpd_start

head -c 64M /dev/urandom >"$WORK/www/big.bin" || fail "cannot create test file"
want=$(sha256sum <"$WORK/www/big.bin" | cut -d' ' -f1)
URL=http://$TGT4:$HTTP_PORT

t0=$(now)
cli_curl -o "$WORK/dl.bin" "$URL/big.bin" || fail "GET 64 MB through the TUN failed (curl status $?)"
got=$(sha256sum <"$WORK/dl.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "GET: sha256 mismatch ($(stat -c %s "$WORK/dl.bin") bytes received)"
info "GET 64 MB ok in $(elapsed "$t0")s"

t0=$(now)
resp=$(cli_curl -H 'Expect:' -T "$WORK/www/big.bin" "$URL/upload") || fail "PUT 64 MB through the TUN failed (curl status $?)"
[ "$resp" = "$want 67108864" ] || fail "PUT: server reported '$resp', expected '$want 67108864'"
info "PUT 64 MB ok in $(elapsed "$t0")s"

# POST with 100-continue handshake (curl's default for big bodies), smaller.
head -c 4M /dev/urandom >"$WORK/post.bin"
want2=$(sha256sum <"$WORK/post.bin" | cut -d' ' -f1)
resp=$(cli_curl --data-binary @"$WORK/post.bin" -H 'Content-Type: application/octet-stream' "$URL/post") \
    || fail "POST 4 MB failed (curl status $?)"
[ "$resp" = "$want2 4194304" ] || fail "POST: server reported '$resp'"

peer=$(cli_curl "$URL/peer") || fail "GET /peer failed"
[ "$peer" = "$SRV_IP4" ] || fail "target saw the connection from '$peer', expected danted's $SRV_IP4"
# Every request the target logged came from danted.
bad=$(grep '^PEER ' "$LOGDIR/httpd.log" | grep -v "^PEER $SRV_IP4 " | head -3)
[ -z "$bad" ] || fail "target saw non-proxy peers: $bad"
n=$(grep -c '^PEER ' "$LOGDIR/httpd.log")
[ "$n" -ge 4 ] || fail "target logged only $n requests"
t2s_alive || fail "tun2socks died"
info "peer address ok ($peer), $n requests"
