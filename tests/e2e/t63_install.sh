#!/bin/bash
# SPDX-License-Identifier: MIT
# `cmake --install` of the build under test (issue 11), no network needed:
#  1. DESTDIR=ROOT --prefix /usr: the program in /usr/sbin (0755, runs), no bin/;
#     tun2socks(8) (0644, renders without a warning); the two units (0644) naming
#     /usr/sbin/tun2socks and /etc/tun2socks/...; the sysusers.d entry; the example
#     config and the docs; the library, header and pkg-config file as t41 needs them.
#     Nothing is written outside ROOT.
#  2. --prefix P (no DESTDIR): the units follow the prefix; `systemd-analyze verify`
#     accepts both (the template as an instance), and `systemd-analyze security
#     --offline=true` rates them at most 4.0 (OK).
# T2S_BIN names the build: its directory's parent is the build tree.
. "$(dirname "$0")/lib.sh"

need_bin
BUILD=$(cd "$(dirname "$T2S_BIN")/.." && pwd)
[ -f "$BUILD/CMakeCache.txt" ] || fail "$BUILD (from T2S_BIN) is not a CMake build tree"
ROOT=$WORK/root
stamp=$WORK/stamp
touch "$stamp"

DESTDIR=$ROOT cmake --install "$BUILD" --prefix /usr >"$LOGDIR/install.log" 2>&1 || fail "cmake --install failed: $(tail -3 "$LOGDIR/install.log")"
grep -v "^-- \(Install\|Up-to-date\)" "$LOGDIR/install.log" | grep -q . && fail "unexpected install output: $(grep -v '^-- ' "$LOGDIR/install.log" | head -3)"
grep '^-- Installing: ' "$LOGDIR/install.log" | grep -v "Installing: $ROOT/" && fail "installed outside DESTDIR"

mode() { # mode FILE WANT
    [ -e "$ROOT$1" ] || fail "not installed: $1"
    local m
    m=$(stat -c %a "$ROOT$1")
    [ "$m" = "$2" ] || fail "$1: mode $m, want $2"
}
mode /usr/sbin/tun2socks 755
[ -e "$ROOT/usr/bin/tun2socks" ] && fail "the program is in bin/ too"
"$ROOT/usr/sbin/tun2socks" --version | grep -q '^tun2socks ' || fail "the installed program does not run"
mode /usr/share/man/man8/tun2socks.8 644
warn=$(MANWIDTH=80 man --warnings -l "$ROOT/usr/share/man/man8/tun2socks.8" 2>&1 >/dev/null)
[ -z "$warn" ] || fail "tun2socks(8) renders with warnings: $warn"
for u in tun2socks.service tun2socks@.service; do
    mode "/usr/lib/systemd/system/$u" 644
    grep -q '^ExecStart=/usr/sbin/tun2socks --config /etc/tun2socks/' "$ROOT/usr/lib/systemd/system/$u" \
        || fail "$u: ExecStart does not name /usr/sbin/tun2socks and /etc/tun2socks: $(grep ExecStart "$ROOT/usr/lib/systemd/system/$u")"
    for k in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' 'RuntimeDirectory=tun2socks' 'NotifyAccess=main'; do
        grep -qxF "$k" "$ROOT/usr/lib/systemd/system/$u" || fail "$u lacks $k"
    done
done
grep -q '%i.conf' "$ROOT/usr/lib/systemd/system/tun2socks@.service" || fail "the template does not read /etc/tun2socks/%i.conf"
mode /usr/lib/sysusers.d/tun2socks.conf 644
grep -q '^u tun2socks ' "$ROOT/usr/lib/sysusers.d/tun2socks.conf" || fail "no tun2socks user in sysusers.d"
mode /usr/share/doc/tun2socks/examples/tun2socks.conf 644
for d in README.md ARCHITECTURE.md RELIABILITY.md; do mode "/usr/share/doc/tun2socks/$d" 644; done
mode /usr/include/tun2socks.h 644
mode /usr/lib/pkgconfig/tun2socks.pc 644
[ -f "$ROOT/usr/lib/libtun2socks.a" ] || fail "libtun2socks.a not installed"
[ -L "$ROOT/usr/lib/libtun2socks.so" ] || fail "libtun2socks.so not installed"
find "$ROOT" -type f -perm /022 | grep . && fail "group- or world-writable files installed"
n=$(find "$ROOT" -type f | wc -l)
info "DESTDIR install: $n files, modes and paths as expected"
# Nothing outside DESTDIR (the build tree's own files aside).
leak=$(find /usr /etc /lib -newer "$stamp" -name '*tun2socks*' 2>/dev/null | head -3)
[ -z "$leak" ] || fail "files written outside DESTDIR: $leak"

# 2. A prefix: the units follow it, and systemd accepts them.
P=$WORK/prefix
cmake --install "$BUILD" --prefix "$P" >"$LOGDIR/install2.log" 2>&1 || fail "cmake --install --prefix failed"
grep -q "^ExecStart=$P/sbin/tun2socks --config $P/etc/tun2socks/tun2socks.conf\$" "$P/lib/systemd/system/tun2socks.service" \
    || fail "the unit does not follow --prefix: $(grep ExecStart "$P/lib/systemd/system/tun2socks.service")"
if command -v systemd-analyze >/dev/null; then
    cp "$P/lib/systemd/system/tun2socks@.service" "$WORK/tun2socks@e2e.service"
    for u in "$P/lib/systemd/system/tun2socks.service" "$WORK/tun2socks@e2e.service"; do
        MANPATH=$P/share/man systemd-analyze verify "$u" >"$WORK/verify.log" 2>&1 || fail "systemd-analyze verify $(basename "$u"): $(cat "$WORK/verify.log")"
        systemd-analyze security --offline=true "$u" >"$WORK/security.log" 2>&1
        score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' "$WORK/security.log")
        [ -n "$score" ] || fail "no exposure level from systemd-analyze security: $(tail -3 "$WORK/security.log")"
        awk -v s="$score" 'BEGIN { exit !(s <= 4.0) }' || fail "$(basename "$u"): exposure $score, want at most 4.0"
        info "$(basename "$u"): systemd-analyze verify ok, security exposure $score"
    done
else
    info "no systemd-analyze: units not verified"
fi
