#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGHUP with --config switches the proxy for new connections (issue 11, reload):
# a 64 MiB download through danted A (rate-limited so that it spans the reload)
# keeps going across a reload whose file names danted B by name (looked up on the
# loop, from the resolv.conf `ip netns exec` gives the client namespace, by a
# dnsmasq of the test's own), and arrives intact
# (SHA-256); a connection made after the reload goes through B (seen in B's log),
# none more through A; connect-timeout changed in the file too (2 settings); UDP
# ASSOCIATE is checked again, with B.
# Then --auto-route: a reload that changes --exclude puts the new rule in before the
# old one goes (the state record names both meanwhile), the excluded target goes
# direct and the other one through the proxy; at exit rules and routes are as before.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
danted_start
# danted B: the same server namespace, another port and log.
danted_b_start
httpd_start
# B's name, answered by a dnsmasq on the server's veth address; the client namespace's
# resolv.conf (bound by ip netns exec from /etc/netns/NS) names only it.
proxy_b_name_start
size_mb=64
head -c "${size_mb}M" /dev/urandom >"$WORK/www/big.bin" || fail "test file"
want=$(sha256sum <"$WORK/www/big.bin" | cut -d' ' -f1)

CONF=$WORK/t2s.conf
cat >"$CONF" <<EOC
# proxy A
proxy = socks5://$SRV_IP4:$DANTE_PORT
connect-timeout = 5
EOC
chmod 600 "$CONF"
t2s_start --config "$CONF"
connects() { grep -c 'pass.*connect' "$1" 2>/dev/null || true; }

# The download: ~8 MiB/s, so it is still running when the reload comes.
in_cli curl -q --noproxy '*' -sS --fail --max-time 120 --limit-rate 8M -o "$WORK/got.bin" \
    "http://$TGT4:$HTTP_PORT/big.bin" >"$LOGDIR/curl.log" 2>&1 &
CURL_PID=$!
BG_PIDS+=("$CURL_PID")
got_some() { [ "$(stat -c %s "$WORK/got.bin" 2>/dev/null || echo 0)" -gt $((4 << 20)) ]; }
wait_until 30 got_some || fail "the download did not start through proxy A"
a_before=$(connects "$LOGDIR/danted.log")
b_before=$(connects "$LOGDIR/danted_b.log")

cat >"$CONF" <<EOC
# proxy B, by name, and another timeout
proxy = socks5://$B_NAME:$B_PORT
connect-timeout = 7
EOC
kill -HUP "$T2S_PID"
wait_until 10 grep -q "reload: done" "$T2S_LOG" || fail "no 'reload: done' in the log"
grep -q "reload: done (2 settings changed)" "$T2S_LOG" || fail "not 2 settings changed: $(grep reload: "$T2S_LOG")"
grep -q "reload: new connections go to socks5://$B_NAME:$B_PORT" "$T2S_LOG" || fail "the new proxy is not logged"
grep -q "$B_NAME" "$LOGDIR/dnsmasq_b.log" || fail "B's name was not asked of dnsmasq"
t2s_alive || fail "tun2socks died on SIGHUP"
# Whether the proxy relays UDP is asked again, of B.
grep -q "UDP: a new proxy: checking whether it supports UDP ASSOCIATE" "$T2S_LOG" || fail "UDP not re-checked"
accepts_twice() { [ "$(grep -c 'UDP: the proxy accepts UDP ASSOCIATE' "$T2S_LOG")" -ge 2 ]; }
wait_until 10 accepts_twice || fail "B's UDP ASSOCIATE not checked: $(grep 'UDP:' "$T2S_LOG" | tail -3)"
[ "$(stat -c %s "$WORK/got.bin")" -lt $((size_mb << 20)) ] \
    || fail "the download was over before the reload: raise size_mb or lower the rate"
info "reloaded while the download was at $(( $(stat -c %s "$WORK/got.bin") >> 20 )) MiB"

# A new connection goes through B, none through A.
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "a request after the reload failed"
[ "$peer" = "$SRV_IP4" ] || fail "the target saw '$peer'"
b_has_new() { [ "$(connects "$LOGDIR/danted_b.log")" -gt "$b_before" ]; }
wait_until 5 b_has_new || fail "danted B saw no connection after the reload: $(tail -3 "$LOGDIR/danted_b.log")"
[ "$(connects "$LOGDIR/danted.log")" = "$a_before" ] || fail "danted A saw a new connection after the reload"

# The download through A ends intact.
wait_until 120 proc_done "$CURL_PID" || fail "the download did not finish"
wait "$CURL_PID" || fail "curl failed: $(cat "$LOGDIR/curl.log")"
got=$(sha256sum <"$WORK/got.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "SHA-256 of the download across the reload differs"
info "64 MiB across the reload: SHA-256 intact; the new connection went through B"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"

# 2. --exclude changed by a reload in --auto-route mode.
wan_default_routes "$CLI"
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
STATE=/run/tun2socks/net$ino-$TUN/state
CLEANUP_PATHS+=("${STATE%/state}")
before=$(routing_snapshot "$CLI")
OTHER=198.19.0.99
cat >"$CONF" <<EOC
proxy = socks5://$SRV_IP4:$DANTE_PORT
auto-route
exclude = $TGT4/32
EOC
cap_start "$CLI" --config "$CONF" --tun "$TUN"
peer_of() { ip netns exec "$CLI" curl -q --noproxy '*' -sS --fail --max-time 10 "http://$TGT4:$HTTP_PORT/peer"; }
# (Not `ip rule | grep -q`: with pipefail, ip's SIGPIPE after an early match fails it.)
rule_for() { local r; r=$(ip -n "$CLI" -4 rule show) && grep -q "^7430:.*to $1 lookup main" <<<"$r"; }
rule_for "$TGT4" || fail "no exclusion rule for $TGT4: $(ip -n "$CLI" -4 rule show)"
[ "$(peer_of)" = "$CLI_IP4" ] || fail "excluded $TGT4 did not go direct"
sed -i "s|^exclude = .*|exclude = $OTHER/32|" "$CONF"
kill -HUP "$T2S_PID"
wait_until 10 grep -q "reload: --exclude now keeps 1 destination out of the TUN" "$T2S_LOG" \
    || fail "--exclude not changed by the reload: $(grep reload: "$T2S_LOG" | tail -3)"
rule_for "$OTHER" || fail "no rule for the new exclusion $OTHER"
rule_for "$TGT4" && fail "the old exclusion $TGT4 is still there"
grep -q "$OTHER" "$STATE" && ! grep -q "to $TGT4/32" "$STATE" || fail "the state record does not name the new exclusion only"
peer=$(peer_of) || fail "$TGT4 unreachable after the reload"
[ "$peer" = "$SRV_IP4" ] || fail "$TGT4 no longer excluded should go through danted, came from '$peer'"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after exit: $(diff <(echo "$before") <(echo "$after"))"
[ -e "$STATE" ] && fail "state record left"
info "--exclude changed live: new rule in, old one out, record follows; all gone at exit"
info "PASS"
