#!/bin/bash
# SPDX-License-Identifier: MIT
# -- COMMAND on a systemd-resolved host: the host's resolv.conf names only
# 127.0.0.53 (bound over /etc/resolv.conf in this test's own mount namespace; the
# real file is never touched), which the command's namespace cannot reach. dig and
# curl look names up through the command's resolv.conf:
#  1. --dns-server (dnsmasq in the server ns): names resolve through the proxy,
#     curl by name fetches (SHA-256).
#  2. --dns fake-ip: the command's nameserver is tun2socks' own (192.0.2.53); curl
#     by name works (the proxy resolves the name); other query types get REFUSED.
#  3. neither: every query gets REFUSED at once (no timeout: measured, bounded by
#     dig's and glibc's own timeouts), TCP to it is refused, nothing reaches the
#     proxy or dnsmasq, and the log has exactly one line saying what to set.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
NAME=www.e2e.test
STUB=192.0.2.53
FAKE4=198.19.128.0/17
FAKE6=2001:2:0:f00::/64
# With fake-ip the proxy resolves names: danted reads its namespace's hosts file.
mkdir -p "/etc/netns/$SRV" || fail "mkdir /etc/netns/$SRV"
CLEANUP_PATHS+=("/etc/netns/$SRV")
printf '%s %s\n%s %s\n' "$TGT4" "$NAME" "$TGT6" "$NAME" >"/etc/netns/$SRV/hosts"
danted_conf_udp
danted_start
httpd_start
dnsmasq_start || fail "dnsmasq is needed for this scenario (scripts/setup-deps installs dnsmasq-base)"
command -v dig >/dev/null || fail "dig is needed (dnsutils)"
wan_default_routes "$CLI"
PROXY=socks5://$SRV_IP4:$DANTE_PORT
resolv_before=$(cat /etc/resolv.conf)
sniff_start
sniff_selftest "$CLI"
head -c 1M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
want=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

# resolved's stub-resolv.conf, as Ubuntu and Fedora have it.
cat >"$WORK/resolv.conf" <<'EOF'
# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).
nameserver 127.0.0.53
options edns0 trust-ad
search .
EOF

# A stand-in for resolved's varlink socket, which glibc's nss-resolve (Fedora) asks
# before resolv.conf: the command must not reach it (its names would resolve on the
# host, around the proxy). "listen PATH" serves it; "connect PATH" prints the outcome.
VARLINK=/run/systemd/resolve/io.systemd.Resolve
cat >"$WORK/unixsock.py" <<'EOF'
import errno, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if sys.argv[1] == "listen":
    s.bind(sys.argv[2])
    s.listen(8)
    time.sleep(300)
else:
    try:
        s.connect(sys.argv[2])
        print("connected")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
EOF

# run_resolved ARGS...: tun2socks ARGS in the client ns, in a mount namespace of its
# own whose /etc/resolv.conf is the file above and which has that socket (on a tmpfs
# there); foreground, bounded.
run_resolved() {
    echo "=== $(date +%T.%3N) run: $*" >>"$T2S_LOG"
    # shellcheck disable=SC2016 # expanded by the inner sh
    timeout -k 5 90 ip netns exec "$CLI" unshare --mount --propagation private sh -c '
        mount --bind "$1" /etc/resolv.conf || exit 99
        d=/run/systemd; [ -d $d ] || d=/run
        mount -t tmpfs tmpfs $d && mkdir -p "${4%/*}" || exit 98
        "$2" "$3" listen "$4" & lp=$!
        i=0; while [ ! -S "$4" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
        [ "$("$2" "$3" connect "$4")" = connected ] || { kill $lp; exit 97; }
        shift 4
        "$@"; st=$?
        kill $lp
        exit $st' sh "$WORK/resolv.conf" "$PY" "$WORK/unixsock.py" "$VARLINK" "$T2S_BIN" "$@" 2>>"$T2S_LOG"
}

# Inside the command: what its resolv.conf names, a lookup with dig, a fetch by name.
cat >"$WORK/lookup.sh" <<EOS
echo "ns \$(awk '\$1 == "nameserver" { print \$2 }' /etc/resolv.conf | tr '\n' ' ')"
echo "varlink \$("$PY" "$WORK/unixsock.py" connect $VARLINK)"
echo "dig \$(dig +short +time=5 +tries=1 $NAME A)"
echo "sha \$(curl -q --noproxy '*' -sS --fail --max-time 20 http://$NAME:$HTTP_PORT/f.bin | sha256sum | cut -d' ' -f1)"
echo "mx \$(dig +time=5 +tries=1 $NAME MX | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')"
exit 0
EOS

dns_queries() { grep -c 'query\[' "$LOGDIR/dnsmasq.log"; }
n0=$(sniff_count)

# 1. --dns-server: the command's resolv.conf names it; queries go through the proxy.
out=$(run_resolved --proxy "$PROXY" --dns-server "$DNS4" -- bash "$WORK/lookup.sh")
st=$?
echo "$out" >"$LOGDIR/dns-server.out"
[ "$st" = 0 ] || fail "--dns-server: status $st; output: $out"
grep -q "^ns $DNS4 \$" <<<"$out" || fail "--dns-server: the command's resolv.conf does not name $DNS4 alone: $out"
grep -q "^varlink ECONNREFUSED\$" <<<"$out" || fail "--dns-server: the command reaches resolved's socket: $out"
grep -q "^dig $TGT4\$" <<<"$out" || fail "--dns-server: dig by name: $out"
grep -q "^sha $want\$" <<<"$out" || fail "--dns-server: curl by name, checksum: $out"
grep -q "query\[A\] $NAME from $SRV_IP4" "$LOGDIR/dnsmasq.log" || fail "dnsmasq did not get the query from danted"
info "--dns-server: dig and curl by name through the proxy (sha256 ok)"

# 2. --dns fake-ip: tun2socks answers the command's nameserver from the pool.
out=$(run_resolved --proxy "$PROXY" --dns fake-ip --fake-ip-range "$FAKE4" --fake-ip-range6 "$FAKE6" \
      -- bash "$WORK/lookup.sh")
st=$?
echo "$out" >"$LOGDIR/fake-ip.out"
[ "$st" = 0 ] || fail "fake-ip: status $st; output: $out"
grep -q "^ns $STUB \$" <<<"$out" || fail "fake-ip: the command's resolv.conf does not name $STUB alone: $out"
grep -Eq "^dig 198\.19\.(12[89]|1[3-9][0-9]|2[0-5][0-9])\.[0-9]+\$" <<<"$out" \
    || fail "fake-ip: dig by name did not get a pool address: $out"
grep -q "^varlink ECONNREFUSED\$" <<<"$out" || fail "fake-ip: the command reaches resolved's socket: $out"
grep -q "^sha $want\$" <<<"$out" || fail "fake-ip: curl by name, checksum: $out"
grep -q "^mx REFUSED\$" <<<"$out" || fail "fake-ip: a query type the pool does not answer: $out"
grep -q "set --dns-server" "$T2S_LOG" && fail "fake-ip: the 'what to set' line was logged although fake-ip is set"
info "fake-ip: dig and curl by name (sha256 ok), MX REFUSED"

# 3. Neither: REFUSED at once, one log line, nothing sent anywhere.
cat >"$WORK/refused.sh" <<EOS
ms() { echo \$(( (\${EPOCHREALTIME/./} - \$1) / 1000 )); }
echo "ns \$(awk '\$1 == "nameserver" { print \$2 }' /etc/resolv.conf | tr '\n' ' ')"
echo "varlink \$("$PY" "$WORK/unixsock.py" connect $VARLINK)"
for i in 1 2 3; do
    t=\${EPOCHREALTIME/./}
    s=\$(dig +time=5 +tries=1 host\$i.e2e.test A | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
    echo "dig \$s \$(ms \$t)"
done
t=\${EPOCHREALTIME/./}
curl -q --noproxy '*' -sS --max-time 30 http://$NAME:$HTTP_PORT/f.bin >/dev/null 2>&1
echo "curl \$? \$(ms \$t)"
t=\${EPOCHREALTIME/./}
r=\$(dig +tcp +time=5 +tries=1 $NAME A)
case \$r in *"connection refused"*) r=refused ;; *"timed out"*) r=timeout ;; *) r=other ;; esac
echo "tcp \$r \$(ms \$t)"
exit 0
EOS
q0=$(dns_queries)
out=$(run_resolved --proxy "$PROXY" -- bash "$WORK/refused.sh")
st=$?
echo "$out" >"$LOGDIR/refused.out"
[ "$st" = 0 ] || fail "no --dns-server: status $st; output: $out"
grep -q "^ns $STUB \$" <<<"$out" || fail "no --dns-server: the command's resolv.conf does not name $STUB alone: $out"
grep -q "^varlink ECONNREFUSED\$" <<<"$out" || fail "no --dns-server: the command reaches resolved's socket: $out"
[ "$(grep -c '^dig REFUSED [0-9]*$' <<<"$out")" = 3 ] || fail "no --dns-server: dig did not get REFUSED: $out"
# An answer, not a timeout: each well under dig's own 5 s timeout.
while read -r _ _ ms; do
    [ "$ms" -lt 4000 ] || fail "no --dns-server: a refusal took $ms ms (a timeout?): $out"
done < <(grep '^dig ' <<<"$out")
# curl: "could not resolve host" (6) before glibc's first 5 s timeout.
read -r _ cst cms < <(grep '^curl ' <<<"$out")
[ "$cst" = 6 ] || fail "no --dns-server: curl by name: exit $cst, want 6 (could not resolve): $out"
[ "$cms" -lt 4000 ] || fail "no --dns-server: curl took $cms ms to fail (a timeout?): $out"
read -r _ tres tms < <(grep '^tcp ' <<<"$out")
[ "$tres" = refused ] && [ "$tms" -lt 4000 ] || fail "no --dns-server: DNS over TCP to $STUB not refused at once: $out"
[ "$(grep -c 'set --dns-server ADDR' "$T2S_LOG")" = 1 ] || fail "not exactly one 'what to set' log line: $(grep -c 'set --dns-server' "$T2S_LOG")"
grep 'set --dns-server ADDR' "$T2S_LOG" | grep -q -- '--dns fake-ip' || fail "the log line does not name --dns fake-ip"
[ "$(dns_queries)" = "$q0" ] || fail "a query reached dnsmasq"
grep -q "$STUB" "$LOGDIR/danted.log" && fail "danted saw a connection to $STUB"
info "no --dns-server: dig REFUSED in $(grep '^dig ' <<<"$out" | cut -d' ' -f3 | tr '\n' ' ')ms, curl failed in ${cms} ms, TCP refused in ${tms} ms, one log line"

[ "$(sniff_count)" = "$n0" ] || fail "$(($(sniff_count) - n0)) packets leaked around the proxy"
[ "$(cat /etc/resolv.conf)" = "$resolv_before" ] || fail "the host's /etc/resolv.conf changed"
[ -z "$(t2s_procs)" ] || fail "tun2socks left running"
