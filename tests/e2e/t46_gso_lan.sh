#!/bin/bash
# SPDX-License-Identifier: MIT
# Segmentation offload for a LAN client behind --share-from (--mtu 1500): the GSO
# packets tun2socks writes are forwarded by the host's kernel, which cuts them at the
# gso_size we chose, so that must be the client's real MSS. The LAN link first has
# MTU 1500 (client MSS 1460 / 1440), then 1280 (1240 / 1220): 8 MiB downloads over
# IPv4 and IPv6 checked by SHA-256, GSO in use (tun_gso_out), and the host never
# fragments an IPv4 packet for the LAN (IpFragCreates unchanged; a segment cut for the
# TUN's MTU would not fit the 1280 link: fragmented in IPv4, dropped with an ICMPv6
# "packet too big" in IPv6, which lwIP does not act on).
. "$(dirname "$0")/lib.sh"

cap_setup
wan_default_routes "$CLI"
[ -e /proc/sys/net/ipv6/conf/all/force_forwarding ] || { CAP_V6=0; info "no per-interface IPv6 forwarding in this kernel: IPv4 only"; }

LAN=t2s$$l
stub_ns_add "$LAN" lan-c 198.18.2.2/24 2001:2:0:4::2/64 "$CLI" lan-h 198.18.2.1/24 2001:2:0:4::1/64
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
CLEANUP_PATHS+=("/run/tun2socks/net$ino-tun2socks0")
head -c 8M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)
hosts=("$TGT4")
[ "$CAP_V6" = 1 ] && hosts+=("[$TGT6]")

# IpFragCreates of the host: found by name in the "Ip:" header line.
# shellcheck disable=SC2016  # awk code, not shell
frag_creates() {
    ip netns exec "$CLI" awk '/^Ip:/ { if (!n++) { for (i = 2; i <= NF; i++) if ($i == "FragCreates") f = i } else print $f }' \
        /proc/net/snmp
}

cap_start "$CLI" --proxy "socks5://$SRV_IP4:$DANTE_PORT" --share-from lan-h --mtu 1500
for mtu in 1500 1280; do
    ip -n "$LAN" link set lan-c mtu "$mtu" && ip -n "$CLI" link set lan-h mtu "$mtu" || fail "LAN MTU $mtu"
    t2s_stats_now
    gso0=$(t2s_statv tun_gso_out) frag0=$(frag_creates)
    for h in "${hosts[@]}"; do
        got=$(ip netns exec "$LAN" curl -q --noproxy '*' -sS --fail --max-time 30 -g "http://$h:$HTTP_PORT/f.bin" \
              | sha256sum | cut -d' ' -f1)
        [ "$got" = "$WANT" ] || fail "LAN MTU $mtu: GET from $h: sha256 mismatch (or stalled)"
    done
    t2s_stats_now
    gso=$(($(t2s_statv tun_gso_out) - gso0)) frag=$(($(frag_creates) - frag0))
    [ "$gso" -ge 50 ] || fail "LAN MTU $mtu: only $gso GSO packets written for ${#hosts[@]} x 8 MiB"
    [ "$frag" = 0 ] || fail "LAN MTU $mtu: the host made $frag IPv4 fragments for the LAN: GSO cut above the client's MSS"
    info "LAN MTU $mtu: 8 MiB to the LAN client over ${hosts[*]} (SHA-256), $gso GSO packets, no fragment"
done
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
