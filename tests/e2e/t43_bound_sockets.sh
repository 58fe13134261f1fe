#!/bin/bash
# SPDX-License-Identifier: MIT
# Interface-bound sockets (issue 10, section 2): sockets bound to the WAN veth with
# SO_BINDTODEVICE or IP_UNICAST_IF / IPV6_UNICAST_IF cannot use the TUN's routes
# (the kernel only considers routes through the bound device), so they are never
# captured; the leak counter on the WAN side must still stay at 0:
#  1. Baseline: without tun2socks, bound sockets reach the targets and are counted.
#  2. --auto-route: they are blocked (nftables table of ours), nothing leaks, while
#     unbound traffic is captured as usual; SIGTERM removes the table and the rules.
#  3. --auto-route --kill-switch: blocked while running, after kill -9 (the table
#     stays, as the rules do), and lifted by `tun2socks down` (rules and tables
#     restored exactly).
. "$(dirname "$0")/lib.sh"

cap_setup
wan_default_routes "$CLI"
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
STATE=/run/tun2socks/net$ino-$TUN/state
CLEANUP_PATHS+=("${STATE%/state}")
PROXY=socks5://$SRV_IP4:$DANTE_PORT
snapshot() { routing_snapshot "$CLI"; ip netns exec "$CLI" nft list ruleset 2>&1; }
before=$(snapshot)
sniff_start
sniff_selftest "$CLI"
head -c 1M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
CAP_WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

# probe WHAT: every bound-socket try from the host; prints what they got.
probe() {
    local how out=""
    for how in bind unicast_if; do
        out+="$(in_cli "$PY" "$E2E_DIR/bound_probe.py" veth-c $how "$TGT4" "$TGT6" "$HTTP_PORT" "$UDP_ECHO_PORT") "
    done
    printf '%s' "$out"
}
# blocked WHAT: every bound try was refused (or, for TCP with IP_UNICAST_IF, which
# Linux ignores for TCP, captured: the target saw danted), and not one packet
# reached the WAN.
blocked() {
    local n0 out
    n0=$(sniff_count)
    out=$(probe)
    [[ $out != *"echo "* && $out != *"peer=$CLI_IP4"* && $out != *"peer=$CLI_IP6"* ]] \
        || fail "$1: an interface-bound socket got through: $out"
    [[ $(grep -o 'bind/[^ ]*HTTP[^ ]*' <<<"$out") = "" ]] || fail "$1: a SO_BINDTODEVICE socket got through: $out"
    wait_until 1 false # late packets of a try (a retransmission) are counted too
    cap_no_leak_since "$n0" "$1"
    info "$1: interface-bound sockets blocked, 0 packets on the WAN ($out)"
}

# 1. Without tun2socks the probes work and are counted.
n0=$(sniff_count)
out=$(probe)
[ "$(grep -oE "HTTP/1.[01]_200_OK,peer=($CLI_IP4|$CLI_IP6) " <<<"$out" | wc -l)" = 4 ] || fail "baseline: bound TCP did not get HTTP 200: $out"
[ "$(grep -o 'echo 10' <<<"$out" | wc -l)" = 4 ] || fail "baseline: bound UDP not echoed: $out"
[ "$(sniff_count)" -gt "$n0" ] || fail "baseline: the counter saw no bound traffic"
info "baseline: bound sockets reach the targets directly ($(($(sniff_count) - n0)) packets counted)"

# 2. --auto-route.
cap_start "$CLI" --proxy "$PROXY" --auto-route --tun "$TUN"
blocked "auto-route"
n0=$(sniff_count)
for u in "http://$TGT4:$HTTP_PORT" "http://[$TGT6]:$HTTP_PORT"; do
    got=$(cli_curl -g "$u/f.bin" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$CAP_WANT" ] || fail "auto-route: GET $u/f.bin (unbound): sha256 mismatch"
    peer=$(cli_curl -g "$u/peer") || fail "auto-route: GET $u/peer"
    [ "$peer" = "$SRV_IP4" ] || [ "$peer" = "$SRV_IP6" ] || fail "auto-route: $u saw '$peer', not danted"
done
cap_no_leak_since "$n0" "auto-route, unbound traffic"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
after=$(snapshot)
[ "$before" = "$after" ] || fail "rules/routes/tables differ after SIGTERM: $(diff <(echo "$before") <(echo "$after"))"

# 3. Kill switch: blocked while running and after a crash, until down.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN"
blocked "kill switch"
cap_kill9
blocked "kill switch, after kill -9"
cap_blocked "$CLI" "kill switch, after kill -9 (unbound)"
out=$(ip netns exec "$CLI" "$T2S_BIN" down 2>&1) || fail "tun2socks down failed: $out"
after=$(snapshot)
[ "$before" = "$after" ] || fail "rules/routes/tables differ after down: $(diff <(echo "$before") <(echo "$after"))"
out=$(probe)
[ "$(grep -oE "HTTP/1.[01]_200_OK,peer=($CLI_IP4|$CLI_IP6) " <<<"$out" | wc -l)" = 4 ] || fail "after down: bound TCP did not work again: $out"
info "down: the table and the rules are gone, bound sockets work again"
