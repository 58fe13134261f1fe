#!/bin/bash
# SPDX-License-Identifier: MIT
# UDP state shared between users, through danted:
#  1. An association given back by an idle mapping serves only a new mapping of
#     the same source endpoint: source B after source A's mapping expired must
#     come out of its own association (udp_echo.py sees a new danted port),
#     while A, back on the same port, gets its own association again (no new
#     port). On the old code B left through A's association.
#  2. Nobody can declare the relay silent for everyone: two port-53 queries to a
#     blackhole 2 s apart, then a DNS query answered (over TCP on the old code),
#     must not make non-DNS UDP "refused"; without --dns-server (no check) and
#     with it (our own check, answered through danted). On the old code the
#     state became "silent" and every user's UDP got ICMP port unreachable.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
command -v dig >/dev/null || fail "dig is not installed (scripts/setup-deps installs dnsutils)"
topo_up
dnsmasq_start || fail "dnsmasq is not installed (scripts/setup-deps installs dnsmasq-base)"
danted_conf_udp
danted_start
udp_echo_start

stat_is() { [ "$(t2s_stat "$1")" = "$2" ]; }
stat_ge() { [ "$(t2s_stat "$1")" -ge "$2" ]; }
npeers_is() { [ "$(udp_echo_npeers)" = "$1" ]; }

# 1. Recycled associations stay with their source.
T2S_EXTRA="--udp-timeout 5 --udp-pool 2" t2s_start
wait_until 5 grep -q "proxy accepts UDP ASSOCIATE" "$T2S_LOG" || fail "no start-up UDP check result logged"
P=$WORK/a.pause
# A: one echo, then paused (its socket, and so its source port, kept) until told.
udp_client "$CLI" reuse --host "$TGT4" --port "$UDP_ECHO_PORT" --rounds 2 --pause-file "$P" --pause-max 60 \
    --max-resends 0 >"$WORK/a.out" 2>&1 &
A_PID=$!
BG_PIDS+=("$A_PID")
wait_until 10 test -e "$P.ready" || fail "source A's first echo: $(cat "$WORK/a.out")"
wait_until 5 npeers_is 1 || fail "udp_echo.py saw $(udp_echo_npeers) senders after A's echo, want 1"
pa=$(udp_echo_peers | tail -1)
# Its mapping expires after --udp-timeout 5 and gives the association to the pool.
wait_until 15 stat_is udp_mappings 0 || fail "A's mapping did not expire"
wait_until 5 stat_ge udp_pool_recycled 1 || fail "A's association was not kept for reuse"
# B: a new source (another port).
udp_client "$CLI" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 1 --count 1 --max-resends 0 >/dev/null \
    || fail "source B's echo"
wait_until 5 npeers_is 2 || fail "source B came out through source A's association (danted port ${pa#* }; udp_echo.py saw no new sender)"
pb=$(udp_echo_peers | tail -1)
[ "$pb" != "$pa" ] || fail "B and A share the danted endpoint $pa"
info "A left through danted $pa, B through $pb"
# A again, from the same source port: its own association, back from the pool.
touch "$P"
wait "$A_PID" || fail "source A's second echo: $(cat "$WORK/a.out")"
forget_pid "$A_PID"
[ "$(udp_echo_npeers)" = 2 ] || fail "A's second echo came from a new danted endpoint: $(udp_echo_peers | tail -1)"
info "A, back on its port, reused its own association ($(cat "$WORK/a.out"))"
check_udp_peers
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"

# 2. The attack on the UDP health state, without and with --dns-server.
attack() {
    local what=$1 out
    # Two queries nobody answers (nothing listens on the target's port 53), 2 s
    # apart: the interval is the stimulus, not a wait for readiness.
    in_cli dig +time=1 +tries=1 "@$TGT4" blackhole1.e2e.test A >/dev/null 2>&1
    sleep 2.2
    in_cli dig +time=1 +tries=1 "@$TGT4" blackhole2.e2e.test A >/dev/null 2>&1
    # Then any DNS answer, and a quiet second with no other UDP coming back (also
    # part of the attack: on the old code, this is when the state became "silent").
    out=$(in_cli dig +short +time=3 +tries=2 "@$DNS4" after.e2e.test A | grep -v '^;;') \
        || fail "$what: dig after the attack"
    [ "$out" = "$TGT4" ] || fail "$what: dig after the attack answered '$out'"
    sleep 1.2
    # Other UDP keeps working for everyone.
    udp_client "$CLI" reuse --host "$TGT4" --port "$UDP_ECHO_PORT" --rounds 3 --idle 0.5 >/dev/null \
        || fail "$what: UDP no longer relayed after two unanswered DNS queries (state $(t2s_stat udp_state))"
    [ "$(t2s_stat udp_state)" != silent ] || fail "$what: the relay was declared silent"
    udp_client "$CLI" echo --host "$TGT4" --port "$UDP_ECHO_PORT" -n 4 --count 2 >/dev/null \
        || fail "$what: new UDP flows after the attack"
    info "$what: unanswered DNS did not change UDP for anyone (state $(t2s_stat udp_state))"
}
t2s_start
wait_until 10 stat_is udp_state relays || fail "the start-up UDP check: $(t2s_stat udp_state)"
attack "no --dns-server"
t2s_stop TERM
T2S_EXTRA="--dns-server $DNS4" t2s_start
wait_until 10 stat_is udp_state relays || fail "the start-up relay check with --dns-server: $(t2s_stat udp_state)"
attack "--dns-server $DNS4"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"
