#!/bin/bash
# SPDX-License-Identifier: MIT
# Connection setup over a proxy link with 20 ms of round-trip time (bench/delayrelay.py,
# 10 ms each way, in front of danted): time to first byte of a small GET, median of 10,
# through tun2socks against curl --socks5 on the same link. Pipelined, tun2socks pays
# connect + 1 round trip to the proxy before the app's SYN|ACK, curl connect + 2: once
# learned, tun2socks must not be slower than curl (5 ms of slack for a loaded machine).
# SHA-256 of every body.
. "$(dirname "$0")/lib.sh"

RELAY_PORT=1090
N=10
need_root
need_bin
topo_up
danted_start
httpd_start
head -c 1000 /dev/urandom >"$WORK/www/s.bin" || fail "cannot create test file"
want=$(sha256sum <"$WORK/www/s.bin" | cut -d' ' -f1)
start_bg relay "$SRV" timeout 300 "$PY" "$E2E_DIR/../../bench/delayrelay.py" --listen "$SRV_IP4:$RELAY_PORT" \
    --to "$SRV_IP4:$DANTE_PORT" --delay 0.010 --max-conns 200 --lifetime 280
wait_until 10 listening "$SRV" "$SRV_IP4" "$RELAY_PORT" || fail "delayrelay did not listen"

# ttfb ARGS...: N GETs (curl ARGS), each body checked; prints the median time to first
# byte in ms (ttfb_stats, scripts/lib-netns.sh, shared with bench/run's setup row).
# (curl itself, not cli_curl: its --noproxy would drop --socks5)
ttfb() {
    local r
    r=$(ttfb_stats "$CLI" "$N" "$WORK/dl.bin" "$want" "http://$TGT4:$HTTP_PORT/s.bin" "$@") || fail "GET $* failed"
    echo "${r%% *}"
}

curl_ms=$(ttfb --socks5 "$SRV_IP4:$RELAY_PORT")
info "curl --socks5 over the 20 ms link: median time to first byte $curl_ms ms"
t2s_start --proxy "socks5://$SRV_IP4:$RELAY_PORT"
cli_curl -o /dev/null "http://$TGT4:$HTTP_PORT/s.bin" || fail "first GET (learning)"
cli_curl -o /dev/null "http://$TGT4:$HTTP_PORT/s.bin" || fail "second GET (the probe)"
t2s_ms=$(ttfb)
st=$(t2s_stat socks5_pipeline)
info "tun2socks over the 20 ms link: median time to first byte $t2s_ms ms (socks5_pipeline=$(t2s_statv socks5_pipeline))"
[ "${T53_NO_GOAL:-0}" = 1 ] && exit 0
[ "$(t2s_statv socks5_pipeline)" = ok ] || fail "danted behind the relay not learned as pipelining: $st"
awk -v a="$t2s_ms" -v b="$curl_ms" 'BEGIN { exit !(a <= b + 5) }' \
    || fail "tun2socks' setup ($t2s_ms ms) slower than curl --socks5 ($curl_ms ms)"
