#!/bin/bash
# SPDX-License-Identifier: MIT
# OpenSSH's SOCKS server (ssh -D) as the proxy. It completes the greeting and then
# closes the connection on UDP ASSOCIATE: tun2socks must take that as "no UDP"
# (as REP 7), not as "cannot check now". A real sshd in the server ns (its own
# port, config, throw-away host and client keys in the work dir, no PAM) and a
# real `ssh -N -D` client there; tun2socks with --proxy at the -D address:
#  1. HTTP through it (curl, SHA-256 of a 4 MiB body);
#  2. `dig` over UDP answered (DNS over TCP through CONNECT to dnsmasq), one try;
#  3. other UDP refused at once (ICMP port unreachable, time measured);
#  4. the log says why, the state is "unsupported", no association was retried;
#  5. with ssh -D gone (connection refused: a proxy that is down), a new
#     tun2socks does not conclude "no UDP": the state stays "unknown".
# On the old code, dig got "connection refused": the close counted as "cannot
# check now" and every datagram got ICMP port unreachable.
# (microsocks, which answers REP 7, is t23 part 2.) First, `tun2socks check` against it:
# CONNECT ok, UDP ASSOCIATE a warning that names ssh -D, DNS over TCP ok, exit 0.
. "$(dirname "$0")/lib.sh"

SSHD_PORT=2222
SOCKS_PORT=1082

need_root
need_bin
for t in /usr/sbin/sshd ssh ssh-keygen dig; do
    command -v "$t" >/dev/null || fail "$t is not installed (scripts/setup-deps installs openssh-server, openssh-client, dnsutils)"
done
topo_up
dnsmasq_start || fail "dnsmasq is not installed (scripts/setup-deps installs dnsmasq-base)"
httpd_start
udp_echo_start

# The SOCKS server: ssh -D on the server's veth address, reachable from tun2socks.
ssh_socks_start

# 0. `tun2socks check` says what ssh -D can and cannot do (issue 11; t65 has the others).
in_cli timeout 30 "$T2S_BIN" check --proxy "socks5://$SRV_IP4:$SOCKS_PORT" --check-target "$TGT4:$HTTP_PORT" \
    --dns-server "$DNS4" >"$WORK/check.txt" 2>&1 || fail "check against ssh -D: exit $?: $(cat "$WORK/check.txt")"
for l in '^ok +connect: ' '^warn +udp-associate: .*ssh -D' '^ok +dns-tcp: ' '^skip +dns-udp: '; do
    grep -qE "$l" "$WORK/check.txt" || fail "check against ssh -D: no '$l' line: $(cat "$WORK/check.txt")"
done
info "tun2socks check: CONNECT ok, UDP ASSOCIATE closed (a warning), DNS over TCP ok, exit 0"

log_has() { grep -q "$1" "$T2S_LOG"; }
t2s_start --proxy "socks5://$SRV_IP4:$SOCKS_PORT"

# 1. HTTP.
head -c 4M /dev/urandom >"$WORK/www/ssh.bin" || fail "cannot create the test file"
want=$(sha256sum <"$WORK/www/ssh.bin" | cut -d' ' -f1)
cli_curl -o "$WORK/ssh.dl" "http://$TGT4:$HTTP_PORT/ssh.bin" || fail "HTTP GET through ssh -D failed"
got=$(sha256sum <"$WORK/ssh.dl" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "HTTP GET through ssh -D: sha256 mismatch"
info "HTTP through ssh -D: 4 MiB, sha256 ok"

# 2. dig over UDP, one try: answered through DNS over TCP.
t0=$(now)
out=$(in_cli dig +short +time=5 +tries=1 "@$DNS4" ssh.e2e.test A) || fail "dig through ssh -D: $out"
a=$(printf '%s\n' "$out" | grep -v '^;;')
[ "$a" = "$TGT4" ] || fail "dig through ssh -D answered '$out', want $TGT4"
info "dig over UDP answered in $(elapsed "$t0") s (DNS over TCP through ssh -D)"
out=$(in_cli dig +short +time=5 +tries=1 "@$DNS6" ssh6.e2e.test AAAA) || fail "dig (v6 server) through ssh -D: $out"
[ "$(printf '%s\n' "$out" | grep -v '^;;')" = "$TGT6" ] || fail "dig (v6 server) answered '$out'"
wait_until 5 grep -q "query\[A\] ssh.e2e.test" "$LOGDIR/dnsmasq.log" || fail "dnsmasq never saw the query"

# 3. Other UDP: refused at once (udp_echo.py listens there, so a refusal can only
#    be tun2socks' own), v4 and v6.
for host in "$TGT4" "$TGT6"; do
    r=$(udp_client "$CLI" refused --host "$host" --port "$UDP_ECHO_PORT" --max 1) \
        || fail "$host: non-DNS UDP not refused at once through ssh -D"
    info "$host: $r"
done
[ "$(udp_echo_npeers)" = 0 ] || fail "a datagram reached udp_echo.py through ssh -D"

# 4. The start-up probe (or the first mapping) saw the close.
wait_until 10 log_has "does not support UDP ASSOCIATE (it closes the connection" \
    || fail "ssh -D's close on UDP ASSOCIATE not taken as 'no UDP': $(grep 'UDP:' "$T2S_LOG" | tail -2)"
[ "$(t2s_stat udp_state)" = unsupported ] || fail "state $(t2s_stat udp_state), want unsupported"
# At most the first dig's own association (if it came before the probe's answer).
[ "$(t2s_stat udp_assoc_failed)" -le 1 ] || fail "associations were attempted for traffic after the close was seen"

t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"

# 5. A proxy that is down is another case.
stop_pid "$SSH_PID" TERM 5
wait_until 5 not listening "$SRV" "$SRV_IP4" "$SOCKS_PORT" || fail "ssh -D still listening after SIGTERM"
n0=$(grep -c "cannot check the proxy's UDP support now" "$T2S_LOG")
t2s_start --proxy "socks5://$SRV_IP4:$SOCKS_PORT"
checked() { [ "$(grep -c "cannot check the proxy's UDP support now" "$T2S_LOG")" -gt "$n0" ]; }
wait_until 10 checked || fail "no start-up check result with the proxy down"
[ "$(t2s_stat udp_state)" = unknown ] || fail "proxy down: state $(t2s_stat udp_state), want unknown"
info "proxy down: state unknown (not 'no UDP')"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"
