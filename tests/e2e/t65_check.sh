#!/bin/bash
# SPDX-License-Identifier: MIT
# `tun2socks check` (issue 11) from the client ns, without a TUN, against real proxies;
# each report must say the right thing on the right line, and the exit status follow:
#  1. danted (UDP too) with --check-target and --dns-server (a dnsmasq): every check
#     ok, exit 0; --json: one object per line, parsed by python.
#  2. microsocks with a wrong password: "auth" fails, exit 1; the right one: ok, and
#     UDP ASSOCIATE (which microsocks lacks) a warning only, exit 0.
#  3. nothing listening: "reach" fails (connection refused), exit 1.
#  4. danted allowing CONNECT only: connect ok, udp-associate a warning, exit 0.
#  5. --fwmark whose rule routes into a TUN: "route" fails (a loop) before any
#     connection is tried, exit 1.
#  6. usage: check without --proxy, a bad --check-target: exit 2.
#  Every run also reports the TUN driver and capability, and the kernel's features.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
danted_conf_udp
danted_start
microsocks_start
dnsmasq_start || fail "dnsmasq is missing (scripts/setup-deps)"
echo_start

run_check() { # run_check OUT ARGS...: CHECK_RC
    local out=$1; shift
    in_cli timeout 30 "$T2S_BIN" check "$@" >"$out" 2>&1
    CHECK_RC=$?
    sed 's/^/    | /' "$out" >&2
}
line() { grep -E "^$2 +$3: " "$1" >/dev/null || fail "no '$2 $3:' line in: $(cat "$1")"; }

# 1. All good.
run_check "$WORK/good.txt" --proxy "socks5://$SRV_IP4:$DANTE_PORT" --check-target "$TGT4:$ECHO_PORT" --dns-server "$DNS4"
[ "$CHECK_RC" = 0 ] || fail "check against a working danted: exit $CHECK_RC"
for c in proxy route reach greeting auth connect udp-associate dns-udp dns-tcp tun; do line "$WORK/good.txt" ok "$c"; done
# (the kernel's lines may warn on an older kernel: not the proxy's business)
grep -E '^(FAIL|warn) +(proxy|route|reach|greeting|auth|connect|udp-associate|dns-udp|dns-tcp|tun):' "$WORK/good.txt" \
    && fail "a failure or warning against a working proxy"
grep -q '^FAIL' "$WORK/good.txt" && fail "a failure against a working proxy"
run_check "$WORK/good.json" --json --proxy "socks5://$SRV_IP4:$DANTE_PORT" --check-target "$TGT4:$ECHO_PORT" --dns-server "$DNS4"
[ "$CHECK_RC" = 0 ] || fail "check --json: exit $CHECK_RC"
"$PY" - "$WORK/good.json" <<'PYEOF' || fail "check --json is not one JSON object per line with ok results"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) >= 12, rows
assert all(set(r) == {"check", "result", "detail", "hint"} for r in rows), rows
proxy = [r for r in rows if r["check"] not in ("kernel", "userns", "forwarding")]
assert all(r["result"] == "ok" for r in proxy), proxy
assert [r["check"] for r in rows][:3] == ["proxy", "route", "reach"], rows
PYEOF
info "working danted: every check ok, exit 0 (text and --json)"

# 2. Credentials.
run_check "$WORK/badpw.txt" --proxy "socks5://$MS_USER:wrong@$SRV_IP4:$MS_PORT" --check-target "$TGT4:$ECHO_PORT"
[ "$CHECK_RC" = 1 ] || fail "a wrong password: exit $CHECK_RC, want 1"
line "$WORK/badpw.txt" FAIL auth
grep -q 'rejected' "$WORK/badpw.txt" || fail "the auth line does not say rejected"
run_check "$WORK/nopw.txt" --proxy "socks5://$SRV_IP4:$MS_PORT"
[ "$CHECK_RC" = 1 ] || fail "no credentials for microsocks: exit $CHECK_RC, want 1"
grep -q 'wants credentials' "$WORK/nopw.txt" || fail "no hint about credentials"
TUN2SOCKS_PROXY_AUTH="$MS_USER:$MS_PASS" run_check "$WORK/pw.txt" --proxy "socks5://$SRV_IP4:$MS_PORT" --check-target "$TGT4:$ECHO_PORT"
[ "$CHECK_RC" = 0 ] || fail "the right password: exit $CHECK_RC"
line "$WORK/pw.txt" ok auth
line "$WORK/pw.txt" ok connect
line "$WORK/pw.txt" warn udp-associate
grep -q "$MS_PASS" "$WORK/pw.txt" && fail "the password shows in the report"
info "microsocks: wrong password FAIL auth (exit 1), right one ok, no UDP a warning (exit 0)"

# 3. Down.
run_check "$WORK/down.txt" --proxy "socks5://$SRV_IP4:$CLOSED_PORT"
[ "$CHECK_RC" = 1 ] || fail "a proxy that is down: exit $CHECK_RC, want 1"
line "$WORK/down.txt" FAIL reach
grep -q 'refused' "$WORK/down.txt" || fail "the reach line does not say refused"

# 4. CONNECT only.
danted_stop
sed -i 's/command: connect udpassociate udpreply/command: connect/' "$WORK/danted.conf"
danted_start
run_check "$WORK/tcponly.txt" --proxy "socks5://$SRV_IP4:$DANTE_PORT" --check-target "$TGT4:$ECHO_PORT" --dns-server "$DNS4"
line "$WORK/tcponly.txt" ok connect
line "$WORK/tcponly.txt" warn udp-associate
line "$WORK/tcponly.txt" ok dns-tcp
[ "$CHECK_RC" = 0 ] || fail "CONNECT-only danted: exit $CHECK_RC, want 0 (warnings only)"
info "CONNECT-only danted: udp-associate a warning, DNS over TCP ok, exit 0"

# 5. A mark whose rule sends the proxy's connections into a TUN: a loop, said before
#    any connection is tried.
in_cli ip tuntap add dev t2sloop mode tun || fail "ip tuntap add"
in_cli ip link set t2sloop up
in_cli ip route add default dev t2sloop table 7465 || fail "route into the TUN"
in_cli ip rule add fwmark 0x7465 lookup 7465 || fail "ip rule"
t0=$(now)
run_check "$WORK/loop.txt" --proxy "socks5://$SRV_IP4:$DANTE_PORT" --fwmark 0x7465
[ "$CHECK_RC" = 1 ] || fail "a proxy route into a TUN: exit $CHECK_RC, want 1"
line "$WORK/loop.txt" FAIL route
grep -q 't2sloop.*loop' "$WORK/loop.txt" || fail "the route line does not name the TUN and the loop"
grep -q ' reach: ' "$WORK/loop.txt" && fail "a connection was tried through the loop"
d=$(elapsed "$t0")
awk -v d="$d" 'BEGIN { exit !(d < 3) }' || fail "the loop took $d s to report"
in_cli ip tuntap del dev t2sloop mode tun
info "a mark routed into a TUN: FAIL route (loop), no connection tried, ${d} s"

# 6. Usage.
in_cli "$T2S_BIN" check >"$WORK/usage.txt" 2>&1; rc=$?
[ "$rc" = 2 ] || fail "check without --proxy: exit $rc, want 2"
grep -q 'check needs --proxy' "$WORK/usage.txt" || fail "usage message: $(cat "$WORK/usage.txt")"
in_cli "$T2S_BIN" check --proxy "socks5://$SRV_IP4" --check-target nope >"$WORK/usage.txt" 2>&1; rc=$?
[ "$rc" = 2 ] || fail "a bad --check-target: exit $rc, want 2"
info "usage errors: exit 2"
