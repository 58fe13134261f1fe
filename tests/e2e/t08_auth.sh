#!/bin/bash
# SPDX-License-Identifier: MIT
# Username/password authentication against microsocks (-u/-P): credentials in
# the URL, in --proxy-auth-file and in TUN2SOCKS_PROXY_AUTH all work; wrong
# credentials make connections fail and tun2socks logs "authentication failed".
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
microsocks_start
httpd_start
MS=$SRV_IP4:$MS_PORT
URL=http://$TGT4:$HTTP_PORT/peer

check_ok() {
    local what=$1 peer
    peer=$(cli_curl "$URL") || fail "$what: request through the TUN failed (curl status $?)"
    [ "$peer" = "$SRV_IP4" ] || fail "$what: target saw '$peer', expected $SRV_IP4"
    t2s_stop
    [ "$T2S_STATUS" = 0 ] || fail "$what: tun2socks exit status $T2S_STATUS after SIGTERM"
    info "$what: ok"
}

# 1. credentials in the URL (password contains a '-', no escaping needed)
t2s_start --proxy "socks5://$MS_USER:$MS_PASS@$MS"
check_ok "credentials in the URL"

# 2. --proxy-auth-file (first line user:password; a trailing newline and a
#    second line must be ignored)
printf '%s:%s\nignored second line\n' "$MS_USER" "$MS_PASS" >"$WORK/auth"
chmod 600 "$WORK/auth"
t2s_start --proxy "socks5://$MS" --proxy-auth-file "$WORK/auth"
check_ok "--proxy-auth-file"

# 3. environment
export TUN2SOCKS_PROXY_AUTH="$MS_USER:$MS_PASS"
t2s_start --proxy "socks5://$MS"
unset TUN2SOCKS_PROXY_AUTH
check_ok "TUN2SOCKS_PROXY_AUTH"

# 4. wrong password
mark=$(wc -l <"$T2S_LOG")
t2s_start --proxy "socks5://$MS_USER:wrong-password@$MS"
if peer=$(CURL_MAX_TIME=10 cli_curl "$URL" 2>"$WORK/curl.err"); then
    fail "wrong credentials: request succeeded (target saw '$peer')"
fi
info "wrong credentials: curl failed as expected: $(head -c 200 "$WORK/curl.err")"
logged() { local l; l=$(tail -n +"$((mark + 1))" "$T2S_LOG"); [[ ${l,,} == *"authentication failed"* ]]; }
wait_until 5 logged || fail "wrong credentials: tun2socks log has no 'authentication failed' line"
t2s_alive || fail "tun2socks exited after an authentication failure"

# 5. no credentials at all against a proxy that requires them
t2s_stop
t2s_start --proxy "socks5://$MS"
if CURL_MAX_TIME=10 cli_curl "$URL" >/dev/null 2>&1; then
    fail "no credentials: request succeeded against an auth-only proxy"
fi
t2s_alive || fail "tun2socks exited after the proxy refused every method"
