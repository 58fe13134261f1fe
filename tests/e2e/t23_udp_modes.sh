#!/bin/bash
# SPDX-License-Identifier: MIT
# --udp modes and the spare-association pool:
#  1. auto + danted: the start-up check logs that the proxy relays UDP; new
#     mappings take ready associations from the pool (no handshake on their
#     first datagram), and associations of expired mappings are reused;
#  2. auto + microsocks (REP 7): known at start, before any traffic; DNS over
#     TCP works, other UDP is refused at once;
#  3. auto + a proxy that accepts UDP ASSOCIATE but relays nothing, with
#     --dns-server: tun2socks' own check (a query to that server through the
#     relay) finds it silent at start, before any traffic; DNS goes over TCP
#     and resolves at the first try, other UDP is refused at once;
#  4. --udp dns-over-tcp: DNS over TCP, no association ever, other UDP refused;
#  5. --udp block: every datagram refused at once, DNS included;
#  6. --udp-pool 0: one association per mapping, none kept.
. "$(dirname "$0")/lib.sh"

BAD_PORT=1090

need_root
need_bin
topo_up
dnsmasq_start || fail "dnsmasq is not installed (scripts/setup-deps installs dnsmasq-base)"
danted_conf_udp
danted_start
microsocks_start
udp_echo_start

log_has() { grep -q "$1" "$T2S_LOG"; }
stat_ge() { [ "$(t2s_stat "$1")" -ge "$2" ]; }
stat_is() { [ "$(t2s_stat "$1")" = "$2" ]; }
# dig4 NAME [TIMEOUT TRIES]: the A answer (dig also prints timeouts of earlier
# tries, as ";;" lines, on stdout).
dig4() {
    local out
    out=$(in_cli dig +short +time="${2:-3}" +tries="${3:-1}" "@$DNS4" "$1" A) || return 1
    printf '%s\n' "$out" | grep -v '^;;'
}

# 1. auto with a proxy that relays UDP.
T2S_EXTRA="--udp-timeout 1" t2s_start
wait_until 5 log_has "proxy accepts UDP ASSOCIATE" || fail "no start-up UDP check result logged"
wait_until 5 stat_ge udp_pool_ready 1 || fail "no spare association ready after start"
s0=$(danted_udp_sessions)
# 20 new mappings one after the other (each a fresh source port, as a resolver
# uses for each query), each waiting for its echo.
for i in $(seq 1 20); do
    udp_client "$CLI" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 1 --count 1 --max-resends 0 >/dev/null \
        || fail "echo #$i from a fresh socket"
done
hits=$(t2s_stat udp_pool_hits)
misses=$(t2s_stat udp_pool_misses)
info "20 sequential new mappings: $hits pool hits, $misses misses"
[ "$hits" -ge 15 ] || fail "only $hits of 20 new mappings got a ready association from the pool"
# A burst of 8 concurrent new mappings: the ready spares serve the first ones,
# the rest make their own association; all must work.
udp_client "$CLI" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 8 --count 2 --max-resends 0 >/dev/null \
    || fail "burst of 8 new mappings"
# The mappings expire after 1 s idle; associations of expired mappings are
# kept as spares while the pool has room.
wait_until 5 stat_is udp_mappings 0 || fail "mappings did not expire with --udp-timeout 1"
recycled=$(t2s_stat udp_pool_recycled)
[ "$recycled" -ge 1 ] || fail "no association of an expired mapping was kept for reuse"
info "associations kept for reuse after expiry: $recycled"
check_udp_peers
# With nothing taking from it for --udp-timeout, the pool closes its spares.
e_all() { [ "$(danted_udp_ended)" -ge "$(danted_udp_sessions)" ]; }
wait_until 10 e_all || fail "idle spares not closed: danted shows $(danted_udp_sessions) associations, $(danted_udp_ended) ended"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"

# 2. auto with a proxy without UDP ASSOCIATE (REP 7): known at start.
t2s_start --proxy "socks5://$MS_USER:$MS_PASS@$SRV_IP4:$MS_PORT"
wait_until 5 log_has "does not support UDP ASSOCIATE (REP 7)" || fail "REP 7 not detected at start"
t0=$(now)
a=$(dig4 rep7.e2e.test) || fail "dig through a proxy without UDP"
[ "$a" = "$TGT4" ] || fail "dig through a proxy without UDP: '$a'"
info "DNS over TCP after REP 7 at start: answered in $(elapsed "$t0") s"
udp_client "$CLI" refused --host "$TGT4" --port "$UDP_ECHO_PORT" --max 1 || fail "UDP not refused at once after REP 7"
[ "$(t2s_stat udp_assoc_failed)" = 0 ] || fail "associations were attempted for traffic after REP 7 was known"
t2s_stop TERM

# 3. auto with a proxy that accepts UDP ASSOCIATE and relays nothing: our own
#    check with --dns-server finds it at start (applications' unanswered DNS no
#    longer decides anything: t34).
start_bg badproxy "$SRV" "$PY" "$E2E_DIR/badproxy.py" --bind "$SRV_IP4" --port "$BAD_PORT" --mode udpsilent
wait_until 10 listening "$SRV" "$SRV_IP4" "$BAD_PORT" || fail "badproxy did not listen"
t0=$(now)
T2S_EXTRA="--dns-server $DNS4" t2s_start --proxy "socks5://$SRV_IP4:$BAD_PORT"
wait_until 10 log_has "relays nothing (no answer from $DNS4:53" || fail "silent UDP relay not found by the start-up check"
info "silent relay found $(elapsed "$t0") s after start, with no application traffic"
[ "$(t2s_stat udp_state)" = silent ] || fail "state is $(t2s_stat udp_state), want silent"
t0=$(now)
a=$(dig4 silent.e2e.test) || fail "dig (one try) through a proxy that relays no UDP"
[ "$a" = "$TGT4" ] || fail "dig: '$a'"
info "DNS over TCP through the silent relay's proxy answered in $(elapsed "$t0") s"
udp_client "$CLI" refused --host "$TGT4" --port "$UDP_ECHO_PORT" --max 1 || fail "UDP not refused once the relay is known silent"
a=$(dig4 again.e2e.test) || fail "second dig (over TCP at once)"
[ "$a" = "$TGT4" ] || fail "second dig: '$a'"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"

# 4. --udp dns-over-tcp: no association ever.
s0=$(danted_udp_sessions)
T2S_EXTRA="--udp dns-over-tcp" t2s_start
a=$(dig4 dot.e2e.test) || fail "dig with --udp dns-over-tcp"
[ "$a" = "$TGT4" ] || fail "dig with --udp dns-over-tcp: '$a'"
udp_client "$CLI" refused --host "$TGT4" --port "$UDP_ECHO_PORT" --max 1 || fail "--udp dns-over-tcp: UDP not refused"
wait_until 5 grep -q "tcp/connect .*$DNS4\.53" "$LOGDIR/danted.log" || fail "no TCP connection to $DNS4:53 in danted's log"
[ "$(danted_udp_sessions)" = "$s0" ] || fail "--udp dns-over-tcp opened UDP associations"
t2s_stop TERM

# 5. --udp block: everything refused at once, DNS included.
T2S_EXTRA="--udp block" t2s_start
udp_client "$CLI" refused --host "$TGT4" --port "$UDP_ECHO_PORT" --max 1 || fail "--udp block: UDP not refused"
udp_client "$CLI" refused --host "$DNS4" --port 53 --max 1 || fail "--udp block: DNS not refused"
[ "$(danted_udp_sessions)" = "$s0" ] || fail "--udp block opened UDP associations"
t2s_stop TERM

# 6. --udp-pool 0: nothing kept in reserve.
T2S_EXTRA="--udp-pool 0 --udp-timeout 1" t2s_start
wait_until 5 log_has "proxy accepts UDP ASSOCIATE" || fail "no start-up check with --udp-pool 0"
udp_client "$CLI" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 3 --count 2 >/dev/null || fail "echo with --udp-pool 0"
[ "$(t2s_stat udp_pool_hits)" = 0 ] || fail "pool hits with --udp-pool 0"
wait_until 10 e_all || fail "associations left open with --udp-pool 0"
check_udp_peers
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"
