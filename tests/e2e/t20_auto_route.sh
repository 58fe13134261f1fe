#!/bin/bash
# SPDX-License-Identifier: MIT
# Whole-host capture (--auto-route) and the kill switch, with the client ns as
# the "host": it has default routes over its WAN veth to the server ns, so
# anything not captured would reach the targets directly, and sniff.py counts
# every packet to a target address on that veth (must stay 0 while captured).
#  1. Baseline: direct datagrams are seen by the counter (it can fail).
#  2. --auto-route: HTTP (v4, v6; content checksum), UDP echo (v4, v6) and dig
#     arrive through danted; the proxy connection itself is marked and goes out
#     over the veth (no loop); no leak; SIGTERM restores rules and routes exactly.
#  3. --kill-switch: with the proxy down nothing leaks; after kill -9 nothing
#     leaks (TCP, UDP, v4, v6) and the rules stay; the next start lifts the old
#     state and works; after another kill -9, `tun2socks down` restores rules
#     and routes exactly and direct traffic flows again.
. "$(dirname "$0")/lib.sh"

cap_setup
command -v dig >/dev/null && dnsmasq_start && CAP_DNS=1
wan_default_routes "$CLI"
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
STATE=/run/tun2socks/net$ino-$TUN/state
CLEANUP_PATHS+=("${STATE%/state}")
PROXY=socks5://$SRV_IP4:$DANTE_PORT
URL4=http://$TGT4:$HTTP_PORT
URL6=http://[$TGT6]:$HTTP_PORT

before=$(routing_snapshot "$CLI")
sniff_start
head -c 4M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
CAP_WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

# 1. The counter sees traffic that is not captured.
sniff_selftest "$CLI"

# 2. Whole host.
cap_start "$CLI" --proxy "$PROXY" --auto-route --tun "$TUN" --exclude 192.0.2.99/32
[ -s "$STATE" ] || fail "no state record at $STATE"
# (outputs are captured first: with pipefail, grep -q closing a pipe early would fail it)
r=$(in_cli ip route get "$TGT4"); [[ $r == *"dev $TUN "* ]] || fail "$TGT4 not routed into $TUN: $r"
r=$(in_cli ip -6 route get "$TGT6"); [[ $r == *"dev $TUN "* ]] || fail "$TGT6 not routed into $TUN: $r"
# Our proxy connections carry the default mark and leave over the veth.
r=$(in_cli ip route get "$SRV_IP4" mark 0x7432); [[ $r == *"dev veth-c "* ]] || fail "marked traffic does not bypass the TUN: $r"
r=$(in_cli ip route get "$SRV_IP4"); [[ $r == *"dev $TUN "* ]] || fail "unmarked traffic to the proxy is not captured: $r"
r=$(ip -n "$CLI" rule); [[ $r == *"to 192.0.2.99 lookup main"* ]] || fail "--exclude rule missing: $r"
n0=$(sniff_count)
cap_traffic "$CLI" "auto-route"
cap_no_leak_since "$n0" "auto-route"
grep -q "$CLI_IP4" "$LOGDIR/danted.log" || fail "danted saw no connection from the host's WAN address"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after SIGTERM: $(diff <(echo "$before") <(echo "$after"))"
[ ! -e "$STATE" ] || fail "state record left after a clean exit"
info "auto-route: teardown restored rules and routes exactly"

# 3. Kill switch.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN"
n0=$(sniff_count)
cap_traffic "$CLI" "kill-switch"
danted_stop
cap_blocked "$CLI" "kill switch, proxy down"
danted_start
cap_kill9
cap_blocked "$CLI" "kill switch, tun2socks killed"
r=$(ip -n "$CLI" rule); [[ $r == *prohibit* ]] || fail "kill switch rule gone after kill -9: $r"
[ -s "$STATE" ] || fail "state record gone after kill -9"
info "kill -9: nothing leaks"
# The next start lifts what the dead run left and captures again.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN"
grep -q "lifting what a previous run" "$T2S_LOG" || fail "the next start did not lift the previous state"
cap_traffic "$CLI" "restart after kill -9"
cap_kill9
cap_blocked "$CLI" "kill switch, second kill -9"
cap_no_leak_since "$n0" "kill switch"
out=$(ip netns exec "$CLI" "$T2S_BIN" down 2>&1) || fail "tun2socks down failed: $out"
after=$(routing_snapshot "$CLI")
[ "$before" = "$after" ] || fail "rules/routes differ after down: $(diff <(echo "$before") <(echo "$after"))"
[ ! -e "$STATE" ] || fail "state record left after down"
peer=$(cli_curl "$URL4/peer") || fail "direct request after down failed"
[ "$peer" = "$CLI_IP4" ] || fail "direct request after down came from '$peer'"
out=$(ip netns exec "$CLI" "$T2S_BIN" down 2>&1) || fail "a second down failed: $out"
[[ $out == *"nothing to lift"* ]] || fail "second down: '$out'"
info "down restored rules and routes exactly"
