#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian package (issue 11): $T2S_DEB (scripts/test builds it once with
# scripts/deb-build and DEB_BUILD_OPTIONS=nocheck), else built here the same way.
#  - contents: /usr/sbin/tun2socks (0755, root:root, runs from the unpacked tree),
#    the units in /lib/systemd/system naming /usr/sbin/tun2socks, tun2socks(8),
#    the sysusers.d entry, docs, the example and copyright; no library, header or
#    pkg-config file, nothing in /usr/local;
#  - the maintainer scripts create the tun2socks user (systemd-sysusers) and neither
#    enable nor start the unit; Depends names the sysusers provider;
#  - lintian reports no error;
#  - no systemd runs here (PID 1 is not systemd), so the unit is not started; where one
#    does (/run/systemd/system), the installed units are verified by systemd-analyze.
. "$(dirname "$0")/lib.sh"

command -v dpkg-deb >/dev/null || fail "dpkg-deb is missing"
DEB=${T2S_DEB:-}
if [ -z "$DEB" ]; then
    info "no \$T2S_DEB: building the package (scripts/deb-build, nocheck)"
    DEB=$(DEB_BUILD_OPTIONS=nocheck "$REPO_ROOT/scripts/deb-build" "$WORK/deb" 2>"$LOGDIR/deb-build.log") \
        || fail "scripts/deb-build failed: $(tail -5 "$LOGDIR/deb-build.log")"
fi
[ -f "$DEB" ] || fail "no package at $DEB"
dpkg-deb -c "$DEB" >"$LOGDIR/contents.txt" || fail "dpkg-deb -c $DEB"
entry() { # entry PATH PERMS: the listing has PATH with PERMS, owned by root
    grep -qE "^$2 root/root +[0-9]+ [0-9-]+ [0-9:]+ \./${1#/}\$" "$LOGDIR/contents.txt" \
        || fail "no $1 ($2 root/root) in the package: $(grep -F "${1#/}" "$LOGDIR/contents.txt" || echo absent)"
}
entry /usr/sbin/tun2socks -rwxr-xr-x
entry /lib/systemd/system/tun2socks.service -rw-r--r--
entry /lib/systemd/system/tun2socks@.service -rw-r--r--
entry /usr/share/man/man8/tun2socks.8.gz -rw-r--r--
entry /usr/lib/sysusers.d/tun2socks.conf -rw-r--r--
entry /usr/share/doc/tun2socks/copyright -rw-r--r--
entry /usr/share/doc/tun2socks/README.md.gz -rw-r--r--
entry /usr/share/doc/tun2socks/examples/tun2socks.conf -rw-r--r--
grep -E 'libtun2socks|/include/|pkgconfig|usr/local|/usr/bin/' "$LOGDIR/contents.txt" && fail "the package ships more than the program"
info "contents: $(grep -c '^-' "$LOGDIR/contents.txt") files as expected"

X=$WORK/x
dpkg-deb -x "$DEB" "$X" || fail "dpkg-deb -x"
"$X/usr/sbin/tun2socks" --version | grep -q '^tun2socks 0\.' || fail "the packaged program does not run"
"$X/usr/sbin/tun2socks" check --proxy socks5://127.0.0.1:9 >"$WORK/check.txt"; rc=$?
[ "$rc" = 1 ] && grep -q '^FAIL  reach: ' "$WORK/check.txt" || fail "the packaged check: exit $rc: $(cat "$WORK/check.txt")"
zcat "$X/usr/share/man/man8/tun2socks.8.gz" | grep -q '^\.TH TUN2SOCKS 8' || fail "man page"
for u in tun2socks.service tun2socks@.service; do
    grep -q '^ExecStart=/usr/sbin/tun2socks --config /etc/tun2socks/' "$X/lib/systemd/system/$u" || fail "$u: ExecStart"
    grep -qxF 'Type=notify' "$X/lib/systemd/system/$u" || fail "$u: not Type=notify"
done

dpkg-deb -e "$DEB" "$WORK/ctl" || fail "dpkg-deb -e"
grep -q 'systemd-sysusers.*tun2socks.conf' "$WORK/ctl/postinst" || fail "postinst does not create the tun2socks user"
grep -q "deb-systemd-invoke start" "$WORK/ctl/postinst" && fail "postinst starts the unit before it is configured"
grep -q '^Depends:.*systemd-standalone-sysusers' "$WORK/ctl/control" || fail "Depends: $(grep ^Depends "$WORK/ctl/control")"
info "maintainer scripts: the user by systemd-sysusers; the unit neither enabled nor started"

command -v lintian >/dev/null || fail "lintian is missing (scripts/setup-deps)"
lintian --fail-on error "$DEB" >"$LOGDIR/lintian.log" 2>&1 || fail "lintian: $(grep '^E:' "$LOGDIR/lintian.log" | head -5)"
info "lintian: no error ($(grep -c '^W:' "$LOGDIR/lintian.log") warnings)"

if [ -d /run/systemd/system ] && command -v systemd-analyze >/dev/null; then
    systemd-analyze verify --root="$X" tun2socks.service >"$WORK/verify.log" 2>&1 || info "systemd-analyze verify in the unpacked root: $(cat "$WORK/verify.log")"
else
    info "no running systemd (PID 1 is $(cat /proc/1/comm)): the unit is not started here; t63 verifies it offline"
fi
