#!/bin/bash
# SPDX-License-Identifier: MIT
# --config FILE (issue 11): --print-config shows the effective configuration
# (command line over file, a command-line --exclude replacing the file's list,
# the password masked); errors name FILE:LINE and the option and exit 2 without a
# TUN; a file with a password that others may read is refused with the reason;
# a run from the file alone with proxy-auth-file = cred:NAME (systemd's
# $CREDENTIALS_DIRECTORY) authenticates to microsocks (SHA-256 of a GET).
. "$(dirname "$0")/lib.sh"

need_root
need_bin
CONF=$WORK/t2s.conf
cat >"$CONF" <<EOC
# a comment
proxy = socks5://alice:pw%23with;marks@192.0.2.7:1080
mtu = 1500
auto-route = yes
exclude = 198.18.100.0/24
exclude = 198.18.200.0/24
log-level = warn
EOC
chmod 600 "$CONF"
out=$("$T2S_BIN" --config "$CONF" --mtu 9000 --exclude 198.19.200.0/24 --print-config) \
    || fail "--print-config: status $?"
grep -qx 'proxy = socks5://alice:\*\*\*\*\*\*\*\*@192.0.2.7:1080' <<<"$out" || fail "proxy line: $(grep proxy <<<"$out")"
grep -q "with;marks" <<<"$out" && fail "--print-config shows the password"
grep -qx 'mtu = 9000' <<<"$out" || fail "the command line's --mtu did not win"
[ "$(grep -c '^exclude = ' <<<"$out")" = 1 ] && grep -qx 'exclude = 198.19.200.0/24' <<<"$out" \
    || fail "the command line's --exclude did not replace the file's: $(grep exclude <<<"$out")"
grep -qx 'auto-route = true' <<<"$out" && grep -qx 'log-level = warn' <<<"$out" || fail "the file's values are missing"
info "--print-config: command line over file, list replaced, password masked"
# The example file parses, and every option is in it.
ex=$E2E_DIR/../../examples/tun2socks.conf
out=$("$T2S_BIN" --config "$ex" --print-config) || fail "examples/tun2socks.conf: status $?"
for o in $(sed -n 's/^#* *\([a-z][a-z0-9-]*\) =.*/\1/p' <<<"$out"); do
    grep -Eq "^#?$o( =|$)" "$ex" || fail "examples/tun2socks.conf lacks $o"
done
info "examples/tun2socks.conf parses and names every option"

bad() { # bad WHAT WANT-IN-STDERR ARGS...
    local what=$1 want=$2 rc
    shift 2
    ip netns exec "$CLI" "$T2S_BIN" "$@" --tun "$TUN" >"$WORK/out" 2>"$WORK/err"
    rc=$?
    [ "$rc" = 2 ] || fail "$what: status $rc, expected 2: $(cat "$WORK/err")"
    grep -qF -- "$want" "$WORK/err" || fail "$what: stderr lacks '$want': $(cat "$WORK/err")"
    tun_exists && fail "$what: a TUN was created"
    info "$what: exit 2, '$want'"
}
topo_up
printf 'proxy = socks5://192.0.2.7\n\nudp = sometimes\n' >"$WORK/e1.conf"
bad "bad value" "$WORK/e1.conf:3: --udp: 'sometimes' is not auto, associate, dns-over-tcp or block" --config "$WORK/e1.conf"
printf 'proxy = socks5://192.0.2.7\nproxy-typo = x\n' >"$WORK/e2.conf"
bad "unknown option" "$WORK/e2.conf:2: unknown option 'proxy-typo'" --config "$WORK/e2.conf"
printf 'proxy socks5://192.0.2.7\n' >"$WORK/e3.conf"
bad "syntax" "$WORK/e3.conf:1: 'proxy socks5://192.0.2.7' is not 'name = value'" --config "$WORK/e3.conf"
bad "missing file" "$WORK/none.conf: No such file or directory" --config "$WORK/none.conf"
chmod 644 "$CONF"
bad "readable password" "$CONF: holds a password but others may read it (mode 0644)" --config "$CONF"
chown 65534 "$CONF"
chmod 600 "$CONF"
bad "foreign owner" "$CONF: holds a password but is owned by uid 65534, neither root nor the service user" --config "$CONF"

# A run from the file, the credentials from a systemd credential.
microsocks_start
httpd_start
head -c 4M /dev/urandom >"$WORK/www/f.bin"
want=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)
mkdir -p "$WORK/creds"
printf '%s:%s\n' "$MS_USER" "$MS_PASS" >"$WORK/creds/proxy-auth"
chmod 400 "$WORK/creds/proxy-auth"
printf 'proxy = socks5://%s:%s\nproxy-auth-file = cred:proxy-auth\n' "$SRV_IP4" "$MS_PORT" >"$WORK/run.conf"
chmod 644 "$WORK/run.conf" # no password in it
export CREDENTIALS_DIRECTORY=$WORK/creds
t2s_start --config "$WORK/run.conf"
got=$(cli_curl "http://$TGT4:$HTTP_PORT/f.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "GET through microsocks with cred:proxy-auth: SHA-256 differs"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"
unset CREDENTIALS_DIRECTORY
info "cred:NAME from \$CREDENTIALS_DIRECTORY authenticates (SHA-256 ok)"
info "PASS"
