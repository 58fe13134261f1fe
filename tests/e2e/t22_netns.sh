#!/bin/bash
# SPDX-License-Identifier: MIT
# One container (--netns): a "container" namespace created here, with its own
# veth to the server ns and default routes over it (so anything not captured
# would reach the targets; the leak counter watches both veths). tun2socks
# runs in the client ns and puts its TUN and capture into the container,
# addressed by name (/run/netns/NAME) and then by /proc/PID/ns/net; its proxy
# connections leave from the client ns. Checks: traffic from the container
# arrives through danted (HTTP v4+v6 sha256, UDP, DNS), no leak, the TUN lives
# only in the container, SIGTERM restores the container's rules and routes
# exactly; with --kill-switch, after kill -9 nothing leaks until
# `tun2socks down --netns`, which restores everything.
. "$(dirname "$0")/lib.sh"

cap_setup
command -v dig >/dev/null && dnsmasq_start && CAP_DNS=1

CTR=t2s$$n
stub_ns_add "$CTR" veth-n 198.18.1.1/30 2001:2:0:3::1/64 "$SRV" veth-ns 198.18.1.2/30 2001:2:0:3::2/64
wait_until 10 linklocal_settled "$CLI" veth-c || fail "client link-local address"
start_bg sleeper "$CTR" sleep 120
CTR_PID=$BG_PID
ino=$(ip netns exec "$CTR" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
STATE=/run/tun2socks/net$ino-tun2socks0/state
CLEANUP_PATHS+=("${STATE%/state}")
PROXY=socks5://$SRV_IP4:$DANTE_PORT

ctr_before=$(routing_snapshot "$CTR")
cli_before=$(routing_snapshot "$CLI")
sniff_start veth-ns
head -c 4M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
CAP_WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

sniff_selftest "$CTR"
n0=$(sniff_count)

# 1. By name, clean exit.
cap_start "$CLI" --proxy "$PROXY" --netns "$CTR"
ip -n "$CTR" link show tun2socks0 >/dev/null 2>&1 || fail "no TUN in the container"
r=$(ip netns exec "$CTR" ip route get "$TGT4"); [[ $r == *"dev tun2socks0 "* ]] || fail "$TGT4 not routed into the TUN: $r"
ip -n "$CLI" link show tun2socks0 >/dev/null 2>&1 && fail "the TUN is in the caller's namespace"
cap_traffic "$CTR" "netns by name"
cap_no_leak_since "$n0" "netns by name"
grep -q "198.18.0.1" "$LOGDIR/danted.log" || fail "danted saw no connection from the caller's namespace"
[ "$(routing_snapshot "$CLI")" = "$cli_before" ] || fail "the caller's rules or routes changed"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
after=$(routing_snapshot "$CTR")
[ "$after" = "$ctr_before" ] || fail "container rules/routes differ after SIGTERM: $(diff <(echo "$ctr_before") <(echo "$after"))"
[ ! -e "$STATE" ] || fail "state record left after a clean exit"
info "netns by name: teardown restored the container's rules and routes exactly"

# 2. By /proc/PID/ns/net with the kill switch; kill -9; down.
cap_start "$CLI" --proxy "$PROXY" --netns "/proc/$CTR_PID/ns/net" --kill-switch
cap_traffic "$CTR" "netns by pid, kill switch"
cap_kill9
cap_blocked "$CTR" "netns kill switch after kill -9"
[ -s "$STATE" ] || fail "no state record after kill -9"
out=$("$T2S_BIN" down --netns "/proc/$CTR_PID/ns/net" 2>&1) || fail "down --netns failed: $out"
after=$(routing_snapshot "$CTR")
[ "$after" = "$ctr_before" ] || fail "container rules/routes differ after down: $(diff <(echo "$ctr_before") <(echo "$after"))"
[ ! -e "$STATE" ] || fail "state record left after down"
cap_no_leak_since "$n0" "netns"
peer=$(ip netns exec "$CTR" curl -sS --fail --max-time 5 "http://$TGT4:$HTTP_PORT/peer") || fail "direct request after down"
[ "$peer" = 198.18.1.1 ] || fail "direct request after down came from '$peer'"
[ "$(routing_snapshot "$CLI")" = "$cli_before" ] || fail "the caller's rules or routes changed"
info "netns kill switch: nothing leaked after kill -9; down restored everything"
