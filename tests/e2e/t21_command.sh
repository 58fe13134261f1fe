#!/bin/bash
# SPDX-License-Identifier: MIT
# One command (tun2socks --proxy URL -- COMMAND): the command runs in a network
# namespace of its own whose only route is the TUN, while tun2socks's proxy
# connections leave from the caller's namespace (the client ns, which has
# direct default routes to the targets, watched by the leak counter).
#  - HTTP (sha256), UDP echo and DNS through resolv.conf (--dns-server) work
#    inside, nothing leaks, the exit status is the command's (7; 143 for
#    SIGTERM; 127 when it does not exist), the caller's routes are untouched.
#  - Unprivileged: as nobody, either it works through a user namespace (with a
#    /dev/net/tun this user may open) and the command runs with nobody's uid,
#    or the error says what is needed.
. "$(dirname "$0")/lib.sh"

cap_setup
dnsmasq_start || fail "dnsmasq is needed for this scenario"
wan_default_routes "$CLI"
PROXY=socks5://$SRV_IP4:$DANTE_PORT
before=$(routing_snapshot "$CLI")
resolv_before=$(cat /etc/resolv.conf)
sniff_start
sniff_selftest "$CLI"
head -c 4M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
want=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

# run_cmd ARGS...: tun2socks ARGS in the client ns, in the foreground, bounded.
run_cmd() {
    echo "=== $(date +%T.%3N) run: $*" >>"$T2S_LOG"
    timeout -k 5 60 ip netns exec "$CLI" "$T2S_BIN" "$@" 2>>"$T2S_LOG"
}

cat >"$WORK/inside.sh" <<EOS
set -e
ip -o route show
ip -o -6 route show | grep default
echo "sha \$(curl -q --noproxy '*' -sS --fail --max-time 20 http://$TGT4:$HTTP_PORT/f.bin | sha256sum | cut -d' ' -f1)"
echo "sha6 \$(curl -q --noproxy '*' -sS --fail --max-time 20 -g http://[$TGT6]:$HTTP_PORT/f.bin | sha256sum | cut -d' ' -f1)"
echo "peer \$(curl -q --noproxy '*' -sS --fail --max-time 20 http://$TGT4:$HTTP_PORT/peer)"
echo "dns \$(dig +short +time=3 +tries=1 www.e2e.test A)"
"$PY" "$E2E_DIR/udp_client.py" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 5 --count 3 --size 1000 >&2
"$PY" "$E2E_DIR/udp_client.py" echo --host "$TGT6" --port "$UDP_ECHO_PORT" -n 5 --count 3 --size 1000 >&2
echo "udp ok"
iperf3 -c "$TGT4" -p "$IPERF_PORT" -t 1 --connect-timeout 5000 >&2
iperf3 -c "$TGT4" -p "$IPERF_PORT" -t 1 -R --connect-timeout 5000 >&2
echo "iperf ok"
exit 7
EOS
n0=$(sniff_count)
out=$(run_cmd --proxy "$PROXY" --dns-server "$DNS4" -- bash "$WORK/inside.sh")
st=$?
echo "$out" >"$LOGDIR/inside.out"
[ "$st" = 7 ] || fail "exit status $st, expected the command's 7; output: $out"
routes=$(grep -v -e '^sha' -e '^peer' -e '^dns' -e '^udp' -e '^iperf' <<<"$out")
[ "$(grep -c . <<<"$routes")" = 2 ] || fail "the command's namespace has other routes: $routes"
grep -q "^default dev tun2socks0" <<<"$routes" || fail "no IPv4 default route through the TUN: $routes"
grep -q "^sha $want\$" <<<"$out" || fail "IPv4 download checksum: $out"
grep -q "^sha6 $want\$" <<<"$out" || fail "IPv6 download checksum: $out"
grep -q "^peer $SRV_IP4\$" <<<"$out" || fail "the target did not see danted: $out"
grep -q "^dns $TGT4\$" <<<"$out" || fail "DNS through resolv.conf: $out"
grep -q "^udp ok\$" <<<"$out" || fail "UDP: $out"
grep -q "^iperf ok\$" <<<"$out" || fail "iperf3 both ways from the command: $out"
check_udp_peers
grep -q "query\[A\] www.e2e.test from $SRV_IP4" "$LOGDIR/dnsmasq.log" || fail "dnsmasq did not get the query from danted"
no_leak() { [ "$(sniff_count)" = "$n0" ] || fail "$(($(sniff_count) - n0)) packets leaked around the proxy"; }
no_leak
[ "$(routing_snapshot "$CLI")" = "$before" ] || fail "the caller's rules or routes changed"
[ "$(cat /etc/resolv.conf)" = "$resolv_before" ] || fail "the host's /etc/resolv.conf changed"
[ -z "$(t2s_procs)" ] || fail "tun2socks left running"
info "command: HTTP v4+v6, DNS, UDP through the proxy; status 7 propagated"

# Signals: the command killed by SIGTERM -> 128 + 15; a missing command -> 127.
run_cmd --proxy "$PROXY" -- sh -c 'kill -TERM $$' >/dev/null
st=$?
[ "$st" = 143 ] || fail "a command killed by SIGTERM gave status $st, not 143"
run_cmd --proxy "$PROXY" -- /nonexistent/cmd >/dev/null
st=$?
[ "$st" = 127 ] || fail "a missing command gave status $st, not 127"
# SIGTERM to tun2socks goes to the command, whose exit ends the run.
echo "=== $(date +%T.%3N) run: sleep, then SIGTERM to tun2socks" >>"$T2S_LOG"
ip netns exec "$CLI" "$T2S_BIN" --proxy "$PROXY" -- sleep 30 2>>"$T2S_LOG" &
T2S_PID=$!
wait_until 10 grep -q ' ready: ' "$T2S_LOG" || fail "tun2socks -- sleep not ready"
t0=$(now)
t2s_stop TERM
[ "$T2S_STATUS" = 143 ] || fail "SIGTERM to tun2socks: status $T2S_STATUS, not the command's 143"
info "statuses: 143 (signal), 127 (missing), SIGTERM forwarded"

# Unprivileged.
nobody_run() { timeout -k 5 20 ip netns exec "$CLI" setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
tun_mode=$(stat -c %a /dev/net/tun)
if [ "$(nobody_run cat /proc/self/uid_map 2>/dev/null | wc -l)" = 0 ]; then
    fail "setpriv does not work here"
fi
if ! nobody_run unshare -U true 2>/dev/null; then
    out=$(nobody_run "$T2S_BIN" --proxy "$PROXY" -- true 2>&1)
    st=$?
    [ "$st" = 1 ] || fail "unprivileged without user namespaces: status $st"
    [[ $out == *"needs root"*"user namespaces"* ]] || fail "unclear error without privilege: $out"
    info "unprivileged: user namespaces unavailable here; the error says what is needed"
else
    if [ "$tun_mode" != 666 ]; then
        # This machine's /dev/net/tun is root-only: first the error, then the
        # working path with a 0666 node of the same device bound over it in a
        # private mount namespace (the host's device node is untouched).
        out=$(nobody_run "$T2S_BIN" --proxy "$PROXY" -- true 2>&1)
        st=$?
        [ "$st" = 1 ] || fail "unprivileged with /dev/net/tun $tun_mode: status $st"
        [[ $out == *"cannot open /dev/net/tun"*"0666"* ]] || fail "unclear error for /dev/net/tun $tun_mode: $out"
        info "unprivileged with /dev/net/tun mode $tun_mode: clear error"
    fi
    mkdir -p "$WORK/dev" && chmod 755 "$WORK" "$WORK/dev"
    chmod 644 "$WORK/www/f.bin"
    out=$(timeout -k 5 60 ip netns exec "$CLI" unshare --mount --propagation private sh -c '
        mknod "$1/dev/tun" c 10 200 && chmod 666 "$1/dev/tun" && mount --bind "$1/dev/tun" /dev/net/tun || exit 99
        shift
        exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' sh "$WORK" \
        "$T2S_BIN" --proxy "$PROXY" --dns-server "$DNS4" -- sh -c \
        "echo uid \$(id -u); echo sha \$(curl -q --noproxy '*' -sS --fail --max-time 20 http://$TGT4:$HTTP_PORT/f.bin | sha256sum | cut -d' ' -f1); echo dns \$(dig +short +time=3 +tries=1 www.e2e.test A); exit 5" \
        2>>"$T2S_LOG")
    st=$?
    [ "$st" != 99 ] || fail "could not prepare a 0666 TUN node for the unprivileged run"
    [ "$st" = 5 ] || fail "unprivileged run: status $st; output: $out"
    grep -q "^uid 65534\$" <<<"$out" || fail "the command did not run with the caller's uid: $out"
    grep -q "^sha $want\$" <<<"$out" || fail "unprivileged download checksum: $out"
    grep -q "^dns $TGT4\$" <<<"$out" || fail "unprivileged DNS: $out"
    info "unprivileged (user namespace): HTTP and DNS through the proxy, uid kept, status 5"
fi
no_leak
[ "$(routing_snapshot "$CLI")" = "$before" ] || fail "the caller's rules or routes changed"
