#!/bin/bash
# SPDX-License-Identifier: MIT
# libtun2socks embedded (issue 13, part 2): the library of the build under test is
# installed with `cmake --install` into a prefix inside that build tree, exports only
# t2s_ symbols (shared and static), links next to an lwIP of the embedder's own (a
# stand-in defining lwIP's names), and examples/embed.c, built with
# `pkg-config --cflags --libs tun2socks`, relays curl through a TUN it opened itself.
# The proxy is reachable only for sockets carrying mark 0x7441 (unmarked ones are routed
# into the TUN), and the example marks them in the socket hook: the transfer (SHA-256)
# proves every proxy socket went through the hook, and `ss -e` shows the marks. The
# proxy is given by name: the engine looks it up itself (proxy-resolver, a dnsmasq in
# the server namespace) on a UDP socket the hook saw, as the nameserver is reachable
# only with the mark too; a name that does not exist fails the run with the reason. SIGINT
# reaches the engine through t2s_engine_stop from the example's sigwait thread; a
# second engine in the process is refused with EBUSY.
# T2S_BIN names the build: its directory's parent is the build tree (build/release or
# build/asan); with T2S_E2E_SANITIZED=1 the example is built with the sanitizers too.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
BUILD=$(cd "$(dirname "$T2S_BIN")/.." && pwd)
[ -f "$BUILD/CMakeCache.txt" ] || fail "$BUILD (from T2S_BIN) is not a CMake build tree"
[ -f "$BUILD/tun2socks/lib/libtun2socks.a" ] || fail "no libtun2socks in $BUILD: build it first"
command -v pkg-config >/dev/null || fail "pkg-config is missing (scripts/setup-deps)"
MARK=0x7441
TABLE=7441

PREFIX=$BUILD/t41-prefix.$$
CLEANUP_PATHS+=("$PREFIX")
cmake --install "$BUILD" --prefix "$PREFIX" >"$LOGDIR/install.log" 2>&1 || fail "cmake --install failed: $(tail -3 "$LOGDIR/install.log")"
PC=$(find "$PREFIX" -name tun2socks.pc | head -1)
[ -n "$PC" ] || fail "tun2socks.pc not installed under $PREFIX"
export PKG_CONFIG_PATH=$(dirname "$PC")
LIBDIR=$(pkg-config --variable=libdir tun2socks) || fail "pkg-config tun2socks"
LIBDIR=$(cd "$LIBDIR" && pwd)
[ -f "$PREFIX/include/tun2socks.h" ] || fail "tun2socks.h not installed"
so=$(readlink -f "$LIBDIR/libtun2socks.so")
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libtun2socks.so.0 ] || fail "SONAME is '$soname', expected libtun2socks.so.0"
info "installed into $PREFIX: $(basename "$so"), SONAME $soname, version $(pkg-config --modversion tun2socks)"

# Only the API is exported.
nm -D --defined-only "$so" | awk '{ print $NF }' | sed 's/@.*//' | sort -u >"$WORK/dyn.txt"
bad=$(grep -v -e '^t2s_' -e '^TUN2SOCKS_0$' "$WORK/dyn.txt" | head -5)
[ -z "$bad" ] || fail "libtun2socks.so exports more than t2s_: $bad"
nm -g --defined-only "$LIBDIR/libtun2socks.a" | awk 'NF == 3 { print $3 }' | sort -u >"$WORK/static.txt"
bad=$(grep -v '^t2s_' "$WORK/static.txt" | head -5)
[ -z "$bad" ] || fail "libtun2socks.a has global symbols beyond t2s_: $bad"
n_api=$(grep -c '^t2s_' "$WORK/dyn.txt")
# ... and all of it: every function the header declares.
sed -n 's/^T2S_API .*[ *]\(t2s_[a-z_]*\)(.*/\1/p' "$PREFIX/include/tun2socks.h" | sort -u >"$WORK/api.txt"
cmp -s "$WORK/api.txt" <(grep '^t2s_' "$WORK/dyn.txt") \
    || fail "exports differ from tun2socks.h: $(diff "$WORK/api.txt" <(grep '^t2s_' "$WORK/dyn.txt") | head -5)"
info "exports: $n_api t2s_ functions in the .so, $(wc -l <"$WORK/static.txt") in the .a, nothing else"

CFLAGS_SAN=()
[ "${T2S_E2E_SANITIZED:-0}" = 1 ] && CFLAGS_SAN=(-fsanitize=address,undefined -fno-omit-frame-pointer)
# An embedder with an lwIP of its own: the same names, defined twice if ours leaked.
cat >"$WORK/own_lwip.c" <<'EOF'
#include <stdio.h>
#include <tun2socks.h>
void lwip_init(void) {}
void tcp_tmr(void) {}
int pbuf_free(void *p) { return p != 0; }
int lwip_port_init(void) { return 0; }
int log_current_level = 7;
int main(void) { lwip_init(); printf("%s\n", t2s_version()); return 0; }
EOF
# shellcheck disable=SC2046
cc "${CFLAGS_SAN[@]}" -Wall -Werror "$WORK/own_lwip.c" -o "$WORK/own_lwip" $(pkg-config --cflags --libs tun2socks) \
    -Wl,-rpath,"$LIBDIR" 2>"$LOGDIR/own_lwip.log" || fail "shared: an embedder defining lwIP's names does not link: $(head -3 "$LOGDIR/own_lwip.log")"
# shellcheck disable=SC2046
cc "${CFLAGS_SAN[@]}" -Wall -Werror "$WORK/own_lwip.c" -o "$WORK/own_lwip_static" $(pkg-config --cflags tun2socks) \
    "$LIBDIR/libtun2socks.a" $(pkg-config --static --libs-only-other --libs-only-l tun2socks | sed 's/-ltun2socks//') \
    2>>"$LOGDIR/own_lwip.log" || fail "static: an embedder defining lwIP's names does not link: $(head -3 "$LOGDIR/own_lwip.log")"
v1=$("$WORK/own_lwip") && v2=$("$WORK/own_lwip_static") && [ "$v1" = "$v2" ] && [ -n "$v1" ] \
    || fail "embedder with its own lwIP: '$v1' / '$v2'"
info "an embedder with lwIP's names of its own links shared and static (t2s_version $v1)"

# shellcheck disable=SC2046
cc "${CFLAGS_SAN[@]}" -Wall -Wextra -Werror "$REPO_ROOT/examples/embed.c" -o "$WORK/embed" \
    $(pkg-config --cflags --libs tun2socks) -lpthread -Wl,-rpath,"$LIBDIR" 2>"$LOGDIR/embed-build.log" \
    || fail "examples/embed.c does not build against the installed library: $(head -5 "$LOGDIR/embed-build.log")"
ldd "$WORK/embed" | grep "libtun2socks.so.0 => $LIBDIR/" >/dev/null || fail "embed is not linked to the installed libtun2socks.so.0"

topo_up
danted_start
httpd_start
dnsmasq_start --address="/proxy.t41.test/$SRV_IP4" --address=/nosuch.t41.test/ || fail "dnsmasq is missing (scripts/setup-deps)"
# Marked sockets reach the proxy and the nameserver over the veth (table $TABLE); unmarked
# ones are refused (the nameserver) or routed into the TUN (the proxy, below).
ip -n "$CLI" route add "$SRV_IP4/32" dev veth-c table "$TABLE" || fail "table $TABLE"
ip -n "$CLI" route add "$DNS4/32" via "$SRV_IP4" dev veth-c table "$TABLE" || fail "table $TABLE: nameserver"
ip -n "$CLI" rule add fwmark "$MARK" lookup "$TABLE" pref 100 || fail "fwmark rule"
ip -n "$CLI" route add prohibit "$DNS4/32" || fail "prohibit route to the nameserver"
route=$(in_cli ip route get "$DNS4" 2>&1) # fails (EACCES) when prohibited
[[ $route == *prohibit* || $route == *"Permission denied"* ]] || fail "trap: the unmarked route to the nameserver is open: $route"
in_cli ip route get "$DNS4" mark "$MARK" | grep -q "dev veth-c" || fail "trap: marked route to the nameserver"

# A name that does not exist: the run fails at once, saying why.
ip netns exec "$CLI" "$WORK/embed" "$TUN" "socks5://nosuch.t41.test:$DANTE_PORT" "$MARK" \
    proxy-resolver="$DNS4" >"$LOGDIR/nosuch.log" 2>&1
st=$?
[ "$st" = 1 ] || fail "embed with an unknown proxy name exited $st: $(tail -3 "$LOGDIR/nosuch.log")"
grep -q "cannot resolve the proxy's name nosuch.t41.test: no such name (NXDOMAIN from $DNS4:53)" "$LOGDIR/nosuch.log" \
    || fail "no clear error for an unknown proxy name: $(tail -3 "$LOGDIR/nosuch.log")"
info "an unknown proxy name: exit 1, $(grep -o "cannot resolve.*" "$LOGDIR/nosuch.log")"
head -c 16M /dev/urandom >"$WORK/www/f.bin" || fail "test file"
WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

echo "=== $(date +%T.%3N) start: embed $TUN socks5://proxy.t41.test:$DANTE_PORT $MARK" >>"$T2S_LOG"
ip netns exec "$CLI" env --default-signal=INT,QUIT "$WORK/embed" "$TUN" "socks5://proxy.t41.test:$DANTE_PORT" "$MARK" \
    log-level=debug udp-pool=2 proxy-resolver="$DNS4" >>"$T2S_LOG" 2>&1 &
T2S_PID=$!
wait_until 10 grep -q "^tun $TUN open" "$T2S_LOG" || fail "embed did not open $TUN: $(tail -3 "$T2S_LOG")"
grep -q '^second engine: refused (EBUSY)' "$T2S_LOG" || fail "a second engine in the process was not refused with EBUSY"
ip -n "$CLI" addr add "$TUN_ADDR4" dev "$TUN" || fail "addr on $TUN"
ip -n "$CLI" link set "$TUN" up || fail "$TUN up"
ip -n "$CLI" route replace default dev "$TUN" || fail "default route"
# Unmarked sockets to the proxy go into the TUN; marked ones (the hook's) over the veth.
ip -n "$CLI" route add "$SRV_IP4/32" dev "$TUN" || fail "proxy route into the TUN"
# Self-check of the trap: the kernel routes an unmarked socket to the proxy into the TUN.
in_cli ip route get "$SRV_IP4" | grep -q "dev $TUN" || fail "trap: unmarked route to $SRV_IP4 is not the TUN"
in_cli ip route get "$SRV_IP4" mark "$MARK" | grep -q "dev veth-c" || fail "trap: marked route is not veth-c"
wait_until 15 grep -q ' ready: ' "$T2S_LOG" || fail "the engine did not start: $(tail -3 "$T2S_LOG")"
grep -q "proxy proxy.t41.test is $SRV_IP4:$DANTE_PORT (TTL [0-9]* s, A record from $DNS4:53)" "$T2S_LOG" \
    || fail "the engine did not say how it found the proxy: $(grep -m1 'proxy proxy' "$T2S_LOG")"

t0=$(now)
cli_curl -o "$WORK/got.bin" "http://$TGT4:$HTTP_PORT/f.bin" || fail "curl through the embedded engine failed (status $?)"
got=$(sha256sum <"$WORK/got.bin" | cut -d' ' -f1)
[ "$got" = "$WANT" ] || fail "sha256 mismatch ($(stat -c %s "$WORK/got.bin") bytes)"
peer=$(cli_curl "http://$TGT4:$HTTP_PORT/peer") || fail "GET /peer"
[ "$peer" = "$SRV_IP4" ] || fail "the target saw '$peer', not danted"
info "GET 16 MiB through the embedded engine: SHA-256 ok in $(elapsed "$t0")s, peer $peer"

# The UDP pool's spare control connections stay open: their marks show in ss -e.
marked() { [ "$(in_cli ss 2>/dev/null -Htne state established "dst $SRV_IP4 and dport = :$DANTE_PORT" | grep -c "fwmark:$MARK")" -ge 1 ]; }
wait_until 10 marked || fail "no proxy connection with fwmark:$MARK in ss -e: $(in_cli ss 2>/dev/null -Htne "dst $SRV_IP4" | head -3)"
unmarked=$(in_cli ss 2>/dev/null -Htne state established "dst $SRV_IP4 and dport = :$DANTE_PORT" | grep -vc "fwmark:$MARK")
[ "$unmarked" = 0 ] || fail "$unmarked proxy connections without the mark"
info "ss -e: $(in_cli ss 2>/dev/null -Htne state established "dst $SRV_IP4 and dport = :$DANTE_PORT" | grep -c "fwmark:$MARK") proxy connections, all with fwmark:$MARK"

kill -INT "$T2S_PID"
wait_until 10 proc_done "$T2S_PID" || fail "embed did not stop within 10 s of SIGINT"
wait "$T2S_PID"
st=$?
T2S_PID=
[ "$st" = 0 ] || fail "embed exited with status $st: $(tail -3 "$T2S_LOG")"
line=$(grep '^hooked: ' "$T2S_LOG") || fail "embed printed no hook count"
tcp=$(sed -n 's/^hooked: tcp=\([0-9]*\) .*/\1/p' <<<"$line")
udp=$(sed -n 's/.* udp=\([0-9]*\)$/\1/p' <<<"$line")
[ "${tcp:-0}" -ge 3 ] || fail "the hook saw $tcp TCP sockets (2 curl flows and the UDP probe at least)"
[ "${udp:-0}" -ge 1 ] || fail "the hook saw no UDP socket (the proxy's name lookup at least)"
stats=$(grep '^stats: ' "$T2S_LOG") || fail "no stats line"
[[ $stats == *"sockets_hooked=$((tcp + udp))"* ]] || fail "t2s_engine_stats disagrees with the hook: $stats vs $line"
opened=$(sed -n 's/.*tcp_flows_opened=\([0-9]*\).*/\1/p' <<<"$stats")
[ "${opened:-0}" -ge 2 ] || fail "stats: tcp_flows_opened=$opened"
grep -q 'embed: t2s info: ready: ' "$T2S_LOG" || fail "the log hook did not receive the engine's lines"
info "stopped by SIGINT (t2s_engine_stop from the sigwait thread); $line; $stats"
