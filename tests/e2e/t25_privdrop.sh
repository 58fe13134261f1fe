#!/bin/bash
# SPDX-License-Identifier: MIT
# --user: once the TUN is set up tun2socks runs as that user with no capability left
# (only CAP_NET_ADMIN when --fwmark needs it) and no_new_privs; traffic still flows,
# SIGTERM still exits cleanly and removes the TUN. A password in the proxy URL does
# not show in /proc/PID/cmdline nor in tun2socks' log, nor one from
# TUN2SOCKS_PROXY_AUTH in /proc/PID/environ. An unknown user is a usage
# error before anything is set up.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
microsocks_start
echo_start
MS=$SRV_IP4:$MS_PORT
nobody_uid=$(id -u nobody) || fail "no user nobody on this system"
nobody_gid=$(id -g nobody)

status_field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "/proc/$T2S_PID/status"; }
dropped() { grep -q "running as uid $nobody_uid" "$T2S_LOG"; }

check_run() { # check_run WHAT CAPEFF
    local what=$1 want_caps=$2 v
    wait_until 5 dropped || fail "$what: no 'running as' line in the log"
    v=$(status_field Uid)
    [ "$(echo $v)" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] || fail "$what: Uid is '$v'"
    v=$(status_field Gid)
    [ "$(echo $v)" = "$nobody_gid $nobody_gid $nobody_gid $nobody_gid" ] || fail "$what: Gid is '$v'"
    v=$(status_field Groups)
    [ "$(echo $v)" = "$nobody_gid" ] || fail "$what: supplementary groups '$v'"
    [ "$(status_field CapEff)" = "$want_caps" ] || fail "$what: CapEff $(status_field CapEff), want $want_caps"
    [ "$(status_field CapPrm)" = "$want_caps" ] || fail "$what: CapPrm $(status_field CapPrm), want $want_caps"
    [ "$(status_field NoNewPrivs)" = 1 ] || fail "$what: NoNewPrivs $(status_field NoNewPrivs)"
    tr '\0' ' ' <"/proc/$T2S_PID/cmdline" | grep -qF -- "$MS_PASS" && fail "$what: the password shows in /proc/PID/cmdline"
    tr '\0' ' ' <"/proc/$T2S_PID/cmdline" | grep -qE -- "$MS_USER:\*+@" \
        || fail "$what: cmdline not as expected: $(tr '\0' ' ' <"/proc/$T2S_PID/cmdline")"
    client "$CLI" concurrent --host "$TGT4" --port "$ECHO_PORT" -n 20 --size 65536 --timeout 20 \
        || fail "$what: traffic as $nobody_uid"
    client "$CLI" probe --host "$TGT6" --port "$LINE_PORT" --max 5 || fail "$what: IPv6 traffic"
    t2s_stop TERM
    [ "$T2S_STATUS" = 0 ] || fail "$what: exit status $T2S_STATUS after SIGTERM"
    wait_until 5 not tun_exists || fail "$what: $TUN still exists after exit"
    # Our own log lines (the harness's "===" lines quote the command line).
    grep -v '^===' "$T2S_LOG" | grep -qF -- "$MS_PASS" && fail "$what: the password is in tun2socks' log"
    info "$what: ok"
}

t2s_start --proxy "socks5://$MS_USER:$MS_PASS@$MS" --user nobody
check_run "--user nobody" 0000000000000000

# SO_MARK needs CAP_NET_ADMIN for every new proxy socket: kept, and nothing else.
t2s_start --proxy "socks5://$MS_USER:$MS_PASS@$MS" --user nobody --group "$(id -gn nobody)" --fwmark 0x1
check_run "--user nobody --fwmark" 0000000000001000

# Credentials from the environment: the value is masked in /proc/PID/environ too.
TUN2SOCKS_PROXY_AUTH="$MS_USER:$MS_PASS" t2s_start --proxy "socks5://$MS" --user nobody
wait_until 5 dropped || fail "env: no 'running as' line in the log"
tr '\0' '\n' <"/proc/$T2S_PID/environ" | grep -qF -- "$MS_PASS" && fail "env: the password shows in /proc/PID/environ"
tr '\0' '\n' <"/proc/$T2S_PID/environ" | grep -qE '^TUN2SOCKS_PROXY_AUTH=\*+$' \
    || fail "env: TUN2SOCKS_PROXY_AUTH not masked: $(tr '\0' '\n' <"/proc/$T2S_PID/environ" | grep TUN2SOCKS)"
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 5 || fail "env: traffic"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "env: exit status $T2S_STATUS"
info "credentials from the environment: masked"

# An unknown user fails before the TUN exists.
out=$(in_cli "$T2S_BIN" --proxy "socks5://$MS" --tun "$TUN" --user no-such-user-t2s 2>&1); rc=$?
[ "$rc" = 2 ] || fail "unknown user: exit status $rc, want 2 ($out)"
[[ $out == *"--user no-such-user-t2s: no such user"* ]] || fail "unknown user: message '$out'"
tun_exists && fail "unknown user: the TUN was created"
out=$(in_cli "$T2S_BIN" --proxy "socks5://$MS" --tun "$TUN" --group nogroup 2>&1); rc=$?
[ "$rc" = 2 ] && [[ $out == *"--group needs --user"* ]] || fail "--group alone: status $rc '$out'"
