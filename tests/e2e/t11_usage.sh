#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad command lines exit with status 2 and say why on stderr; --help and
# --version work. Runs inside an empty namespace of its own so that a binary
# that wrongly goes ahead cannot touch the host.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
ip netns add "$CLI" || fail "ip netns add"
NS_CREATED+=("$CLI")

P=socks5://$SRV_IP4:$DANTE_PORT
expect_usage() {
    local what=$1 st; shift
    timeout -k 2 5 ip netns exec "$CLI" "$T2S_BIN" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
    st=$?
    { echo "=== $what: $*  -> status $st"; cat "$WORK/err"; } >>"$LOGDIR/usage.log"
    [ $st = 124 ] && fail "$what: did not exit within 5 s ($*)"
    [ $st = 2 ] || fail "$what: exit status $st, expected 2 ($*); stderr: $(head -c 200 "$WORK/err")"
    [ -s "$WORK/err" ] || fail "$what: no message on stderr ($*)"
    tun_exists && fail "$what: created $TUN despite the bad command line"
    return 0
}

expect_usage "unknown option"  --proxy "$P" --tun "$TUN" --bogus-option
expect_usage "missing --proxy" --tun "$TUN"
expect_usage "bad scheme"      --proxy "ftp://$SRV_IP4:8080" --tun "$TUN"
expect_usage "no host"         --proxy "socks5://" --tun "$TUN"
expect_usage "bad port"        --proxy "socks5://$SRV_IP4:99999" --tun "$TUN"
expect_usage "non-numeric port" --proxy "socks5://$SRV_IP4:port" --tun "$TUN"
expect_usage "unclosed bracket" --proxy "socks5://[$SRV_IP6:1080" --tun "$TUN"
expect_usage "mtu zero"        --proxy "$P" --tun "$TUN" --mtu 0
expect_usage "mtu not a number" --proxy "$P" --tun "$TUN" --mtu abc
expect_usage "mtu too large"   --proxy "$P" --tun "$TUN" --mtu 99999999
expect_usage "missing value"   --proxy
expect_usage "bad log level"   --proxy "$P" --tun "$TUN" --log-level loud

for opt in --help --version; do
    timeout -k 2 5 ip netns exec "$CLI" "$T2S_BIN" $opt >"$WORK/out" 2>"$WORK/err" </dev/null
    st=$?
    [ $st = 0 ] || fail "$opt: exit status $st, expected 0"
    [ -s "$WORK/out" ] || [ -s "$WORK/err" ] || fail "$opt: printed nothing"
done
help=$(timeout 5 ip netns exec "$CLI" "$T2S_BIN" --help 2>&1 </dev/null)
[[ $help == *--proxy* ]] || fail "--help does not mention --proxy"
info "usage errors ok"
