#!/bin/bash
# SPDX-License-Identifier: MIT
# -- COMMAND started by root, and credentials (issue 9, items 13 and 8).
#  1. --user U -- COMMAND: the command runs as U (a user made by this test, with a
#     supplementary group): U's groups (initgroups), HOME, SHELL, USER, LOGNAME from
#     the user database, the caller's DISPLAY, WAYLAND_DISPLAY, XDG_RUNTIME_DIR and
#     DBUS_SESSION_BUS_ADDRESS, the working directory when U may enter it (else
#     HOME), no capability (CapEff 0), no_new_privs; it cannot setns back into the
#     caller's namespace nor unshare one; traffic flows (SHA-256) through a proxy
#     that needs a password, and neither the command's environment nor anything
#     else it can see holds that password.
#  2. Via sudo (SUDO_USER, SUDO_UID, SUDO_GID) without --user: the command runs as
#     that user; --user root keeps root.
#  3. Credentials as root: TUN2SOCKS_PROXY_AUTH never reaches the command (with or
#     without --proxy-auth-file); the command's own arguments are not masked;
#     an unknown option is echoed with its password masked.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
command -v useradd >/dev/null && command -v groupadd >/dev/null || fail "useradd and groupadd (package passwd) are needed"
topo_up
microsocks_start
httpd_start
MS=$SRV_IP4:$MS_PORT
PROXY=socks5://$MS_USER:$MS_PASS@$MS

U=t2se$$
G=t2sg$$
# The test's user and group go with everything else at exit.
trap 'rc=$?; userdel "$U" 2>/dev/null; groupdel "$G" 2>/dev/null; (exit $rc); cleanup' EXIT
groupadd "$G" || fail "groupadd $G"
mkdir -p "$WORK/home" "$WORK/pub" && chmod 755 "$WORK" "$WORK/pub"
useradd -M -d "$WORK/home" -s /bin/sh -G "$G" "$U" || fail "useradd $U"
chown "$U" "$WORK/home"
uid=$(id -u "$U") gid=$(id -g "$U") sgid=$(getent group "$G" | cut -d: -f3)
head -c 2M /dev/urandom >"$WORK/www/f.bin" && chmod 644 "$WORK/www/f.bin" || fail "test file"
want=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)

cat >"$WORK/pub/inside.sh" <<EOS
st() { awk -v k="\$1:" '\$1 == k { print \$2; exit }' /proc/self/status; }
echo "uid \$(id -u)"
echo "gid \$(id -g)"
echo "groups \$(id -G)"
echo "capeff \$(st CapEff)"
echo "capprm \$(st CapPrm)"
echo "nnp \$(st NoNewPrivs)"
echo "home \$HOME"
echo "user \$USER"
echo "logname \$LOGNAME"
echo "shell \$SHELL"
echo "pwd \$(pwd)"
echo "display \${DISPLAY:-} \${WAYLAND_DISPLAY:-} \${XDG_RUNTIME_DIR:-} \${DBUS_SESSION_BUS_ADDRESS:-}"
echo "argv \$*"
if cat /proc/self/environ | tr '\0' '\n' | grep -q '^TUN2SOCKS_PROXY_AUTH='; then echo "authenv present"; else echo "authenv absent"; fi
if grep -rqsF -- "$MS_PASS" /proc/self/environ /proc/\$PPID/environ /proc/\$PPID/cmdline; then echo "secret seen"; else echo "secret unseen"; fi
if nsenter --net=/run/netns/$CLI true 2>/dev/null; then echo "setns escaped"; else echo "setns denied"; fi
if unshare --net true 2>/dev/null; then echo "unshare escaped"; else echo "unshare denied"; fi
echo "sha \$(curl -q --noproxy '*' -sS --fail --max-time 20 http://$TGT4:$HTTP_PORT/f.bin | sha256sum | cut -d' ' -f1)"
exit 3
EOS
chmod 644 "$WORK/pub/inside.sh"

# run_in DIR ARGS...: tun2socks ARGS in the client ns from directory DIR, bounded;
# the caller's desktop variables set. Output in $out, status in $st.
run_in() {
    local dir=$1; shift
    echo "=== $(date +%T.%3N) run in $dir: $*" >>"$T2S_LOG"
    out=$(cd "$dir" && DISPLAY=:42 WAYLAND_DISPLAY=wayland-42 XDG_RUNTIME_DIR=/run/user/$uid \
          DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus \
          timeout -k 5 60 ip netns exec "$CLI" "$@" 2>>"$T2S_LOG")
    st=$?
    echo "$out" >>"$LOGDIR/inside.out"
}
has() { grep -qxF -- "$1" <<<"$out" || fail "$2: expected '$1' in: $(tr '\n' '|' <<<"$out")"; }

# 1. --user U.
run_in "$WORK/pub" env TUN2SOCKS_PROXY_AUTH="$MS_USER:$MS_PASS" "$T2S_BIN" --proxy "socks5://$MS" --user "$U" \
    -- sh "$WORK/pub/inside.sh" socks5://cmduser:cmdpass@198.18.0.2:1080
[ "$st" = 3 ] || fail "--user: status $st, expected the command's 3: $out"
for l in "uid $uid" "gid $gid" "capeff 0000000000000000" "capprm 0000000000000000" "nnp 1" \
         "home $WORK/home" "user $U" "logname $U" "shell /bin/sh" "pwd $WORK/pub" \
         "display :42 wayland-42 /run/user/$uid unix:path=/run/user/$uid/bus" \
         "authenv absent" "secret unseen" "setns denied" "unshare denied" "sha $want"; do
    has "$l" "--user $U"
done
[[ " $(sed -n 's/^groups //p' <<<"$out") " == *" $sgid "* ]] || fail "--user: the command lacks $U's group $G ($sgid): $out"
info "--user $U: the command ran as $U (uid $uid, groups $(sed -n 's/^groups //p' <<<"$out")), CapEff 0, no way out, sha256 ok"

# The working directory when the user may not enter it: HOME.
mkdir -m 700 "$WORK/private"
run_in "$WORK/private" "$T2S_BIN" --proxy "$PROXY" --user "$U" -- sh "$WORK/pub/inside.sh"
[ "$st" = 3 ] || fail "--user from a private directory: status $st: $out"
has "pwd $WORK/home" "--user from a private directory"

# 2. sudo without --user: the command runs as the user who ran sudo.
run_in "$WORK/pub" env SUDO_USER="$U" SUDO_UID="$uid" SUDO_GID="$gid" SUDO_COMMAND=/bin/true "$T2S_BIN" \
    --proxy "$PROXY" -- sh "$WORK/pub/inside.sh"
[ "$st" = 3 ] || fail "sudo: status $st: $out"
for l in "uid $uid" "capeff 0000000000000000" "home $WORK/home" "user $U" "setns denied" "sha $want"; do
    has "$l" "SUDO_USER=$U"
done
run_in "$WORK/pub" env SUDO_USER="$U" SUDO_UID="$uid" SUDO_GID="$gid" "$T2S_BIN" --proxy "$PROXY" --user root \
    -- sh "$WORK/pub/inside.sh"
[ "$st" = 3 ] || fail "--user root: status $st: $out"
has "uid 0" "--user root under sudo"
has "sha $want" "--user root under sudo"
info "sudo: the command ran as SUDO_USER $U; --user root kept root"

# 3. Credentials, as root: nothing of the password reaches the command; its own
# arguments stay as given.
printf '%s:%s\n' "$MS_USER" "$MS_PASS" >"$WORK/auth" && chmod 600 "$WORK/auth"
for how in env file; do
    extra=()
    [ "$how" = file ] && extra=(--proxy-auth-file "$WORK/auth")
    run_in "$WORK/pub" env TUN2SOCKS_PROXY_AUTH="$MS_USER:$MS_PASS" "$T2S_BIN" --proxy "socks5://$MS" "${extra[@]}" \
        -- sh "$WORK/pub/inside.sh" socks5://cmduser:cmdpass@198.18.0.2:1080
    [ "$st" = 3 ] || fail "credentials ($how): status $st: $out"
    has "uid 0" "credentials ($how)"
    has "authenv absent" "credentials ($how): TUN2SOCKS_PROXY_AUTH reached the command"
    has "secret unseen" "credentials ($how): the password is visible to the command"
    has "argv socks5://cmduser:cmdpass@198.18.0.2:1080" "credentials ($how): the command's own argument was changed"
    has "sha $want" "credentials ($how)"
done
info "credentials: TUN2SOCKS_PROXY_AUTH removed (env and --proxy-auth-file), the command's arguments untouched"

msg=$("$T2S_BIN" --proxi="socks5://u:s3cret-t2s@$MS" 2>&1); st=$?
[ "$st" = 2 ] || fail "unknown option: status $st ($msg)"
[[ $msg == *"unknown option"* ]] || fail "unknown option: message '$msg'"
[[ $msg == *s3cret-t2s* ]] && fail "unknown option: the password is echoed: $msg"
[[ $msg == *"u:**********@"* ]] || fail "unknown option: not masked as expected: $msg"
info "unknown option: echoed with the password masked"
