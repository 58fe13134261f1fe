#!/bin/bash
# SPDX-License-Identifier: MIT
# --dns fake-ip: the client ns has no resolver but tun2socks; names resolve to pool
# addresses locally, and connections to them reach the proxy as host names (danted
# resolves them with the server ns's own hosts file). The pool addresses exist nowhere
# (the server ns has no route to them), so a working connection proves the proxy got
# the name; tun2socks' debug log and danted's log (which shows the resolved address,
# never the fake one) confirm it.
. "$(dirname "$0")/lib.sh"

FAKE4=198.19.128.0/17
FAKE6=2001:2:0:f00::/64
NAME=www.e2e.test
DNS4=198.19.0.53      # any address: tun2socks answers queries to port 53 itself

setup_default httpd_start
mkdir -p "/etc/netns/$CLI" "/etc/netns/$SRV" || fail "mkdir /etc/netns"
CLEANUP_PATHS+=("/etc/netns/$CLI" "/etc/netns/$SRV")
printf 'nameserver %s\n' "$DNS4" >"/etc/netns/$CLI/resolv.conf"
printf '%s %s\n%s %s\n' "$TGT4" "$NAME" "$TGT6" "$NAME" >"/etc/netns/$SRV/hosts"
# danted resolves names with its namespace's hosts file, read at start: restart it.
danted_stop
danted_start
t2s_stop TERM
T2S_LOG_LEVEL=debug T2S_EXTRA="--dns fake-ip --fake-ip-range $FAKE4 --fake-ip-range6 $FAKE6" t2s_start

a=$(in_cli dig +short +time=2 +tries=1 "@$DNS4" "$NAME" A) || fail "dig A failed"
[[ $a == 198.19.1[2-9][0-9].* || $a == 198.19.2[0-5][0-9].* ]] || fail "A answer '$a' is not in $FAKE4"
a2=$(in_cli dig +short +time=2 +tries=1 "@$DNS4" "WWW.E2E.TEST" A) || fail "dig A (upper case) failed"
[ "$a" = "$a2" ] || fail "same name, different answers: $a vs $a2"
b=$(in_cli dig +short +time=2 +tries=1 "@$DNS4" other.e2e.test A) || fail "dig other failed"
[ -n "$b" ] && [ "$b" != "$a" ] || fail "different names must get different addresses ($a, $b)"
aaaa=$(in_cli dig +short +time=2 +tries=1 "@$DNS4" "$NAME" AAAA) || fail "dig AAAA failed"
[[ $aaaa == 2001:2:0:f00:* ]] || fail "AAAA answer '$aaaa' is not in $FAKE6"
https=$(in_cli dig +time=2 +tries=1 "@$DNS4" "$NAME" TYPE65) || fail "dig HTTPS failed"
grep -q "status: NOERROR" <<<"$https" && grep -q "ANSWER: 0" <<<"$https" || fail "HTTPS query not answered empty"

# curl resolves through the fake DNS (the ns resolv.conf) and connects to the pool address.
body=$(cli_curl "http://$NAME:$HTTP_PORT/peer") || fail "curl http://$NAME via fake-ip"
[ -n "$body" ] || fail "empty body"
grep -q "new connection to $NAME" "$T2S_LOG" || fail "tun2socks did not send the name $NAME to the proxy"
grep -qF "$a" "$LOGDIR/danted.log" && fail "danted saw the fake address $a"
body6=$(cli_curl -6 "http://$NAME:$HTTP_PORT/peer") || fail "curl -6 http://$NAME via fake-ip"

# A pool address that was never handed out is refused, not hung.
client "$CLI" connecterr --host 198.19.255.250 --port "$HTTP_PORT" --errno ECONNREFUSED --max 3 \
    || fail "unmapped pool address not refused"
t2s_alive || fail "tun2socks died"
