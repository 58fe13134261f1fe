#!/bin/bash
# SPDX-License-Identifier: MIT
# Pipelined SOCKS5 handshakes (issue 15 §4) against real proxies: danted (no auth),
# microsocks (user/pass) and OpenSSH's ssh -D. For each, a fresh tun2socks and six
# sequential HTTP GETs through the TUN (SHA-256 of each body): the first is step by
# step, the second probes pipelining, the rest follow what was learned. Then the
# stats line says which proxy took it (socks5_pipeline=ok, socks5_pipelined counts)
# and which fell back (socks5_pipeline=refused, one fallback, every GET still good):
# measured, danted and ssh -D take it; microsocks reads the greeting and drops the
# rest of the same read, so its probe times out and falls back step by step.
. "$(dirname "$0")/lib.sh"

SSHD_PORT=2222
SOCKS_PORT=1082
N=6

need_root
need_bin
for t in /usr/sbin/sshd ssh ssh-keygen microsocks danted; do
    command -v "$t" >/dev/null || fail "$t is not installed (scripts/setup-deps)"
done
topo_up
danted_start
microsocks_start
httpd_start
head -c 1M /dev/urandom >"$WORK/www/f.bin" || fail "cannot create test file"
want=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

ssh_socks_start

# run NAME PROXY-URL WANT-STATE: N GETs through a fresh tun2socks, then the verdict.
run() {
    local name=$1 url=$2 want_state=$3 i got st pl fb
    t2s_start --proxy "$url"
    for ((i = 1; i <= N; i++)); do
        cli_curl -o "$WORK/dl.bin" "http://$TGT4:$HTTP_PORT/f.bin" || fail "$name: GET $i failed (curl status $?)"
        got=$(sha256sum <"$WORK/dl.bin" | cut -d' ' -f1)
        [ "$got" = "$want" ] || fail "$name: GET $i: sha256 mismatch"
    done
    t2s_stats_now
    st=$(t2s_statv socks5_pipeline)
    pl=$(t2s_statv socks5_pipelined)
    fb=$(t2s_statv socks5_pipeline_fallbacks)
    info "$name: socks5_pipeline=$st socks5_pipelined=$pl socks5_pipeline_fallbacks=$fb ($N GETs, SHA-256 ok)"
    [ "$st" = "$want_state" ] || fail "$name: pipelining state '$st', expected '$want_state'"
    if [ "$want_state" = ok ]; then
        [ "$pl" = "$((N - 1))" ] && [ "$fb" = 0 ] || fail "$name: $pl pipelined, $fb fallbacks; expected $((N - 1)) and 0"
    else
        [ "$pl" = 0 ] && [ "$fb" = 1 ] || fail "$name: $pl pipelined, $fb fallbacks; expected 0 and 1"
    fi
    t2s_stop
}

run danted "socks5://$SRV_IP4:$DANTE_PORT" "${T52_DANTED:-ok}"
run microsocks "socks5://$MS_USER:$MS_PASS@$SRV_IP4:$MS_PORT" "${T52_MICROSOCKS:-refused}"
run "ssh -D" "socks5://$SRV_IP4:$SOCKS_PORT" "${T52_SSH:-ok}"
info "pipelining: danted ok, microsocks falls back, ssh -D ok"
