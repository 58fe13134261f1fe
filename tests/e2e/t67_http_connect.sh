#!/bin/bash
# SPDX-License-Identifier: MIT
# An HTTP CONNECT upstream (http://) through tinyproxy: downloads intact (SHA-256,
# IPv4 and IPv6 targets, a server that speaks first), Basic auth good and bad, a
# refused port answered with RST within 3 s, a host the proxy filters answered with
# ICMP (EHOSTUNREACH), DNS over TCP and other UDP refused at once; a proxy allowing
# CONNECT only to 443 gets the --dns fake-ip advice, logged once; a SOCKS5 server given
# as http:// fails clearly; a reload keeps the kind; --udp associate with http:// is
# refused at start.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
command -v tinyproxy >/dev/null || fail "tinyproxy is not installed (scripts/setup-deps installs it)"
topo_up
httpd_start
echo_start
udp_echo_start
dnsmasq_start || fail "dnsmasq is not installed"
danted_start

TP_PORT=3128      # open, filters $TGT4_ALT
TP_AUTH_PORT=3129 # Basic auth
TP_443_PORT=3130  # ConnectPort 443 only
TP_USER=e2euser
TP_PASS='e2e-S3cret'

# tinyproxy_start NAME PORT [CONFIG LINES...]: tinyproxy in the foreground on $SRV_IP4:PORT.
tinyproxy_start() {
    local name=$1 port=$2 line
    shift 2
    {
        printf 'Port %s\nListen %s\nTimeout 60\nLogLevel Info\nMaxClients 200\n' "$port" "$SRV_IP4"
        for line in "$@"; do printf '%s\n' "$line"; done
    } >"$WORK/$name.conf"
    start_bg "$name" "$SRV" tinyproxy -d -c "$WORK/$name.conf"
    wait_until 10 listening "$SRV" "$SRV_IP4" "$port" || fail "$name did not listen on $SRV_IP4:$port"
    info "$name up (pid $BG_PID)"
}
printf '^198\\.19\\.0\\.11$\n' >"$WORK/filter"
tinyproxy_start tinyproxy "$TP_PORT" "Filter \"$WORK/filter\""
tinyproxy_start tinyproxy-auth "$TP_AUTH_PORT" "BasicAuth $TP_USER $TP_PASS"
tinyproxy_start tinyproxy-443 "$TP_443_PORT" "ConnectPort 443"

head -c $((8 << 20)) /dev/urandom >"$WORK/www/blob"
want=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)
download_ok() {
    local what=$1 url=$2 got
    got=$(cli_curl "$url" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || fail "$what: SHA-256 of $url is $got, want $want"
    info "$what: 8 MiB intact"
}
log_mark() { mark=$(wc -l <"$T2S_LOG"); }
log_since() { tail -n +"$((mark + 1))" "$T2S_LOG"; }
logged() { log_since | grep -qF -- "$1"; }

# 1. The open proxy.
t2s_start --proxy "http://$SRV_IP4:$TP_PORT"
grep -q "ready: .* -> http://$SRV_IP4:$TP_PORT" "$T2S_LOG" || fail "the ready line does not name the http:// proxy"
download_ok "IPv4 target" "http://$TGT4:$HTTP_PORT/blob"
download_ok "IPv6 target" "http://[$TGT6]:$HTTP_PORT/blob"
# The server speaks first: nothing behind the 200 is lost. (--send 0: tinyproxy ends the
# tunnel once either side half-closes, so nothing can follow the server's FIN.)
client "$CLI" revclose --host "$TGT4" --port "$REV_PORT" --send 0 --body $((1 << 20)) \
    || fail "server-first stream through CONNECT"
info "server-first stream intact"

log_mark
client "$CLI" refused --host "$TGT4" --port "$CLOSED_PORT" --max 3 || fail "refused port: no prompt RST"
wait_until 5 logged "HTTP 500 Unable to connect" || fail "refused port: no 'HTTP 500' line in the log"

log_mark
client "$CLI" connecterr --host "$TGT4_ALT" --port "$HTTP_PORT" --errno EHOSTUNREACH --max 3 \
    || fail "filtered host: no prompt ICMP (EHOSTUNREACH)"
grep -q 'refused on filtered domain "198.19.0.11"' "$LOGDIR/tinyproxy.log" || fail "filtered host: tinyproxy did not filter it"
info "refused port -> RST, filtered host -> ICMP"

# DNS goes over TCP through CONNECT; other UDP is refused at once.
a=$(in_cli dig +short +time=3 +tries=1 "@$DNS4" www.e2e.test A) || fail "dig through an HTTP proxy"
[ "$a" = "$TGT4" ] || fail "dig through an HTTP proxy: got '$a', want $TGT4"
grep -q "CONNECT $DNS4:53" "$LOGDIR/tinyproxy.log" || fail "the DNS query did not go through CONNECT to port 53"
udp_client "$CLI" refused --host "$TGT4" --port "$UDP_ECHO_PORT" --max 2 || fail "UDP not refused at once"
info "DNS over TCP, other UDP refused"
not grep -q "allow CONNECT only" "$T2S_LOG" || fail "open proxy: the 443-only advice was logged"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"

# 2. Basic auth: good, wrong, missing.
t2s_start --proxy "http://$TP_USER:$TP_PASS@$SRV_IP4:$TP_AUTH_PORT"
download_ok "Basic auth" "http://$TGT4:$HTTP_PORT/blob"
t2s_stop
log_mark
t2s_start --proxy "http://$TP_USER:wrong@$SRV_IP4:$TP_AUTH_PORT"
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --expect fail --max 3 || fail "wrong password: no prompt failure"
wait_until 5 logged "authentication failed (HTTP 40" || fail "wrong password: no 'authentication failed (HTTP 40x' line"
logged "username or password rejected" || fail "wrong password: the log does not say the credentials were rejected"
t2s_stop
log_mark
t2s_start --proxy "http://$SRV_IP4:$TP_AUTH_PORT"
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --expect fail --max 3 || fail "no credentials: no prompt failure"
wait_until 5 logged "requires a username and password" || fail "no credentials: the log does not say so"
t2s_stop
info "auth: good, wrong and missing credentials"

# 3. CONNECT only to 443: DNS over TCP fails; the advice is logged once.
log_mark
t2s_start --proxy "http://$SRV_IP4:$TP_443_PORT"
for i in 1 2; do
    in_cli dig +short +time=3 +tries=1 "@$DNS4" "host$i.e2e.test" A >/dev/null 2>&1
done
client "$CLI" connecterr --host "$TGT4" --port "$HTTP_PORT" --errno EHOSTUNREACH --max 3 \
    || fail "443-only proxy: CONNECT to 8080 not answered with ICMP"
# The query fails at once (ICMP port unreachable), not after dig's timeout.
t0=$(now)
in_cli dig +time=5 +tries=1 "@$DNS4" host3.e2e.test A >"$WORK/dig.out" 2>&1
t=$(elapsed "$t0")
awk -v t="$t" 'BEGIN { exit !(t < 3) }' || fail "443-only proxy: the DNS query took ${t}s to fail"
wait_until 5 logged "allow CONNECT only to port 443" || fail "443-only proxy: no advice in the log"
logged "use --dns fake-ip" || fail "443-only proxy: the advice does not point to --dns fake-ip"
n=$(log_since | grep -c "allow CONNECT only to port 443")
[ "$n" = 1 ] || fail "443-only proxy: the advice was logged $n times, want once"
t2s_stop
info "443-only proxy: advice logged once"

# 4. A SOCKS5 server given as http:// fails clearly, and fast.
log_mark
t2s_start --proxy "http://$SRV_IP4:$DANTE_PORT"
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --expect fail --max 12 || fail "SOCKS5 server as http://: no failure"
wait_until 15 logged "broke the HTTP CONNECT handshake" || fail "SOCKS5 server as http://: no clear log line"
t2s_stop

# 5. Reload (SIGHUP with --config): credentials change live; "udp auto" is what it meant at
#    start, not a change; a SOCKS5 proxy instead of the HTTP one needs a restart.
CONF=$WORK/t2s.conf
printf 'proxy = http://%s:%s\n' "$SRV_IP4" "$TP_PORT" >"$CONF"
chmod 600 "$CONF"
t2s_start --config "$CONF"
printf 'proxy = http://%s:%s@%s:%s\n' "$TP_USER" "$TP_PASS" "$SRV_IP4" "$TP_AUTH_PORT" >"$CONF"
log_mark
kill -HUP "$T2S_PID"
wait_until 10 logged "reload: done" || fail "reload 1: no 'reload: done'"
not logged "cannot change" || fail "reload 1: $(log_since | grep 'cannot change')"
download_ok "after a reload to the auth proxy" "http://$TGT4:$HTTP_PORT/blob"
printf 'proxy = socks5://%s:%s\n' "$SRV_IP4" "$DANTE_PORT" >"$CONF"
log_mark
kill -HUP "$T2S_PID"
wait_until 10 logged "reload: done" || fail "reload 2: no 'reload: done'"
logged "reload: --proxy cannot change while running" || fail "reload 2: the kind change was not refused"
not logged "reload: --udp" || fail "reload 2: $(log_since | grep 'reload: --udp')"
download_ok "still through the HTTP proxy" "http://$TGT4:$HTTP_PORT/blob"
grep -q "CONNECT $TGT4:$HTTP_PORT" "$LOGDIR/tinyproxy-auth.log" || fail "reload: the auth proxy saw no CONNECT"
t2s_stop
info "reload: credentials live, kind change refused"

# 6. tun2socks check: the open proxy passes; the 443-only one fails DNS over TCP with the
#    --dns fake-ip hint; wrong credentials are named.
check_out() { in_cli timeout 60 "$T2S_BIN" check "$@" 2>&1; }
out=$(check_out --proxy "http://$SRV_IP4:$TP_PORT" --check-target "$TGT4:$HTTP_PORT" --dns-server "$DNS4")
rc=$?
[ "$rc" = 0 ] || fail "check, open proxy: exit $rc: $out"
grep -Eq '^ok +connect: CONNECT to ' <<<"$out" && grep -Eq '^ok +dns-tcp: ' <<<"$out" || fail "check, open proxy: $out"
grep -Eq '^skip +udp: a http:// proxy carries no UDP' <<<"$out" || fail "check, open proxy: no udp line: $out"
out=$(check_out --proxy "http://$SRV_IP4:$TP_443_PORT" --dns-server "$DNS4")
rc=$?
[ "$rc" = 1 ] || fail "check, 443-only proxy: exit $rc: $out"
grep -Eq '^FAIL +dns-tcp: CONNECT to the nameserver.s port 53: HTTP 403' <<<"$out" && grep -q 'use --dns fake-ip' <<<"$out" ||
    fail "check, 443-only proxy: $out"
out=$(check_out --proxy "http://$TP_USER:wrong@$SRV_IP4:$TP_AUTH_PORT" --check-target "$TGT4:$HTTP_PORT")
[ $? = 1 ] && grep -Eq '^FAIL +auth: HTTP 401' <<<"$out" || fail "check, wrong password: $out"
info "check: open proxy ok, 443-only named with its hint, wrong password named"

# 7. UDP ASSOCIATE needs SOCKS5: refused at start with a clear message.
out=$(in_cli timeout 10 "$T2S_BIN" --proxy "http://$SRV_IP4:$TP_PORT" --udp associate --tun t2sx0 2>&1)
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "--udp associate with http://: exit status $rc"
[[ $out == *"HTTP proxy relays no UDP"* ]] || fail "--udp associate with http://: unclear message: $out"
info "--udp associate with http:// refused: $out"
