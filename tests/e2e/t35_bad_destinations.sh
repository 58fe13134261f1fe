#!/bin/bash
# SPDX-License-Identifier: MIT
# Destinations that can never be a remote host never reach the proxy (issue 9, item 7).
# From the client namespace: raw TCP SYNs and UDP datagrams into the TUN (martians.py
# inject) to 0.0.0.0/8, 127/8, ::, ::1, IPv4-mapped/-compatible IPv6, link-local,
# multicast, 255.255.255.255 and the TUN subnet's broadcast and network addresses, and
# from sources that cannot be a host; then ordinary sockets (martians.py apps): TCP and
# UDP to 169.254.169.254 and fe80::1 fail at once, broadcast and multicast datagrams
# go into the TUN. Checked: a TCP/UDP listener on the proxy host's loopback sees
# nothing (the premise is checked first: UDP to 0.0.0.0 does reach it there), danted
# logs none of these destinations, tun2socks opened no flow and sent no datagram for
# them, the unicast ones were answered with ICMP administratively prohibited and the
# multicast/broadcast ones and the bad sources not at all, and the counters
# (martian_dropped, martian_answered on the SIGUSR1 line) show it; ordinary traffic
# still works (SHA-256).
. "$(dirname "$0")/lib.sh"

LO_PORT=7300
TUN_ADDR4=198.18.128.1/24   # a subnet with a broadcast address: 198.18.128.255
TUN_BCAST=198.18.128.255
TUN_NET=198.18.128.0

need_root
need_bin
topo_up
danted_conf_udp
danted_start
httpd_start
head -c 1048576 /dev/urandom >"$WORK/www/f.bin"
want=$(sha256sum "$WORK/www/f.bin" | cut -d' ' -f1)

start_bg lo_listen "$SRV" "$PY" -u "$E2E_DIR/martians.py" listen --port "$LO_PORT"
wait_until 10 grep -q READY "$LOGDIR/lo_listen.log" || fail "loopback listener did not start"
got_lines() { local n; n=$(grep -c '^GOT ' "$LOGDIR/lo_listen.log" 2>/dev/null) || n=0; echo "${n:-0}"; }
# The premise: on the proxy's host, UDP to 0.0.0.0 and TCP to 127.0.0.1 reach its own
# loopback services (and the listener logs them).
in_srv "$PY" -c "
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('0.0.0.0', $LO_PORT))
socket.create_connection(('127.0.0.1', $LO_PORT), 5).close()
" || fail "cannot reach the loopback listener inside the server namespace"
wait_until 5 num_cmp -ge 2 got_lines || fail "the loopback listener logged nothing for 2 local probes"
lo0=$(got_lines)
info "premise: UDP to 0.0.0.0 and TCP to 127.0.0.1 reach the proxy host's loopback ($lo0 events logged)"

t2s_start
dl0=$(wc -l <"$LOGDIR/danted.log")
tcp0=$(t2s_stat tcp_opened)
udp0=$(t2s_stat udp_opened)
out0=$(t2s_stat udp_out)
md0=$(t2s_stat martian_dropped)
ma0=$(t2s_stat martian_answered)

in_cli "$PY" "$E2E_DIR/martians.py" inject --dev "$TUN" --port "$LO_PORT" --src4 "${TUN_ADDR4%/*}" \
    --src6 "${TUN_ADDR6%/*}" --tun-bcast "$TUN_BCAST" --tun-net "$TUN_NET" >"$LOGDIR/inject.log" 2>&1
inject_rc=$?
in_cli "$PY" "$E2E_DIR/martians.py" apps --dev "$TUN" --port "$LO_PORT" --tun-bcast "$TUN_BCAST" \
    --tun-net "$TUN_NET" >"$LOGDIR/apps.log" 2>&1
apps_rc=$?
cat "$LOGDIR/inject.log" "$LOGDIR/apps.log" >&2

# Ordinary traffic still goes through (and gives anything the proxy was asked to do
# meanwhile time to show in the checks below).
for u in "http://$TGT4:$HTTP_PORT/f.bin" "http://[$TGT6]:$HTTP_PORT/f.bin"; do
    got=$(cli_curl -g "$u" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || fail "GET $u: sha256 mismatch"
done
info "ordinary HTTP v4/v6 through the proxy: sha256 ok"

t2s_alive || fail "tun2socks died"
lo1=$(got_lines)
[ "$lo1" = "$lo0" ] || fail "the proxy reached its own host's loopback $((lo1 - lo0)) times: $(tail -n +$((lo0 + 2)) "$LOGDIR/lo_listen.log" | head -5 | tr '\n' ';')"
# (danted logs a request's target last, after "->": ADDR.PORT. Every raw packet is to
# $LO_PORT, which nothing legitimate uses; the applications' datagrams are recognised by
# their addresses.)
bad=$(tail -n +$((dl0 + 1)) "$LOGDIR/danted.log" | grep -E -- "-> [^ ]+ ([0-9a-f:.]+\.$LO_PORT|(169\.254\.[0-9.]+|2(2[4-9]|3[0-9]|55)\.[0-9.]+|198\.18\.128\.(0|255)|fe80:[0-9a-f:]*|ff0[25]:[0-9a-f:]*)\.[0-9]+)( |:|$)" | head -3)
[ -z "$bad" ] || fail "danted was asked for never-a-host destinations: $bad"
tcp1=$(t2s_stat tcp_opened)
[ "$tcp1" = "$((tcp0 + 2))" ] || fail "tun2socks opened $((tcp1 - tcp0 - 2)) TCP flows for never-a-host destinations"
udp1=$(t2s_stat udp_opened)
out1=$(t2s_stat udp_out)
[ "$udp1" = "$udp0" ] && [ "$out1" = "$out0" ] \
    || fail "tun2socks sent UDP toward never-a-host destinations: mappings $udp0 -> $udp1, datagrams $out0 -> $out1"
info "nothing reached the proxy: loopback listener silent, danted not asked, no flow, no datagram"

md1=$(t2s_stat martian_dropped)
ma1=$(t2s_stat martian_answered)
[ -n "$md1" ] && [ -n "$ma1" ] || fail "no martian_dropped / martian_answered counters on the stats line"
injected=$(sed -n 's/^INJECTED \([0-9]*\) .*/\1/p' "$LOGDIR/inject.log")
answered=$(sed -n 's/^INJECTED [0-9]* ANSWERED \([0-9]*\)$/\1/p' "$LOGDIR/inject.log")
sent=$(sed -n 's/^SENT \([0-9]*\)$/\1/p' "$LOGDIR/apps.log")
[ -n "$injected" ] && [ -n "$answered" ] && [ -n "$sent" ] || fail "martians.py printed no summary"
# apps: 4 of its packets are answered (TCP and UDP to 169.254.169.254 and fe80::1). (The
# kernel's own multicast, MLD reports, is ICMPv6: "ignored", not counted here.)
[ "$((ma1 - ma0))" = "$((answered + 4))" ] || fail "martian_answered rose by $((ma1 - ma0)), expected $((answered + 4))"
[ "$((md1 - md0))" = "$((injected + sent))" ] \
    || fail "martian_dropped rose by $((md1 - md0)), expected $((injected + sent))"
info "counters: martian_dropped +$((md1 - md0)), martian_answered +$((ma1 - ma0))"
[ "$inject_rc" = 0 ] || fail "raw packets: answers not as expected (see above)"
[ "$apps_rc" = 0 ] || fail "applications: did not fail fast as expected (see above)"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
