#!/bin/bash
# SPDX-License-Identifier: MIT
# --auto-route on a systemd-resolved host, with the real systemd-resolved (unpacked by
# scripts/setup-deps, never installed) in the client ns, in a mount namespace of its own
# (its /run, /etc/resolv.conf and a systemd-resolve user there; the host's files are
# never touched), on a private D-Bus system bus. The WAN link (veth-c) has a DNS
# server of its own, as NetworkManager gives it: dnsmasq in the server ns.
#  0. Without tun2socks, a lookup through 127.0.0.53 goes straight out on veth-c (the
#     leak path: the counter sees it).
#  1. veth-c's server becomes one the proxy cannot reach (a LAN router's, LAN_DNS).
#     --resolved off: resolved still asks it; the query is captured (through the
#     proxy, to LAN_DNS: no answer), so nothing leaks but nothing resolves either,
#     --dns-server notwithstanding (what the integration fixes).
#  2. --dns-server, --user nobody, a persistent TUN: the TUN's link gets the server,
#     ~. and the default route; the lookup is answered through the proxy (dnsmasq
#     saw danted, not the host; counter 0), curl by that answer fetches (SHA-256);
#     after resolvectl revert a reload sets them again; after SIGTERM (privileges
#     dropped) they are reverted; after kill -9 (--kill-switch) the persistent TUN
#     keeps them, nothing leaks, until `tun2socks down --tun` (or `down`) reverts them.
#  3. --dns fake-ip: the link's server is tun2socks' stub 192.0.2.53 with DNSSEC and
#     DNS-over-TLS off; names get fake addresses; after kill -9 the TUN goes and
#     resolved forgets the link by itself.
#  4. tun2socks in another network namespace leaves resolved alone.
#  5. resolved refuses a call (the bus denies SetLinkDomains): a warning, what was set
#     (SetLinkDNS) is reverted, tun2socks runs on.
. "$(dirname "$0")/lib.sh"

# The unpacked package (setup-deps), or an installed one.
RROOT=
for d in "${T2S_RESOLVED_ROOT:-}" "$REPO_ROOT/.deps/systemd-resolved" /; do
    [ -n "$d" ] && [ -x "$d/lib/systemd/systemd-resolved" ] && [ -x "$d/usr/bin/resolvectl" ] && { RROOT=$d; break; }
done
if [ -z "$RROOT" ]; then
    [ -n "${CI:-}" ] && fail "systemd-resolved is not unpacked: run scripts/setup-deps"
    info "SKIP: no systemd-resolved binary (scripts/setup-deps unpacks one into .deps/systemd-resolved)"
    exit 0
fi
command -v dbus-daemon >/dev/null || fail "dbus-daemon is needed (scripts/setup-deps installs dbus-daemon)"
command -v dig >/dev/null || fail "dig is needed (dnsutils)"
RESOLVECTL=$RROOT/usr/bin/resolvectl

NAME=www.e2e.test
# With fake-ip the proxy resolves names: danted (started by cap_setup) reads its
# namespace's hosts file.
mkdir -p "/etc/netns/$SRV" || fail "mkdir /etc/netns/$SRV"
CLEANUP_PATHS+=("/etc/netns/$SRV")
printf '%s %s\n' "$TGT4" "$NAME" >"/etc/netns/$SRV/hosts"
cap_setup
dnsmasq_start || fail "dnsmasq is needed for this scenario (dnsmasq-base)"
wan_default_routes "$CLI"
NAME=www.e2e.test
PROXY=socks5://$SRV_IP4:$DANTE_PORT
head -c 1M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
want=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

# A private system bus: everyone may talk, resolved may own its name.
# (in a directory resolved may enter once it runs as systemd-resolve: $WORK is 0700)
BUSDIR=$(mktemp -d /tmp/t2s-bus.XXXXXX) && chmod 755 "$BUSDIR" || fail "bus dir"
CLEANUP_PATHS+=("$BUSDIR")
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$BUSDIR/bus.sock
cat >"$WORK/bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>$DBUS_SYSTEM_BUS_ADDRESS</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
XML
# resolved's world: no cache (every lookup reaches a server), no LLMNR/mDNS, resolv.conf
# naming its own stub (no global servers), its user.
printf '[Resolve]\nCache=no\nLLMNR=no\nMulticastDNS=no\nDNSSEC=no\nDNSOverTLS=no\n' >"$WORK/resolved.conf"
printf 'nameserver 127.0.0.53\noptions edns0 trust-ad\n' >"$WORK/resolv.conf"
cp /etc/passwd "$WORK/passwd" && cp /etc/group "$WORK/group" || fail "copy passwd/group"
getent passwd systemd-resolve >/dev/null || echo "systemd-resolve:x:64953:64953::/:/usr/sbin/nologin" >>"$WORK/passwd"
getent group systemd-resolve >/dev/null || echo "systemd-resolve:x:64953:" >>"$WORK/group"
cat >"$WORK/resolved.sh" <<'SH'
set -e
w=$1
mount --bind "$w/passwd" /etc/passwd
mount --bind "$w/group" /etc/group
mount --bind "$w/resolv.conf" /etc/resolv.conf
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/resolve /run/systemd/resolved.conf.d
chown systemd-resolve:systemd-resolve /run/systemd/resolve
cp "$w/resolved.conf" /run/systemd/resolved.conf.d/e2e.conf
SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=debug exec "$2"
SH
# dbus-daemon looks its clients' users up: it sees the same passwd as resolved.
# shellcheck disable=SC2016 # $1 is the inner shell's
start_bg dbus "$CLI" unshare --mount --propagation private sh -c \
    'mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group && exec dbus-daemon --nofork --nopidfile --config-file="$1/bus.conf"' \
    sh "$WORK"
wait_until 5 test -S "$BUSDIR/bus.sock" || fail "dbus-daemon did not listen at $BUSDIR/bus.sock"
DBUS_PID=$BG_PID
start_bg resolved "$CLI" unshare --mount --propagation private sh "$WORK/resolved.sh" "$WORK" \
    "$RROOT/lib/systemd/systemd-resolved"
RESOLVED_LOG=$LOGDIR/resolved.log
wait_until 10 udp_bound "$CLI" 127.0.0.53 53 || fail "systemd-resolved did not listen on 127.0.0.53: $(tail -3 "$RESOLVED_LOG")"
LAN_DNS=198.19.0.54   # nothing answers there; the sniffer counts it on veth-s
rctl() { in_cli "$RESOLVECTL" "$@"; }
rctl dns veth-c "$DNS4" || fail "resolvectl dns veth-c"
rctl default-route veth-c yes || fail "resolvectl default-route veth-c"
info "systemd-resolved up ($RROOT), veth-c's DNS server $DNS4"

# lookup: dig through resolved's stub; prints the first A record (empty: none).
lookup() { in_cli dig @127.0.0.53 +time=6 +tries=1 +short "$1" A 2>/dev/null | grep -m1 -E '^[0-9.]+$'; }
# dnsmasq's queries for NAME from FROM so far.
queries_from() { grep -c "query\[A\] $NAME from $1\$" "$LOGDIR/dnsmasq.log"; }
queries_all() { grep -c "query\[A\] $NAME from " "$LOGDIR/dnsmasq.log"; }
link_status() { rctl status "$TUN" 2>&1; }
# link_has TEXT; "Current Scopes: DNS" before a lookup: resolved learns the TUN's carrier
# and addresses from netlink on its own time.
link_has() { [[ $(link_status) == *"$1"* ]]; }
# resolved no longer knows the link (it went away).
link_gone() { local s; s=$(rctl status 2>&1) && [[ $s != *"($TUN)"* && $s != *192.0.2.53* ]]; }

sniff_start
sniff_selftest "$CLI"

# 0. The leak path, without tun2socks.
n0=$(sniff_count)
a=$(lookup "$NAME") || fail "baseline: $NAME did not resolve through resolved"
[ "$a" = "$TGT4" ] || fail "baseline: $NAME resolved to '$a'"
[ "$(queries_from "$CLI_IP4")" -ge 1 ] || fail "baseline: dnsmasq saw no query from the host"
wait_until 5 num_cmp -gt "$n0" sniff_count || fail "baseline: the counter did not see resolved's query"
info "0. without tun2socks resolved asks $DNS4 straight over veth-c (the leak path, counted)"

# 1. --resolved off, with the WAN link's server one the proxy cannot reach.
rctl dns veth-c "$LAN_DNS" || fail "resolvectl dns veth-c $LAN_DNS"
cap_start "$CLI" --proxy "$PROXY" --auto-route --tun "$TUN" --dns-server "$DNS4" --resolved off
n0=$(sniff_count); q0=$(queries_from "$CLI_IP4")
a=$(lookup "$NAME") && fail "--resolved off: $NAME resolved to '$a' around the TUN"
link_has "$DNS4" && fail "--resolved off: resolved was told about $TUN: $(link_status)"
[ "$(sniff_count)" = "$n0" ] || fail "--resolved off: $(($(sniff_count) - n0)) packets leaked"
[ "$(queries_from "$CLI_IP4")" = "$q0" ] || fail "--resolved off: dnsmasq saw the host's query"
t2s_stop TERM
info "1. --resolved off: resolved asks veth-c's $LAN_DNS through the TUN and gets nothing; --dns-server unused; nothing leaks"

# 2. --dns-server, dropped privileges, a persistent TUN (RevertLink is seen on it), and
# a config file for a reload.
ip -n "$CLI" tuntap add mode tun name "$TUN" || fail "ip tuntap add"
printf 'proxy = %s\nauto-route\ndns-server = %s\n' "$PROXY" "$DNS4" >"$WORK/t2s.conf"
chmod 644 "$WORK/t2s.conf"
chmod 711 "$WORK"   # nobody reads the file again on SIGHUP
cap_start "$CLI" --config "$WORK/t2s.conf" --tun "$TUN" --user nobody
grep -q "systemd-resolved: link $TUN: dns $DNS4 domain ~. default-route yes" "$T2S_LOG" \
    || fail "no log line for resolved's link settings: $(grep resolved "$T2S_LOG" | tail -3)"
s=$(link_status)
[[ $s == *"DNS Servers: $DNS4"* && $s == *"DNS Domain: ~."* && $s == *"+DefaultRoute"* ]] \
    || fail "resolvectl status $TUN: $s"
n0=$(sniff_count); q0=$(queries_from "$CLI_IP4"); qa=$(queries_all)
wait_until 5 link_has "Current Scopes: DNS" || fail "resolved does not use $TUN: $(link_status)"
a=$(lookup "$NAME") || fail "--dns-server: $NAME did not resolve through the TUN"
[ "$a" = "$TGT4" ] || fail "--dns-server: $NAME resolved to '$a'"
[ "$(queries_from "$CLI_IP4")" = "$q0" ] || fail "--dns-server: dnsmasq saw the host's own query (not proxied)"
[ "$(queries_all)" -gt "$qa" ] || fail "--dns-server: dnsmasq saw no query for $NAME"
got=$(cli_curl --resolve "$NAME:$HTTP_PORT:$a" "http://$NAME:$HTTP_PORT/f.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "--dns-server: curl by name: SHA-256 $got"
[ "$(sniff_count)" = "$n0" ] || fail "--dns-server: $(($(sniff_count) - n0)) packets leaked"
info "2. the TUN's link has $DNS4, ~. and the default route; $NAME answered through the proxy; curl by it: SHA-256 ok; no leak"
# Someone reverts the link behind our back (resolved restarted without its state, an
# admin): a reload sets it again, as nobody, over the connection opened as root.
rctl revert "$TUN" || fail "resolvectl revert $TUN"
link_has "$DNS4" && fail "resolvectl revert did not revert"
kill -HUP "$T2S_PID" || fail "SIGHUP"
wait_until 10 grep -q "reload: done" "$T2S_LOG" || fail "no 'reload: done' in the log: $(grep reload "$T2S_LOG" | tail -3)"
wait_until 5 link_has "DNS Servers: $DNS4" || fail "the reload did not set the link again: $(link_status)"
wait_until 5 link_has "Current Scopes: DNS" || fail "resolved does not use $TUN: $(link_status)"
a=$(lookup "$NAME") && [ "$a" = "$TGT4" ] || fail "after the reload: $NAME resolved to '$a'"
info "2. after resolvectl revert, SIGHUP (running as nobody) set the link again"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
tun_exists || fail "the persistent $TUN is gone"
s=$(link_status)
[[ $s != *"$DNS4"* && $s != *"~."* ]] || fail "after SIGTERM (as nobody) the link keeps its settings: $s"
grep -q "systemd-resolved: the TUN's link settings reverted" "$T2S_LOG" || fail "no revert logged"
info "2. after SIGTERM, with privileges dropped, the link's settings are reverted"
# kill -9 with the persistent TUN: its link keeps the settings until `tun2socks down --tun`
# reverts them. resolved ignores the link without carrier and asks veth-c's server again:
# as all traffic after a crash, that would leave directly but for the kill switch.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" --dns-server "$DNS4"
cap_kill9
link_has "DNS Servers: $DNS4" || fail "kill -9, persistent TUN: the link lost its settings: $(link_status)"
n0=$(sniff_count)
a=$(lookup "$NAME") && fail "kill -9, persistent TUN: $NAME resolved to '$a'"
[ "$(sniff_count)" = "$n0" ] || fail "kill -9, persistent TUN: $(($(sniff_count) - n0)) packets leaked"
out=$(in_cli "$T2S_BIN" down --tun "$TUN" 2>&1) || fail "tun2socks down --tun $TUN: $out"
[[ $out == *"systemd-resolved: $TUN's link settings reverted"* ]] || fail "down did not revert the link: $out"
s=$(link_status)
[[ $s != *"$DNS4"* && $s != *"~."* ]] || fail "after down the link keeps its settings: $s"
info "2. kill -9 with a persistent TUN: the link kept ~. (lookups failed, the kill switch held) until tun2socks down --tun reverted it"
# The same with `tun2socks down` naming no TUN: each lifted record's TUN is reverted.
cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" --dns-server "$DNS4"
cap_kill9
link_has "DNS Servers: $DNS4" || fail "kill -9 (2), persistent TUN: the link lost its settings: $(link_status)"
out=$(in_cli "$T2S_BIN" down 2>&1) || fail "tun2socks down: $out"
[[ $out == *"systemd-resolved: $TUN's link settings reverted"* ]] || fail "down (no --tun) did not revert the link: $out"
s=$(link_status)
[[ $s != *"$DNS4"* && $s != *"~."* ]] || fail "after down (no --tun) the link keeps its settings: $s"
info "2. the same with tun2socks down naming no TUN: the lifted record's link reverted"
ip -n "$CLI" link del "$TUN" || fail "delete the persistent $TUN"

# 3. fake-ip: tun2socks' stub as the link's server; kill -9 and resolved forgets the link.
cap_start "$CLI" --proxy "$PROXY" --auto-route --tun "$TUN" --dns fake-ip --fake-ip-range 198.19.128.0/17
s=$(link_status)
[[ $s == *"DNS Servers: 192.0.2.53"* && $s == *"DNS Domain: ~."* && $s == *"-DNSOverTLS"* && $s == *"DNSSEC=no"* ]] \
    || fail "fake-ip: resolvectl status $TUN: $s"
n0=$(sniff_count); q0=$(grep -c "query\[" "$LOGDIR/dnsmasq.log")
wait_until 5 link_has "Current Scopes: DNS" || fail "resolved does not use $TUN: $(link_status)"
a=$(lookup "$NAME") || fail "fake-ip: $NAME did not resolve"
[[ $a == 198.19.1[2-9][0-9].* || $a == 198.19.2[0-9][0-9].* ]] || fail "fake-ip: $NAME got '$a', not a fake address"
got=$(cli_curl --resolve "$NAME:$HTTP_PORT:$a" "http://$NAME:$HTTP_PORT/f.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "fake-ip: curl by name: SHA-256 $got"
[ "$(grep -c "query\[" "$LOGDIR/dnsmasq.log")" = "$q0" ] || fail "fake-ip: a query reached dnsmasq"
[ "$(sniff_count)" = "$n0" ] || fail "fake-ip: $(($(sniff_count) - n0)) packets leaked"
info "3. fake-ip: the link's server is 192.0.2.53 (DNSSEC, DoT off); $NAME -> $a; curl by it: SHA-256 ok; no leak"
cap_kill9
wait_until 5 not tun_exists || fail "$TUN still there after kill -9"
wait_until 5 link_gone || fail "resolved still knows $TUN after kill -9: $(link_status)"
info "3. after kill -9 the TUN is gone and resolved forgot its link by itself"

# 4. A TUN in another network namespace (a test's, a container's) never changes resolved's
# links, although its ifindex may name one of them.
OTHER=t2s$$x
ip netns add "$OTHER" || fail "ip netns add $OTHER"
NS_CREATED+=("$OTHER")
ip -n "$OTHER" link set lo up || fail "lo up in $OTHER"
before=$(rctl status 2>&1)
echo "=== $(date +%T.%3N) start in $OTHER" >>"$T2S_LOG"
start_bg t2s-other "$OTHER" "$T2S_BIN" --proxy socks5://192.0.2.9:1080 --auto-route --tun "$TUN" -l debug
other=$BG_PID
wait_until 10 grep -q "serves another network namespace: left alone" "$LOGDIR/t2s-other.log" \
    || fail "another namespace: $(grep -i resolved "$LOGDIR/t2s-other.log")"
after=$(rctl status 2>&1)
[ "$before" = "$after" ] || fail "another namespace changed resolved: $(diff <(echo "$before") <(echo "$after"))"
stop_pid "$other" TERM
info "4. tun2socks in another namespace left resolved alone (its pid's netns differs)"

# 5. A refusal half-way: SetLinkDNS passes, SetLinkDomains is denied by the bus.
sed -i 's|</policy>|  <deny send_destination="org.freedesktop.resolve1" send_interface="org.freedesktop.resolve1.Manager" send_member="SetLinkDomains"/>\n  </policy>|' "$WORK/bus.conf"
kill -HUP "$DBUS_PID" || fail "SIGHUP to dbus-daemon"
# (veth-c has no domains: setting none is harmless, and is refused once the bus reloaded)
domains_denied() { [[ $(rctl domain veth-c "" 2>&1) == *"Access denied"* ]]; }
wait_until 5 domains_denied || fail "dbus-daemon did not reload its policy"
set_dns() { grep -c "$TUN: Bus client set DNS server list to: $DNS4" "$RESOLVED_LOG"; }
d0=$(set_dns)
cap_start "$CLI" --proxy "$PROXY" --auto-route --tun "$TUN" --dns-server "$DNS4"
[ "$(set_dns)" -gt "$d0" ] || fail "refusal: SetLinkDNS did not reach resolved first"
grep -q "warn  systemd-resolved: SetLinkDomains: org.freedesktop.DBus.Error.AccessDenied" "$T2S_LOG" \
    || fail "refusal: no warning: $(grep resolved "$T2S_LOG" | tail -2)"
s=$(link_status)
[[ $s != *"$DNS4"* ]] || fail "refusal: SetLinkDNS was not reverted: $s"
t2s_alive || fail "refusal: tun2socks exited"
got=$(cli_curl "http://$TGT4:$HTTP_PORT/f.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "refusal: GET f.bin: SHA-256 $got"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "refusal: exit status $T2S_STATUS"
info "5. resolved refused SetLinkDomains: one warning, SetLinkDNS reverted, traffic flows, clean exit"
