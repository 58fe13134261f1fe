#!/bin/bash
# SPDX-License-Identifier: MIT
# A reload that cannot be applied keeps the running configuration and says why
# (issue 11, reload): a file with an error (FILE:LINE named), a password in a file
# others may read, an option that needs a restart (logged, its old value kept while
# the rest is taken). After each, tun2socks still runs and still uses proxy A.
# A proxy name that no nameserver answers (the client namespace's resolv.conf names
# the server's address, where nothing listens on 53) keeps the running proxy too.
# Last, credentials from TUN2SOCKS_PROXY_AUTH (removed from the environment at start)
# still authenticate after a reload.
. "$(dirname "$0")/lib.sh"

setup_default_conf() {
    need_root
    need_bin
    topo_up
    danted_start
    microsocks_start
    httpd_start
}
setup_default_conf
CONF=$WORK/t2s.conf
printf 'proxy = socks5://%s:%s\n' "$SRV_IP4" "$DANTE_PORT" >"$CONF"
chmod 600 "$CONF"
t2s_start --config "$CONF"
URL=http://$TGT4:$HTTP_PORT/peer
still_ok() {
    local peer
    t2s_alive || fail "$1: tun2socks died"
    peer=$(cli_curl "$URL") || fail "$1: a request after the reload failed (the running proxy was dropped?)"
    [ "$peer" = "$SRV_IP4" ] || fail "$1: the target saw '$peer'"
}
reload_logged() { # reload_logged N PATTERN: the Nth reload's outcome line matches
    wait_until 10 grep -q "$2" "$T2S_LOG" || fail "no log line '$2' after reload $1: $(grep 'reload' "$T2S_LOG" | tail -3)"
}

# 1. A syntax error and a bad value: file, line and option named, nothing changes.
printf '# bad\nproxy = socks5://%s:1099\nmtu = 99\n' "$SRV_IP4" >"$CONF"
kill -HUP "$T2S_PID"
reload_logged 1 "reload: $CONF:3: --mtu: '99' is not in 1280..65535: the running configuration stays"
still_ok "bad value"
grep -q "new connections go to" "$T2S_LOG" && fail "bad value: the proxy changed anyway"
info "a bad value: refused with file:line, the old proxy stays"

# 2. A password in a file others may read.
printf 'proxy = socks5://u:secretpw@%s:1099\n' "$SRV_IP4" >"$CONF"
chmod 644 "$CONF"
kill -HUP "$T2S_PID"
reload_logged 2 "reload: $CONF: holds a password but others may read it (mode 0644)"
grep -q secretpw "$T2S_LOG" && fail "the password is in the log"
still_ok "readable password"
info "a readable password: refused with the reason, the old proxy stays"

# 3. An option that needs a restart: logged, kept; what can change is taken.
printf 'proxy = socks5://%s:%s\nmtu = 1500\nconnect-timeout = 4\n' "$SRV_IP4" "$DANTE_PORT" >"$CONF"
chmod 600 "$CONF"
kill -HUP "$T2S_PID"
reload_logged 3 "reload: --mtu cannot change while running: the running value stays"
reload_logged 3 "reload: done (1 setting changed)"
[ "$(ip -n "$CLI" -o link show "$TUN" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')" = 65535 ] || fail "the TUN's MTU changed"
still_ok "restart-only option"
info "--mtu: needs a restart (logged), connect-timeout taken"

# 3b. A proxy name that cannot be looked up.
mkdir -p "/etc/netns/$CLI" || fail "mkdir /etc/netns/$CLI"
CLEANUP_PATHS+=("/etc/netns/$CLI")
echo "nameserver $SRV_IP4" >"/etc/netns/$CLI/resolv.conf"
t2s_stop
t2s_start --config "$CONF" # again, so that it reads the namespace's resolv.conf
printf 'proxy = socks5://nowhere.e2e.test:%s\n' "$DANTE_PORT" >"$CONF"
kill -HUP "$T2S_PID"
reload_logged 3b "reload: cannot resolve the proxy's name nowhere.e2e.test: .*: the running configuration stays"
still_ok "unresolvable proxy name"
info "a proxy name that does not resolve: the old proxy stays"

# 4. A file that is gone.
rm -f "$CONF"
kill -HUP "$T2S_PID"
reload_logged 4 "reload: $CONF: No such file or directory: the running configuration stays"
still_ok "missing file"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"

# 5. Credentials from the environment outlive its scrubbing: a reload keeps them.
printf 'proxy = socks5://%s:%s\nconnect-timeout = 5\n' "$SRV_IP4" "$MS_PORT" >"$CONF"
export TUN2SOCKS_PROXY_AUTH="$MS_USER:$MS_PASS"
t2s_start --config "$CONF"
unset TUN2SOCKS_PROXY_AUTH
printf 'proxy = socks5://%s:%s\nconnect-timeout = 6\n' "$SRV_IP4" "$MS_PORT" >"$CONF"
n=$(grep -c "reload: done" "$T2S_LOG")
kill -HUP "$T2S_PID"
reloaded() { [ "$(grep -c "reload: done" "$T2S_LOG")" -gt "$n" ]; }
wait_until 10 reloaded || fail "env credentials: no reload"
still_ok "env credentials after a reload"
grep -q "authentication failed" "$T2S_LOG" && fail "env credentials: authentication failed after the reload"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS"
info "TUN2SOCKS_PROXY_AUTH: still used after a reload"
info "PASS"
