#!/bin/bash
# SPDX-License-Identifier: MIT
# LAN sharing (--share-from IFACE): a "LAN client" namespace behind the client
# ns (the "host", which has default routes over its WAN veth to the server ns;
# the leak counter watches that veth). The LAN client's traffic, forwarded by
# the host, goes through the TUN and danted (HTTP sha256, UDP echo, dig; IPv6
# too where the kernel forwards per interface, net.ipv6.conf.*.force_forwarding),
# nothing leaks, the host's own traffic is left alone, forwarding is enabled on
# the LAN interface only; after kill -9 the LAN client is blocked, kill switch or
# not (with --auto-route and no kill switch the host itself goes direct again);
# with --kill-switch, after kill -9 the LAN client is
# blocked until `tun2socks down`, which restores rules, routes and sysctls; with
# --auto-route --uid the LAN stays captured while the host's root goes direct.
. "$(dirname "$0")/lib.sh"

cap_setup
command -v dig >/dev/null && dnsmasq_start && CAP_DNS=1
wan_default_routes "$CLI"
[ -e /proc/sys/net/ipv6/conf/all/force_forwarding ] || { CAP_V6=0; info "no per-interface IPv6 forwarding in this kernel: IPv4 only"; }

LAN=t2s$$l
stub_ns_add "$LAN" lan-c 198.18.2.2/24 2001:2:0:4::2/64 "$CLI" lan-h 198.18.2.1/24 2001:2:0:4::1/64
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
STATE=/run/tun2socks/net$ino-tun2socks0/state
CLEANUP_PATHS+=("${STATE%/state}")
PROXY=socks5://$SRV_IP4:$DANTE_PORT

sysctls() {
    ip netns exec "$CLI" sysctl net.ipv4.conf.all.forwarding net.ipv4.conf.lan-h.forwarding \
        net.ipv4.conf.veth-c.forwarding net.ipv4.conf.lan-h.rp_filter net.ipv6.conf.all.forwarding \
        net.ipv6.conf.lan-h.forwarding 2>&1
    [ "$CAP_V6" = 1 ] && ip netns exec "$CLI" sysctl net.ipv6.conf.lan-h.force_forwarding
}
before=$(routing_snapshot "$CLI")
sys_before=$(sysctls)
sniff_start
sniff_selftest "$CLI"
head -c 4M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
CAP_WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

# 1. Sharing, clean exit.
cap_start "$CLI" --proxy "$PROXY" --share-from lan-h
n0=$(sniff_count)
cap_traffic "$LAN" "LAN client"
cap_no_leak_since "$n0" "LAN client"
v=$(ip netns exec "$CLI" sysctl -n net.ipv4.conf.lan-h.forwarding net.ipv4.conf.all.forwarding net.ipv4.conf.veth-c.forwarding | tr '\n' ' ')
[ "$v" = "1 0 0 " ] || fail "forwarding should be on for lan-h only (lan-h, all, veth-c): $v"
# The host's own traffic is not captured in this mode (it goes straight out: counted).
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "host's own request"
[ "$peer" = "$CLI_IP4" ] || fail "the host's own request was captured: target saw '$peer'"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
after=$(routing_snapshot "$CLI")
[ "$after" = "$before" ] || fail "rules/routes differ after SIGTERM: $(diff <(echo "$before") <(echo "$after"))"
sys_after=$(sysctls)
[ "$sys_after" = "$sys_before" ] || fail "sysctls differ after SIGTERM: $(diff <(echo "$sys_before") <(echo "$sys_after"))"
info "LAN sharing: teardown restored rules, routes and sysctls exactly"

# 2. Kill switch: kill -9, the LAN stays blocked until down.
cap_start "$CLI" --proxy "$PROXY" --share-from lan-h --kill-switch
n0=$(sniff_count)
cap_traffic "$LAN" "LAN client, kill switch"
cap_kill9
cap_blocked "$LAN" "LAN kill switch after kill -9"
cap_no_leak_since "$n0" "LAN kill switch"
out=$(ip netns exec "$CLI" "$T2S_BIN" down --tun tun2socks0 2>&1) || fail "down failed: $out"
after=$(routing_snapshot "$CLI")
[ "$after" = "$before" ] || fail "rules/routes differ after down: $(diff <(echo "$before") <(echo "$after"))"
sys_after=$(sysctls)
[ "$sys_after" = "$sys_before" ] || fail "sysctls differ after down: $(diff <(echo "$sys_before") <(echo "$sys_after"))"
[ ! -e "$STATE" ] || fail "state record left after down"
info "LAN kill switch: nothing leaked after kill -9; down restored everything"

# 3. No kill switch: after kill -9 the LAN is blocked all the same (sharing fails
#    closed: forwarding stays on, but the rules refuse what the TUN no longer takes),
#    while the host's own traffic, not captured, goes on; down restores everything.
cap_start "$CLI" --proxy "$PROXY" --share-from lan-h
cap_traffic "$LAN" "LAN client, no kill switch"
n0=$(sniff_count)
cap_kill9
cap_blocked "$LAN" "LAN sharing after kill -9"
out=$(ip netns exec "$LAN" timeout 10 dig +short +time=2 +tries=1 @"$DNS4" www.e2e.test A 2>&1) && fail "LAN DNS after kill -9 answered: $out"
cap_no_leak_since "$n0" "LAN sharing after kill -9"
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "host's own request after kill -9"
[ "$peer" = "$CLI_IP4" ] || fail "host's own request after kill -9 came from '$peer'"
out=$(ip netns exec "$CLI" "$T2S_BIN" down --tun tun2socks0 2>&1) || fail "down failed: $out"
[ "$(routing_snapshot "$CLI")" = "$before" ] || fail "rules/routes differ after down (no kill switch)"
[ "$(sysctls)" = "$sys_before" ] || fail "sysctls differ after down (no kill switch)"
info "LAN sharing without kill switch: blocked after kill -9 (0 packets), the host's own traffic unaffected; down restored everything"

# 4. With --auto-route too and no kill switch: after kill -9 the host's own traffic
#    goes direct again (no kill switch asked for), the LAN's stays blocked.
cap_start "$CLI" --proxy "$PROXY" --auto-route --share-from lan-h
cap_kill9
n0=$(sniff_count)
cap_blocked "$LAN" "LAN sharing with --auto-route after kill -9"
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "host's own request after kill -9 (auto-route)"
[ "$peer" = "$CLI_IP4" ] || fail "host's own request after kill -9 (auto-route) came from '$peer'"
out=$(ip netns exec "$CLI" "$T2S_BIN" down --tun tun2socks0 2>&1) || fail "down failed: $out"
[ "$(routing_snapshot "$CLI")" = "$before" ] || fail "rules/routes differ after down (auto-route)"
[ "$(sysctls)" = "$sys_before" ] || fail "sysctls differ after down (auto-route)"
info "LAN sharing with --auto-route: the LAN blocked after kill -9, the host direct; down restored everything"

# 5. --auto-route --uid with the LAN: the uid rules concern what the host sends
#    (iif lo), so the LAN's forwarded packets, routed as uid 0, are still routed into
#    the TUN while root, not selected, goes direct. The LAN's traffic gets through: the
#    replies lwIP sends the LAN from the TUN go out by the main table, not back into the
#    TUN by the whole-host rule (before the fix, every LAN connection timed out with
#    --auto-route and --share-from together).
cap_start "$CLI" --proxy "$PROXY" --auto-route --share-from lan-h --uid 64101
n0=$(sniff_count)
cap_traffic "$LAN" "LAN client, --auto-route --uid"
cap_no_leak_since "$n0" "LAN client, --auto-route --uid"
r=$(ip -n "$CLI" route get "$TGT4" from 198.18.2.2 iif lan-h 2>&1)
[[ $r == *"dev tun2socks0"* ]] || fail "--uid: the LAN's forwarded traffic is not routed into the TUN: $r"
r=$(ip -n "$CLI" -6 route get "$TGT6" from 2001:2:0:4::2 iif lan-h 2>&1)
[ "$CAP_V6" = 0 ] || [[ $r == *"dev tun2socks0"* ]] || fail "--uid: the LAN's IPv6 is not routed into the TUN: $r"
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "host's own request (--uid)"
[ "$peer" = "$CLI_IP4" ] || fail "root's request with --uid 64101 came from '$peer', not direct"
t2s_stop TERM
[ "$(routing_snapshot "$CLI")" = "$before" ] || fail "rules/routes differ after SIGTERM (--uid)"
[ "$(sysctls)" = "$sys_before" ] || fail "sysctls differ after SIGTERM (--uid)"
info "LAN sharing with --auto-route --uid: the LAN routed into the TUN, root direct; SIGTERM restored everything"
