# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Variables are used by the scenario scripts; PID lists are split on purpose.
# shellcheck disable=SC2034,SC2086,SC2206
#
# End-to-end test harness for tun2socks, sourced by every tests/e2e/tNN_*.sh.
#
# Topology (all of it lives in two network namespaces created per run; nothing
# touches the host's interfaces or routes):
#
#   client ns "t2s$$c"                         server ns "t2s$$s"
#   +------------------------------+           +---------------------------------+
#   | curl/iperf3/python clients   |           | danted   198.18.0.2:1080        |
#   |   | default routes (v4+v6)   |   veth    |          [2001:2:0:1::2]:1080   |
#   |   v                          |           | microsocks 198.18.0.2:1081 auth |
#   | t2s0 (TUN) <- tun2socks -----+-----------+-> targets on a dummy (or lo):   |
#   |   198.18.128.1/32            | .1     .2 |   198.19.0.10, 2001:2:0:2::10   |
#   |   2001:2:0:ff::1/128         | 198.18.0.0/30, 2001:2:0:1::/64            |
#   +------------------------------+           +---------------------------------+
#
# The client ns has no route to the targets except through the TUN, so any
# byte that reaches a target went through tun2socks and the SOCKS server.
#
# Conventions: scenario scripts call `fail "why"` (prints and exits 1) or fall
# off the end (exit 0). Everything started here is torn down by the EXIT trap.
# Logs go to $LOGDIR (tests/e2e/out/<scenario>.<pid>/ unless T2S_E2E_LOGDIR is
# set); bulky data and configs go to $WORK (a mktemp dir under /tmp, removed on
# exit).

set -u -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$E2E_DIR/../.." && pwd)
SCENARIO=$(basename "$0" .sh)

T2S_BIN=${T2S_BIN:-$REPO_ROOT/build/tun2socks/tun2socks}
case $T2S_BIN in /*) ;; *) T2S_BIN=$PWD/$T2S_BIN ;; esac
T2S_NAME=$(basename "$T2S_BIN")

# Resolve the real interpreter once (a pyenv shim costs ~100 ms per start).
PY=${T2S_E2E_PYTHON:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || command -v python3)}

# Never let an inherited proxy setting leak into curl or python.
unset http_proxy https_proxy ftp_proxy all_proxy no_proxy \
      HTTP_PROXY HTTPS_PROXY FTP_PROXY ALL_PROXY NO_PROXY TUN2SOCKS_PROXY_AUTH
# ... nor sudo's, which would make -- COMMAND run as the user who ran sudo.
unset SUDO_USER SUDO_UID SUDO_GID SUDO_COMMAND

# ---------------------------------------------------------------- addresses
CLI=t2s$$c
SRV=t2s$$s
CLI_IP4=198.18.0.1
SRV_IP4=198.18.0.2
CLI_IP6=2001:2:0:1::1
SRV_IP6=2001:2:0:1::2
TGT4=198.19.0.10
TGT6=2001:2:0:2::10
TUN=t2s0
TUN_ADDR4=198.18.128.1/32
TUN_ADDR6=2001:2:0:ff::1/128

DANTE_PORT=1080
MS_PORT=1081            # microsocks with username/password
MS_USER=e2euser
MS_PASS='e2e-S3cret'
HTTP_PORT=8080
ECHO_PORT=7000          # raw echo until EOF
LINE_PORT=7001          # line echo; a line starting with CLOSE makes the server close
HALF_PORT=7002          # read to EOF, then reply digest + body (client half-closes)
REV_PORT=7003           # server sends body + SHUT_WR first, keeps reading
ORDER_PORT=7004         # close orders with a slow reader (echo.py --order)
IPERF_PORT=5201
CLOSED_PORT=9           # nothing listens here

WORK=$(mktemp -d "/tmp/t2s-e2e.$SCENARIO.XXXXXX") || { echo "FAIL: mktemp" >&2; exit 1; }
LOGDIR=${T2S_E2E_LOGDIR:-$E2E_DIR/out/$SCENARIO.$$}
mkdir -p "$LOGDIR" || { echo "FAIL: cannot create $LOGDIR" >&2; exit 1; }

T2S_PID=
T2S_STATUS=
T2S_LOG=$LOGDIR/tun2socks.log
DANTE_PID=
BG_PIDS=()
NS_CREATED=()
CLEANUP_PATHS=()        # files or dirs outside $WORK that a scenario created
CLEANUP_CGROUPS=()      # cgroup directories a scenario created (their processes are ours)
CAP_NSENTER=0           # 1: cap_start enters NS with nsenter --net (the host's mounts stay)
NETNS_LOGDIR=$LOGDIR
# shellcheck source=scripts/lib-netns.sh
. "$REPO_ROOT/scripts/lib-netns.sh"

# ---------------------------------------------------------------- basics
info() { printf '[%s %s] %s\n' "$SCENARIO" "$(date +%T.%3N)" "$*" >&2; }

fail() {
    printf 'FAIL: %s: %s\n' "$SCENARIO" "$*" >&2
    exit 1
}

need_root() {
    [ "$(id -u)" = 0 ] || { echo "e2e: must run as root" >&2; exit 2; }
}

need_bin() {
    [ -x "$T2S_BIN" ] || fail "tun2socks binary not found or not executable: $T2S_BIN (set T2S_BIN)"
}

in_cli() { ip netns exec "$CLI" "$@"; }
# nsenter_net NS CMD...: CMD in NS's network namespace only; `ip netns exec` also mounts a
# sysfs of its own over /sys, which hides the cgroup2 mount under /sys/fs/cgroup.
nsenter_net() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }

now() { printf '%s' "$EPOCHREALTIME"; }

# elapsed START -> seconds since START (float, 3 decimals)
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# wait_until, proc_done, listening, udp_bound, ns_empty, start_bg (logs to $LOGDIR)
# and netns_delete_all: scripts/lib-netns.sh, shared with bench/run.

# stop_pid PID [SIGNAL] [TIMEOUT]: signal PID, wait for it (KILL after
# TIMEOUT, default 5 s), reap it. Sets STOP_STATUS to its exit status.
stop_pid() {
    local pid=$1 sig=${2:-TERM} t=${3:-5}
    STOP_STATUS=
    [ -n "$pid" ] || return 0
    kill "-$sig" "$pid" 2>/dev/null
    if ! wait_until "$t" proc_done "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        wait_until 2 proc_done "$pid"
    fi
    wait "$pid" 2>/dev/null
    STOP_STATUS=$?
    forget_pid "$pid"
}

# forget_pid PID: PID has been reaped, so it may be reused by anyone: drop it
# from the list the teardown signals.
forget_pid() {
    local p keep=()
    for p in "${BG_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- teardown
# Kill whatever still runs inside our namespaces (by PID: only processes in a
# namespace this run created), then delete the namespaces and the work dir.
cleanup() {
    local rc=$? ns pid pids
    trap - EXIT INT TERM HUP
    for pid in $T2S_PID "${BG_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    # One SIGTERM is a clean shutdown; a second one during it kills tun2socks before
    # it is done (and before valgrind's leak check, when T2S_WRAPPER runs it).
    [ -n "$T2S_PID" ] && wait_until 10 proc_done "$T2S_PID"
    # A control socket tun2socks could not remove (it ran as --user) or never did (kill -9).
    local ino
    ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net 2>/dev/null) && rm -f /run/tun2socks/net"$ino"-*.control
    netns_delete_all 3 2
    # A cgroup goes once it is empty: what still runs in ours was started here.
    local cg
    for cg in "${CLEANUP_CGROUPS[@]}"; do
        [ -d "$cg" ] || continue
        for pid in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        wait_until 5 rmdir "$cg" 2>/dev/null || printf 'cleanup: cannot remove cgroup %s\n' "$cg" >&2
    done
    # Reap our children so nothing is left as a zombie of this shell. (Every
    # PID in these lists is an unreaped child, so it cannot have been reused.)
    for pid in $T2S_PID "${BG_PIDS[@]}"; do
        wait_until 2 proc_done "$pid" && wait "$pid" 2>/dev/null
    done
    # A sanitizer report or an lwIP assertion fails the scenario even if the
    # traffic checks passed (ASan+UBSan builds run the same suite).
    local bad='ERROR: (Address|Leak)Sanitizer|runtime error:|lwIP assertion'
    if [ -f "$T2S_LOG" ] && grep -qE "$bad" "$T2S_LOG"; then
        printf 'FAIL: %s: sanitizer or assertion report in %s:\n' "$SCENARIO" "$T2S_LOG" >&2
        grep -m 5 -E "$bad" "$T2S_LOG" >&2
        [ "$rc" = 0 ] && rc=1
    fi
    for p in "${CLEANUP_PATHS[@]}"; do rm -rf "$p"; done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- topology
# Creates the two namespaces and the veth between them; the target addresses
# go on a dummy device in the server ns (on lo if this kernel has no dummy).
topo_up() {
    need_root
    ip netns add "$CLI" || fail "ip netns add $CLI"
    NS_CREATED+=("$CLI")
    ip netns add "$SRV" || fail "ip netns add $SRV"
    NS_CREATED+=("$SRV")

    # Both ends are created directly inside the namespaces.
    ip -n "$CLI" link add veth-c type veth peer name veth-s netns "$SRV" || fail "veth"
    for ns in "$CLI" "$SRV"; do
        ip -n "$ns" link set lo up || fail "lo up in $ns"
    done

    ip -n "$CLI" addr add "$CLI_IP4/30" dev veth-c || fail "addr $CLI_IP4"
    ip -n "$CLI" -6 addr add "$CLI_IP6/64" dev veth-c nodad || fail "addr $CLI_IP6"
    ip -n "$SRV" addr add "$SRV_IP4/30" dev veth-s || fail "addr $SRV_IP4"
    ip -n "$SRV" -6 addr add "$SRV_IP6/64" dev veth-s nodad || fail "addr $SRV_IP6"
    ip -n "$CLI" link set veth-c up || fail "veth-c up"
    ip -n "$SRV" link set veth-s up || fail "veth-s up"

    local tdev=tgt0
    if ! ip -n "$SRV" link add tgt0 type dummy 2>/dev/null; then
        tdev=lo   # no dummy driver in this kernel: lo holds extra addresses equally well
    else
        ip -n "$SRV" link set tgt0 up || fail "tgt0 up"
    fi
    ip -n "$SRV" addr add "$TGT4/32" dev "$tdev" || fail "addr $TGT4"
    ip -n "$SRV" -6 addr add "$TGT6/128" dev "$tdev" nodad || fail "addr $TGT6"

    # Let the churn test recycle client ports without running out.
    ip netns exec "$CLI" sysctl -qw net.ipv4.tcp_tw_reuse=1 2>/dev/null

    wait_until 5 reachable "$CLI" "$SRV_IP4" || fail "veth: $SRV_IP4 unreachable from client ns"
    wait_until 5 reachable "$CLI" "$SRV_IP6" || fail "veth: $SRV_IP6 unreachable from client ns"
    # The targets must NOT be reachable from the client ns without the TUN.
    if in_cli ip route get "$TGT4" >/dev/null 2>&1; then
        fail "topology: client ns has a route to $TGT4 before the TUN exists"
    fi
    info "topology up: $CLI <-> $SRV (targets on $tdev)"
}

# ---------------------------------------------------------------- servers
danted_conf() {
    cat >"$WORK/danted.conf" <<EOF
logoutput: $LOGDIR/danted.log
internal: $SRV_IP4 port = $DANTE_PORT
internal: $SRV_IP6 port = $DANTE_PORT
external: $SRV_IP4
external: $SRV_IP6
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: root
timeout.negotiate: 10
timeout.io: 0
client pass {
    from: 0/0 to: 0/0
    log: error
}
socks pass {
    from: 0/0 to: 0/0
    command: connect udpassociate udpreply
    log: connect error
}
EOF
}

danted_start() {
    [ -f "$WORK/danted.conf" ] || danted_conf
    start_bg danted "$SRV" danted -f "$WORK/danted.conf" -p "$WORK/danted.pid" -N 2
    DANTE_PID=$BG_PID
    wait_until 10 listening "$SRV" "$SRV_IP4" "$DANTE_PORT" \
        || fail "danted did not listen on $SRV_IP4:$DANTE_PORT"
    wait_until 5 listening "$SRV" "[$SRV_IP6]" "$DANTE_PORT" \
        || fail "danted did not listen on [$SRV_IP6]:$DANTE_PORT"
    info "danted up (pid $DANTE_PID)"
}

# danted_b_start: a second danted in the server namespace, on B_PORT (default 1082),
# with the first one's configuration (danted_start first) and its own log,
# $LOGDIR/danted_b.log. For the scenarios with two proxies (t61, t74).
danted_b_start() {
    B_PORT=${B_PORT:-1082}
    sed -e "s/port = $DANTE_PORT/port = $B_PORT/" -e "s|$LOGDIR/danted.log|$LOGDIR/danted_b.log|" \
        "$WORK/danted.conf" >"$WORK/danted_b.conf" || fail "danted B's configuration"
    start_bg danted_b "$SRV" danted -f "$WORK/danted_b.conf" -p "$WORK/danted_b.pid" -N 2
    wait_until 10 listening "$SRV" "$SRV_IP4" "$B_PORT" || fail "danted B did not listen on $SRV_IP4:$B_PORT"
}

# proxy_b_name_start: B_NAME (proxy-b.e2e.test) names the server's veth address, answered
# by a dnsmasq of our own there, which the client namespace's resolv.conf (bound by ip
# netns exec from /etc/netns/$CLI) names alone. For a proxy given by name (t61, t74).
proxy_b_name_start() {
    B_NAME=proxy-b.e2e.test
    start_bg dnsmasq_b "$SRV" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --port 53 \
        --listen-address="$SRV_IP4" --bind-interfaces --address="/$B_NAME/$SRV_IP4" --user=root --group=root \
        --pid-file="$WORK/dnsmasq_b.pid" --log-queries --log-facility=-
    wait_until 10 udp_bound "$SRV" "$SRV_IP4" 53 || fail "dnsmasq did not bind $SRV_IP4:53"
    mkdir -p "/etc/netns/$CLI" || fail "mkdir /etc/netns/$CLI"
    CLEANUP_PATHS+=("/etc/netns/$CLI")
    echo "nameserver $SRV_IP4" >"/etc/netns/$CLI/resolv.conf"
}

# Stops danted and every process it forked (they all live in our server ns and
# are descendants of DANTE_PID), then waits until the port is closed.
danted_stop() {
    local p
    stop_pid "$DANTE_PID" TERM 5
    DANTE_PID=
    # danted's main process normally takes its children with it; kill any
    # straggler (they can only be ours: they live in this run's server ns).
    for p in $(ip netns pids "$SRV" 2>/dev/null); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = danted ] && kill -KILL "$p" 2>/dev/null
    done
    wait_until 5 not listening "$SRV" "$SRV_IP4" "$DANTE_PORT" || fail "danted port still open after stop"
    info "danted stopped"
}
not() { ! "$@"; }

# reachable NS ADDR: a TCP SYN to a closed port on ADDR gets an RST back.
reachable() {
    local out
    out=$(ip netns exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/1" 2>&1)
    [[ $out == *'Connection refused'* ]]
}

microsocks_start() {
    start_bg microsocks "$SRV" microsocks -i "$SRV_IP4" -p "$MS_PORT" -u "$MS_USER" -P "$MS_PASS" -b "$SRV_IP4"
    MS_PID=$BG_PID
    wait_until 10 listening "$SRV" "$SRV_IP4" "$MS_PORT" || fail "microsocks did not listen"
    info "microsocks up (pid $MS_PID)"
}

httpd_start() {
    mkdir -p "$WORK/www"
    start_bg httpd "$SRV" "$PY" "$E2E_DIR/httpd.py" --root "$WORK/www" --port "$HTTP_PORT" \
        --bind "$TGT4" --bind "$TGT6"
    wait_until 10 listening "$SRV" "$TGT4" "$HTTP_PORT" || fail "httpd did not listen on $TGT4"
    wait_until 5 listening "$SRV" "[$TGT6]" "$HTTP_PORT" || fail "httpd did not listen on $TGT6"
}

echo_start() {
    start_bg echo "$SRV" "$PY" "$E2E_DIR/echo.py" --bind "$TGT4" --bind "$TGT6" \
        --echo "$ECHO_PORT" --line "$LINE_PORT" --half "$HALF_PORT" --rev "$REV_PORT" --order "$ORDER_PORT"
    local p
    for p in "$ECHO_PORT" "$LINE_PORT" "$HALF_PORT" "$REV_PORT" "$ORDER_PORT"; do
        wait_until 10 listening "$SRV" "$TGT4" "$p" || fail "echo.py did not listen on $TGT4:$p"
        wait_until 5 listening "$SRV" "[$TGT6]" "$p" || fail "echo.py did not listen on $TGT6:$p"
    done
}

iperf_start() {
    start_bg iperf3 "$SRV" iperf3 -s -B "$TGT4" -p "$IPERF_PORT"
    wait_until 10 listening "$SRV" "$TGT4" "$IPERF_PORT" || fail "iperf3 -s did not listen"
}

# ---------------------------------------------------------------- tun2socks
tun_up() {
    local l
    l=$(ip -n "$CLI" -o link show "$TUN" 2>/dev/null) || return 1
    [[ $l =~ \<([^\>]*,)?UP[,\>] ]] && [[ $l =~ LOWER_UP ]]
}
tun_has_addr() { [[ $(ip -n "$CLI" -o addr show dev "$TUN" 2>/dev/null) == *"inet ${TUN_ADDR4%/*}/"* ]]; }
tun_exists() { ip -n "$CLI" link show "$TUN" >/dev/null 2>&1; }

# t2s_start [ARGS...]: start tun2socks in the client ns. Without ARGS the
# default command line is used; ARGS replace only the --proxy part, i.e. the
# call is: tun2socks ARGS --tun t2s0 --address ... --address6 ... --log-level info
# ($T2S_PROXY default: socks5://198.18.0.2:1080). Waits until the TUN is UP
# with its address, then adds the v4 and v6 default routes through it.
# $T2S_WRAPPER, if set, is a command (split on spaces) that execs the binary,
# e.g. "prlimit --nofile=64:64" or "valgrind ...": T2S_PID is then still the
# PID of the process that runs tun2socks' code.
t2s_start() {
    need_bin
    local args=("$@")
    [ ${#args[@]} -gt 0 ] || args=(--proxy "${T2S_PROXY:-socks5://$SRV_IP4:$DANTE_PORT}")
    T2S_CMD=(${T2S_WRAPPER:-} "$T2S_BIN" "${args[@]}" --tun "$TUN" --address "$TUN_ADDR4" --address6 "$TUN_ADDR6"
             --log-level "${T2S_LOG_LEVEL:-info}" ${T2S_EXTRA:-})
    echo "=== $(date +%T.%3N) start: ${T2S_CMD[*]}" >>"$T2S_LOG"
    ip netns exec "$CLI" env --default-signal=INT,QUIT "${T2S_CMD[@]}" >>"$T2S_LOG" 2>&1 &
    T2S_PID=$!
    if ! wait_until "${T2S_START_TIMEOUT:-10}" tun_up; then
        if proc_done "$T2S_PID"; then
            wait "$T2S_PID"
            T2S_STATUS=$?
            T2S_PID=
            fail "tun2socks exited with status $T2S_STATUS before the TUN came up"
        fi
        fail "TUN $TUN not UP (with carrier) within 10 s: $(ip -n "$CLI" -o link show "$TUN" 2>&1)"
    fi
    wait_until 5 tun_has_addr || fail "tun2socks did not put ${TUN_ADDR4} on $TUN: $(ip -n "$CLI" -o addr show dev "$TUN" 2>&1)"
    ip -n "$CLI" route replace default dev "$TUN" || fail "ip route add default dev $TUN"
    ip -n "$CLI" -6 route replace default dev "$TUN" || fail "ip -6 route add default dev $TUN"
    t2s_alive || fail "tun2socks died right after start"
    info "tun2socks up (pid $T2S_PID): ${args[*]}"
}

# t2s_stop [SIGNAL]: stop tun2socks, require exit within 5 s. Sets T2S_STATUS.
t2s_stop() {
    local sig=${1:-TERM} t0
    [ -n "$T2S_PID" ] || return 0
    t0=$(now)
    kill "-$sig" "$T2S_PID" 2>/dev/null
    if ! wait_until 5 proc_done "$T2S_PID"; then
        kill -KILL "$T2S_PID" 2>/dev/null
        wait "$T2S_PID" 2>/dev/null
        T2S_PID=
        fail "tun2socks did not exit within 5 s of SIG$sig (killed)"
    fi
    wait "$T2S_PID" 2>/dev/null
    T2S_STATUS=$?
    T2S_STOP_TIME=$(elapsed "$t0")
    echo "=== $(date +%T.%3N) stopped by SIG$sig: status $T2S_STATUS after ${T2S_STOP_TIME}s" >>"$T2S_LOG"
    T2S_PID=
}

# t2s_alive: tun2socks still runs.
t2s_alive() { [ -n "$T2S_PID" ] && ! proc_done "$T2S_PID"; }

# t2s_fds: number of open file descriptors of the running tun2socks.
t2s_fds() { local f=(/proc/"$T2S_PID"/fd/*); echo "${#f[@]}"; }
t2s_fds_at_most() { [ "$(t2s_fds)" -le "$1" ]; }

# check_no_fd_leak BASELINE: once the traffic is over, tun2socks must give back
# its per-connection sockets (a few descriptors of slack).
check_no_fd_leak() {
    local base=$1
    wait_until 15 t2s_fds_at_most "$((base + 4))" \
        || fail "tun2socks still holds $(t2s_fds) file descriptors 15 s after the traffic ended (baseline $base): leaked sockets?"
    info "file descriptors back to $(t2s_fds) (baseline $base)"
}

# t2s_procs: PIDs of processes named like the binary inside the client ns.
t2s_procs() {
    local p
    for p in $(ip netns pids "$CLI" 2>/dev/null); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "${T2S_NAME:0:15}" ] && echo "$p"
    done
}

# ---------------------------------------------------------------- clients
# cli_curl ARGS...: curl in the client ns, ignoring every proxy setting so the
# traffic can only leave through the TUN. Bounded by --max-time.
cli_curl() { in_cli curl -q --noproxy '*' -sS --fail --connect-timeout 5 --max-time "${CURL_MAX_TIME:-60}" "$@"; }

# client NS ARGS...: run tests/e2e/client.py in NS with a hard time bound.
client() {
    local ns=$1; shift
    timeout -k 5 "${CLIENT_TIMEOUT:-150}" ip netns exec "$ns" "$PY" "$E2E_DIR/client.py" "$@"
}

# Standard setup for scenarios that run traffic through tun2socks.
setup_default() {
    need_root
    need_bin
    topo_up
    danted_start
    "$@"
    t2s_start
}

# ---------------------------------------------------------------- UDP
# Helpers for the UDP scenarios (t00_udp_harness, t15_udp, t16_udp_lifecycle).
UDP_ECHO_PORT=7100      # udp_echo.py: echo; OTHERPORT/OTHERADDR requests (see the file)
UDP_OTHER_PORT=7199     # udp_echo.py answers OTHERPORT requests from here
UDP_CLOSED_PORT=9       # no UDP listener
TGT4_ALT=198.19.0.11    # udp_echo.py answers OTHERADDR requests from here (server ns lo)
TGT6_ALT=2001:2:0:2::11
DNS4=198.19.0.53        # dnsmasq (server ns lo)
DNS6=2001:2:0:2::53

# danted_conf_udp: danted_conf plus what UDP needs: danted must not connect
# its relay socket to the first destination (udp.connectdst, default yes),
# or replies from any other address or port (full cone) would be dropped; it
# also logs the end of every session ("disconnect"), so a closed association
# shows in danted.log. Call before danted_start.
danted_conf_udp() {
    danted_conf
    # (a global option: it must come before the rules)
    sed -i -e 's/^\( *log: connect\) error$/\1 disconnect error/' \
           -e 's/^client pass {$/udp.connectdst: no\n&/' "$WORK/danted.conf"
}

# danted_udp_sessions: number of UDP associations danted has accepted so far
# (it logs "pass(1): udp/udpassociate [: CLIENT ..." when one starts).
danted_udp_sessions() { danted_count 'udp/udpassociate \[:'; }
# danted_udp_ended: number of UDP associations that have ended (logged as
# "udp/udpassociate ]: ...: <reason>.  Session duration: Ns" with the
# disconnect logging of danted_conf_udp).
danted_udp_ended() { danted_count 'udp/udpassociate \]:'; }
danted_count() {
    local n
    n=$(grep -c "$1" "$LOGDIR/danted.log" 2>/dev/null) || n=0
    echo "${n:-0}"
}

# udp_echo_start: udp_echo.py on the targets (v4 and v6) at $UDP_ECHO_PORT,
# answering OTHERPORT from $UDP_OTHER_PORT and OTHERADDR from $TGT4_ALT /
# $TGT6_ALT, which this adds to the server ns lo.
udp_echo_start() {
    ip -n "$SRV" addr add "$TGT4_ALT/32" dev lo 2>/dev/null || udp_has_addr "$TGT4_ALT" || fail "addr $TGT4_ALT"
    ip -n "$SRV" -6 addr add "$TGT6_ALT/128" dev lo nodad 2>/dev/null || udp_has_addr "$TGT6_ALT" || fail "addr $TGT6_ALT"
    start_bg udp_echo "$SRV" "$PY" -u "$E2E_DIR/udp_echo.py" --bind "$TGT4" --bind "$TGT6" \
        --port "$UDP_ECHO_PORT" --other-port "$UDP_OTHER_PORT" --other-addr "$TGT4_ALT" --other-addr "$TGT6_ALT"
    UDP_ECHO_PID=$BG_PID
    local a
    for a in "$TGT4:$UDP_ECHO_PORT" "[$TGT6]:$UDP_ECHO_PORT" "$TGT4:$UDP_OTHER_PORT" \
             "$TGT4_ALT:$UDP_ECHO_PORT" "[$TGT6_ALT]:$UDP_ECHO_PORT"; do
        wait_until 10 udp_bound "$SRV" "${a%:*}" "${a##*:}" || fail "udp_echo.py did not bind $a"
    done
}
udp_has_addr() { ip -n "$SRV" -o addr show to "$1" | grep -q .; }

# udp_echo_peers [SKIP]: the distinct sender endpoints udp_echo.py has seen,
# one "ADDR PORT" line each, leaving out the first SKIP.
udp_echo_peers() { sed -n 's/^PEER //p' "$LOGDIR/udp_echo.log" 2>/dev/null | tail -n +"$((${1:-0} + 1))"; }
udp_echo_npeers() { udp_echo_peers | wc -l; }

# check_udp_peers [SKIP]: every datagram udp_echo.py received (after its first
# SKIP peers) came from danted.
check_udp_peers() {
    local bad
    bad=$(udp_echo_peers "${1:-0}" | grep -v -e "^$SRV_IP4 " -e "^$SRV_IP6 " | head -3 | tr '\n' ' ')
    [ -z "$bad" ] || fail "udp_echo.py got datagrams from non-proxy peers: $bad"
}

# udp_client NS ARGS...: run tests/e2e/udp_client.py in NS with a hard time bound.
udp_client() {
    local ns=$1; shift
    timeout -k 5 "${CLIENT_TIMEOUT:-150}" ip netns exec "$ns" "$PY" "$E2E_DIR/udp_client.py" "$@"
}

# dnsmasq_start: an authoritative-only dnsmasq on $DNS4 and $DNS6 port 53 in
# the server ns (no resolv.conf, no hosts file, no upstream), answering
# *.e2e.test with $TGT4 (A) and $TGT6 (AAAA); further dnsmasq options (more
# --address=/name/addr) may follow. Returns 1 if dnsmasq is not installed.
dnsmasq_start() {
    command -v dnsmasq >/dev/null || return 1
    ip -n "$SRV" addr add "$DNS4/32" dev lo 2>/dev/null || udp_has_addr "$DNS4" || fail "addr $DNS4"
    ip -n "$SRV" -6 addr add "$DNS6/128" dev lo nodad 2>/dev/null || udp_has_addr "$DNS6" || fail "addr $DNS6"
    start_bg dnsmasq "$SRV" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
        --port 53 --listen-address="$DNS4" --listen-address="$DNS6" --bind-interfaces \
        --address="/e2e.test/$TGT4" --address="/e2e.test/$TGT6" \
        --user=root --group=root --pid-file="$WORK/dnsmasq.pid" --log-queries --log-facility=- "$@"
    DNSMASQ_PID=$BG_PID
    wait_until 10 udp_bound "$SRV" "$DNS4" 53 || fail "dnsmasq did not bind $DNS4:53"
    wait_until 5 udp_bound "$SRV" "[$DNS6]" 53 || fail "dnsmasq did not bind [$DNS6]:53"
    info "dnsmasq up (pid $DNSMASQ_PID)"
}

# t2s_stats_now: makes tun2socks log a fresh "stats:" line (SIGUSR1) and waits for it;
# t2s_statv NAME: the value of NAME= in the last such line; t2s_stat NAME: both
# (e.g. t2s_stat udp_pool_hits).
stats_lines() { grep -c ' stats: ' "$T2S_LOG"; }
stats_lines_gt() { [ "$(stats_lines)" -gt "$1" ]; }
t2s_stats_now() {
    local n0
    n0=$(stats_lines)
    kill -USR1 "$T2S_PID" || fail "SIGUSR1 to tun2socks"
    wait_until 5 stats_lines_gt "$n0" || fail "tun2socks logged no stats line after SIGUSR1"
}
t2s_statv() { grep ' stats: ' "$T2S_LOG" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
t2s_stat() {
    t2s_stats_now
    t2s_statv "$1" | sed 's,/.*,,'
}

# ---------------------------------------------------------------- capture modes
# Helpers for the capture-mode scenarios (t20-t22, t24): tun2socks sets up its own
# routes there, so it is started with cap_start instead of t2s_start.

# cap_setup: the common start of a capture scenario: the two namespaces, danted
# with UDP, the HTTP server and the UDP echo server (DNS and routes are each
# scenario's own choice).
cap_setup() {
    need_root
    need_bin
    topo_up
    danted_conf_udp
    danted_start
    httpd_start
    udp_echo_start
    iperf_start
}

# cap_iperf NS WHAT: iperf3 from NS to the target, upload then download, 1 s each;
# both must move data (the leak counter, checked by the callers, shows that it went
# through the proxy).
cap_iperf() {
    local ns=$1 dir out bytes
    for dir in "" -R; do
        out=$(timeout -k 5 20 ip netns exec "$ns" iperf3 -c "$TGT4" -p "$IPERF_PORT" $dir -t 1 -J \
              --connect-timeout 5000 2>&1) || fail "$2: iperf3 $dir failed: $(printf '%s' "$out" | grep -m1 '"error"')"
        bytes=$(printf '%s' "$out" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["end"]["sum_received"]["bytes"])') \
            || fail "$2: iperf3 $dir: no result"
        [ "$bytes" -gt 0 ] || fail "$2: iperf3 $dir moved nothing"
        info "$2: iperf3 ${dir:-upload}${dir:+ (download)}: $((bytes / 1000000)) MB in 1 s"
    done
}

# stub_ns_add NS IF ADDR4/LEN ADDR6/LEN PEER_NS PEER_IF PEER_ADDR4/LEN PEER_ADDR6/LEN:
# creates namespace NS (removed on exit) joined to PEER_NS by a veth (IF in NS,
# PEER_IF in PEER_NS), addressed both ends, with NS's default routes (v4, v6)
# via the peer; waits until both ends' IPv6 link-local addresses have settled.
stub_ns_add() {
    local ns=$1 nif=$2 n4=$3 n6=$4 peer=$5 pif=$6 p4=$7 p6=$8
    ip netns add "$ns" || fail "ip netns add $ns"
    NS_CREATED+=("$ns")
    ip -n "$ns" link set lo up
    ip -n "$ns" link add "$nif" type veth peer name "$pif" netns "$peer" || fail "veth $nif in $ns"
    ip -n "$ns" addr add "$n4" dev "$nif" && ip -n "$ns" -6 addr add "$n6" dev "$nif" nodad \
        || fail "addresses of $nif in $ns"
    ip -n "$peer" addr add "$p4" dev "$pif" && ip -n "$peer" -6 addr add "$p6" dev "$pif" nodad \
        || fail "addresses of $pif in $peer"
    ip -n "$ns" link set "$nif" up && ip -n "$peer" link set "$pif" up || fail "veth $nif up"
    ip -n "$ns" route add default via "${p4%/*}" && ip -n "$ns" -6 route add default via "${p6%/*}" \
        || fail "default routes of $ns"
    wait_until 10 linklocal_settled "$ns" "$nif" || fail "no settled link-local address on $nif in $ns"
    wait_until 10 linklocal_settled "$peer" "$pif" || fail "no settled link-local address on $pif in $peer"
}

# wan_default_routes NS: default routes (v4, v6) from NS over the veth to the
# server ns, so that anything not captured WOULD reach the targets directly.
# Also waits until the veth's IPv6 link-local address has passed DAD, so that
# its local route does not appear in the middle of a before/after comparison.
wan_default_routes() {
    ip -n "$1" route add default via "$SRV_IP4" || fail "default route via $SRV_IP4 in $1"
    ip -n "$1" -6 route add default via "$SRV_IP6" || fail "default route via $SRV_IP6 in $1"
    wait_until 10 linklocal_settled "$1" veth-c || fail "no settled link-local address on veth-c in $1"
}
linklocal_settled() {
    local a
    a=$(ip -n "$1" -6 addr show dev "$2" scope link 2>/dev/null)
    [[ $a == *inet6* && $a != *tentative* ]] && ip -n "$1" -6 route show table local | grep -q "^local fe80::"
}

# sniff_start [IFACE...]: count packets to the target ranges crossing the
# server's end of the veth (and of the other IFACEs of the server ns; danted
# reaches the targets inside the server ns, so only a packet that bypassed the
# proxy is counted). sniff_count prints the count so far.
SNIFF_OUT=
sniff_start() {
    local i ifs=(--iface veth-s)
    for i in "$@"; do ifs+=(--iface "$i"); done
    SNIFF_OUT=$WORK/sniff.count
    start_bg sniff "$SRV" "$PY" "$E2E_DIR/sniff.py" "${ifs[@]}" --net 198.19.0.0/16 \
        --net 2001:2:0:2::/64 --out "$SNIFF_OUT"
    wait_until 10 test -s "$SNIFF_OUT" || fail "sniff.py did not start"
}
sniff_count() { cat "$SNIFF_OUT"; }

# sniff_selftest NS: the counter must see exactly the two datagrams (v4, v6)
# NS sends straight to the targets' discard port (nothing answers toward the
# targets, so nothing else can be counted late). Run it before capturing.
sniff_selftest() {
    local n0
    n0=$(sniff_count)
    ip netns exec "$1" "$PY" -c "
import socket
for fam, a in ((socket.AF_INET, '$TGT4'), (socket.AF_INET6, '$TGT6')):
    socket.socket(fam, socket.SOCK_DGRAM).sendto(b'probe', (a, 9))
" || fail "sniff self-test: cannot send from $1"
    wait_until 5 num_cmp -ge "$((n0 + 2))" sniff_count || fail "sniff.py did not count 2 direct datagrams from $1"
    [ "$(sniff_count)" = "$((n0 + 2))" ] || fail "sniff.py counted $(($(sniff_count) - n0)) packets for 2 datagrams"
    info "leak counter works: 2 direct datagrams from $1 counted"
}

# routing_snapshot NS: every rule and route of both families in NS.
routing_snapshot() {
    {
        ip -n "$1" -4 rule show
        ip -n "$1" -6 rule show
        ip -n "$1" -4 route show table all
        ip -n "$1" -6 route show table all
    } 2>&1
}

# cap_start NS ARGS...: start tun2socks in NS with ARGS (no default options),
# wait for its "ready" line. Sets T2S_PID.
cap_start() {
    local ns=$1; shift
    need_bin
    local n0
    n0=$(grep -c ' ready: ' "$T2S_LOG" 2>/dev/null) || n0=0
    echo "=== $(date +%T.%3N) start in $ns: $T2S_BIN $*" >>"$T2S_LOG"
    if [ "$CAP_NSENTER" = 1 ]; then
        nsenter --net="/run/netns/$ns" -- env --default-signal=INT,QUIT "$T2S_BIN" "$@" >>"$T2S_LOG" 2>&1 &
    else
        ip netns exec "$ns" env --default-signal=INT,QUIT "$T2S_BIN" "$@" >>"$T2S_LOG" 2>&1 &
    fi
    T2S_PID=$!
    if ! wait_until 10 ready_after "$n0"; then
        t2s_alive || fail "tun2socks exited before it was ready: $(tail -3 "$T2S_LOG")"
        fail "tun2socks not ready within 10 s"
    fi
    info "tun2socks up (pid $T2S_PID): $*"
}
ready_after() { [ "$(grep -c ' ready: ' "$T2S_LOG")" -gt "$1" ]; }

# cap_kill9: SIGKILL tun2socks and reap it (simulates a crash).
cap_kill9() {
    kill -KILL "$T2S_PID" 2>/dev/null
    wait_until 5 proc_done "$T2S_PID" || fail "tun2socks survived SIGKILL"
    wait "$T2S_PID" 2>/dev/null
    echo "=== $(date +%T.%3N) killed with SIGKILL" >>"$T2S_LOG"
    T2S_PID=
}

# cap_traffic NS WHAT: from NS, HTTP GET of $WORK/www/f.bin (sha256 $CAP_WANT)
# over v4 and v6, both seen by the target as coming from danted; UDP echo v4
# and v6 (all datagrams from danted); dig @$DNS4 when $CAP_DNS = 1.
CAP_WANT=
CAP_DNS=0
CAP_V6=1    # 0: IPv4 only
cap_traffic() {
    local ns=$1 what=$2 u h got peer urls=("http://$TGT4:$HTTP_PORT") hosts=("$TGT4")
    [ "$CAP_V6" = 1 ] && urls+=("http://[$TGT6]:$HTTP_PORT") hosts+=("$TGT6")
    for u in "${urls[@]}"; do
        got=$(ip netns exec "$ns" curl -q --noproxy '*' -sS --fail --max-time 30 -g "$u/f.bin" | sha256sum | cut -d' ' -f1)
        [ "$got" = "$CAP_WANT" ] || fail "$what: GET $u/f.bin: sha256 mismatch"
        peer=$(ip netns exec "$ns" curl -q --noproxy '*' -sS --fail --max-time 10 -g "$u/peer") || fail "$what: GET $u/peer"
        [ "$peer" = "$SRV_IP4" ] || [ "$peer" = "$SRV_IP6" ] || fail "$what: $u saw the connection from '$peer', not danted"
    done
    for h in "${hosts[@]}"; do
        udp_client "$ns" echo --host "$h" --port "$UDP_ECHO_PORT" -n 5 --count 3 --size 1200 \
            || fail "$what: UDP echo with $h"
    done
    check_udp_peers
    if [ "$CAP_DNS" = 1 ]; then
        got=$(ip netns exec "$ns" timeout 10 dig +short +time=3 +tries=1 @"$DNS4" www.e2e.test A 2>&1) || fail "$what: dig: $got"
        [ "$got" = "$TGT4" ] || fail "$what: dig answered '$got'"
    fi
    if [ "${CAP_IPERF_DONE:-0}" = 0 ]; then
        cap_iperf "$ns" "$what"
        CAP_IPERF_DONE=1
    fi
    local dns=""
    [ "$CAP_DNS" = 1 ] && dns=", DNS"
    info "$what: HTTP (sha256) and UDP to ${hosts[*]}$dns through the proxy"
}

# cap_no_leak_since N WHAT: the leak counter still shows N.
cap_no_leak_since() {
    [ "$(sniff_count)" = "$1" ] || fail "$2: $(($(sniff_count) - $1)) packets to the targets leaked around the proxy"
}

# ---- the selection scenarios (t70 users, t75 cgroups): one party of the client ns
# runs a command by "$SEL_RUN WHO CMD..." (t70: as_user UID, t75: in_cg CGROUP) and is
# named in messages by "$SEL_NAME WHO"; SEL_WANT is the sha256 of $WORK/www/f.bin.
SEL_RUN=
SEL_NAME=echo
SEL_WANT=

# sel_http WHO HOST PEER WHAT: GET f.bin (sha256) and /peer from HOST as WHO; the server
# must have seen PEER (danted's or the host's own addresses, space-separated).
sel_http() {
    local who=$1 h=$2 peer=$3 url got
    url="http://$h:$HTTP_PORT"; [[ $h == *:* ]] && url="http://[$h]:$HTTP_PORT"
    got=$("$SEL_RUN" "$who" curl -q --noproxy '*' -sS --fail --max-time 20 -g "$url/f.bin" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$SEL_WANT" ] || fail "$4: $("$SEL_NAME" "$who") GET $url/f.bin: sha256 mismatch"
    got=$("$SEL_RUN" "$who" curl -q --noproxy '*' -sS --fail --max-time 10 -g "$url/peer") \
        || fail "$4: $("$SEL_NAME" "$who") GET $url/peer"
    [[ " $peer " == *" $got "* ]] || fail "$4: $("$SEL_NAME" "$who"): $url saw the connection from '$got', not $peer"
}

# sel_udp WHO HOST WHAT: a UDP echo from HOST's echo port as WHO (5 tries).
sel_udp() {
    "$SEL_RUN" "$1" "$PY" -c "
import socket
fam = socket.AF_INET6 if ':' in '$2' else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(5):
    s.sendto(b'selection echo', ('$2', $UDP_ECHO_PORT))
    try:
        if s.recv(100) == b'selection echo':
            raise SystemExit(0)
    except socket.timeout:
        pass
raise SystemExit(1)
" || fail "$3: UDP echo with $2 as $("$SEL_NAME" "$1")"
}

# sel_icmp_unreach 4|6: the client ns's count of ICMP (v4) or ICMPv6 destination
# unreachable messages sent.
sel_icmp_unreach() { ip netns exec "$CLI" cat /proc/net/snmp /proc/net/snmp6 | awk -v k="$1" '
    $1 == "Icmp:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
    $1 == "Icmp:" { for (i = 2; i <= NF; i++) if (n[i] == "OutDestUnreachs") v4 = $i }
    $1 == "Icmp6OutDestUnreachs" { v6 = $2 }
    END { print (k == 4 ? v4 : v6) + 0 }'; }
# sel_udp_counters: the client ns's UDP receive counters, for a failure message.
sel_udp_counters() { ip netns exec "$CLI" cat /proc/net/snmp /proc/net/snmp6 |
    awk '$1 == "Udp:" && $2 ~ /^[0-9]/ { print "Udp InDatagrams", $2, "NoPorts", $3 }
    $1 == "Udp6InDatagrams" || $1 == "Udp6NoPorts" { print $1, $2 }' | tr '\n' ' '; }
sel_timewait_to() { ip netns exec "$CLI" ss -Htan state time-wait "dport = :$ECHO_PORT" | grep -c "$1"; }

# sel_closed_sockets WHO WHAT [leaking]: as WHO, 3 TCP connections per family to the
# echo port closed by the client first (the server's FIN is then ACKed from TIME_WAIT,
# with no socket: as uid 0, in no cgroup) and UDP echoes per family whose socket
# closes before the answer (the kernel answers with ICMP port unreachable, likewise:
# sel_closed_udp). Waits until all were sent (TIME_WAIT entries, ICMP counters), unless
# "leaking": a leaked ACK meets the real server, whose reset ends TIME_WAIT, so nothing to
# wait for.
sel_closed_sockets() {
    local who=$1 t4 t6
    t4=$(sel_timewait_to "$TGT4"); t6=$(sel_timewait_to "$TGT6")
    "$SEL_RUN" "$who" "$PY" -c "
import socket
for fam, a in ((socket.AF_INET, '$TGT4'), (socket.AF_INET6, '$TGT6')):
    for i in range(3):
        s = socket.create_connection((a, $ECHO_PORT), timeout=10)
        s.sendall(b'x' * 100)
        got = b''
        while len(got) < 100:
            b = s.recv(100 - len(got))
            if not b:
                raise SystemExit('echo closed early')
            got += b
        s.close()
" || fail "$2: closed-socket client as $("$SEL_NAME" "$who") failed"
    if [ "${3:-}" = leaking ]; then
        sel_closed_udp "$who" 4 "$TGT4" "$2" once
        sel_closed_udp "$who" 6 "$TGT6" "$2" once
        return 0
    fi
    wait_until 10 num_cmp -ge "$((t4 + 3))" sel_timewait_to "$TGT4" || fail "$2: no TIME_WAIT after the server's FIN (v4)"
    wait_until 10 num_cmp -ge "$((t6 + 3))" sel_timewait_to "$TGT6" || fail "$2: no TIME_WAIT after the server's FIN (v6)"
    sel_closed_udp "$who" 4 "$TGT4" "$2"
    sel_closed_udp "$who" 6 "$TGT6" "$2"
}

# sel_closed_udp WHO 4|6 ADDR WHAT [once]: as WHO, UDP echoes to ADDR whose socket closes
# before the answer, until the kernel has answered two of them with ICMP port unreachable
# (UDP may lose one on the way: it is sent again, at most 6 in all; fewer answered is
# logged, see below); "once": two, no wait.
sel_closed_udp() {
    local who=$1 fam=$2 want sent=0 n
    want=$(($(sel_icmp_unreach "$fam") + 2))
    while :; do
        "$SEL_RUN" "$who" "$PY" -c "
import socket, sys
u = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b'closed before the answer', (sys.argv[1], int(sys.argv[2])))
u.close()
" "$3" "$UDP_ECHO_PORT" || fail "$4: closed UDP socket as $("$SEL_NAME" "$who") failed"
        sent=$((sent + 1))
        if [ "${5:-}" = once ]; then
            [ "$sent" -ge 2 ] && return 0
            continue
        fi
        n=$(sel_icmp_unreach "$fam")
        [ "$n" -ge "$want" ] && return 0
        [ "$sent" -ge 6 ] && break
        wait_until 2 num_cmp -gt "$n" sel_icmp_unreach "$fam"
        [ "$(sel_icmp_unreach "$fam")" -ge "$want" ] && return 0
    done
    # Known, not found yet (issue 15 note): with --cgroup the answers to closed sockets'
    # datagrams sometimes stop coming back for many seconds (twice in ~20 runs). Nothing
    # is lost for an application (its socket is closed) and the caller still counts
    # leaks, but this run then provokes fewer ICMP errors: said, not failed.
    info "$4: the kernel answered fewer than 2 of $sent closed-socket datagrams to $3 with ICMP port unreachable: $(sel_udp_counters)"
}

# sel_selftest_closed WHO WHAT SNAPSHOT [leaking]: with the selection weakened by the
# caller (WHAT says how), WHO's closed sockets must leak at least 6 packets that the
# counter sees; then SIGTERM must restore SNAPSHOT exactly.
sel_selftest_closed() {
    local n0
    n0=$(sniff_count)
    sel_closed_sockets "$1" "self-test" ${4:+"$4"}
    wait_until 5 num_cmp -ge "$((n0 + 6))" sniff_count \
        || fail "self-test: $2: only $(($(sniff_count) - n0)) closed-socket packets were counted"
    info "self-test: $2: $(($(sniff_count) - n0)) closed-socket packets leak; the counter sees them"
    t2s_stop TERM
    [ "$(snapshot)" = "$3" ] || fail "self-test ($2): state differs after SIGTERM: $(diff <(echo "$3") <(snapshot))"
}

# sel_blocked BLOCKED DIRECT WHAT: after a crash with the kill switch, BLOCKED reaches
# neither target (v4, v6) and leaks nothing; DIRECT still reaches $DIRECT4 directly.
sel_blocked() {
    local n0 h u out
    n0=$(sniff_count)
    for h in "$TGT4" "$TGT6"; do
        u="http://$h:$HTTP_PORT/peer"; [[ $h == *:* ]] && u="http://[$h]:$HTTP_PORT/peer"
        out=$("$SEL_RUN" "$1" curl -q --noproxy '*' -sS --fail --max-time 3 -g "$u" 2>&1) \
            && fail "$3: $("$SEL_NAME" "$1") reached $h: $out"
    done
    cap_no_leak_since "$n0" "$3, $("$SEL_NAME" "$1")"
    sel_http "$2" "$DIRECT4" "$CLI_IP4" "$3"
    info "$3: $("$SEL_NAME" "$1") blocked without a leak, $("$SEL_NAME" "$2") still direct"
}

# sel_down_restores WHAT [BIN] SNAPSHOT: `BIN down` (default $T2S_BIN) in the client ns
# succeeds and `snapshot` prints SNAPSHOT again.
sel_down_restores() {
    local out
    out=$(ip netns exec "$CLI" "${2:-$T2S_BIN}" down 2>&1) || fail "$1: tun2socks down failed: $out"
    [ "$(snapshot)" = "$3" ] || fail "$1: state differs after down: $(diff <(echo "$3") <(snapshot))"
}

# sel_upgrade OLD_BIN BLOCKED DIRECT SNAPSHOT SELECTION...: a run of OLD_BIN with the kill
# switch and no selection dies; a start with SELECTION lifts its record; the scenario's
# own `selected WHAT root-direct` holds; after kill -9 BLOCKED is blocked, DIRECT and root
# direct; `down` restores SNAPSHOT; then an OLD_BIN record alone is lifted by `down`.
sel_upgrade() {
    local old=$1 blocked=$2 direct=$3 snap=$4 got new=$T2S_BIN
    shift 4
    T2S_BIN=$old cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN"
    cap_kill9
    cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN" "$@"
    grep -q "lifting what a previous run" "$T2S_LOG" || fail "upgrade: the start did not lift the previous record"
    selected "upgrade" root-direct
    cap_kill9
    sel_blocked "$blocked" "$direct" "upgrade, kill -9"
    got=$(cli_curl "http://$DIRECT4:$HTTP_PORT/peer") && [ "$got" = "$CLI_IP4" ] \
        || fail "upgrade, kill -9: root not direct: '$got'"
    sel_down_restores "upgrade" "$new" "$snap"
    T2S_BIN=$old cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch --tun "$TUN"
    cap_kill9
    sel_down_restores "older record" "$new" "$snap"
}

# cap_blocked NS WHAT: TCP (v4, v6) and UDP from NS to a target fail, and not
# one packet reaches the server ns.
cap_blocked() {
    local ns=$1 n0 out
    n0=$(sniff_count)
    out=$(ip netns exec "$ns" curl -q --noproxy '*' -sS --fail --max-time 3 "http://$TGT4:$HTTP_PORT/peer" 2>&1) \
        && fail "$2: a request to $TGT4 got through: $out"
    out=$(ip netns exec "$ns" curl -q --noproxy '*' -sS --fail --max-time 3 -g "http://[$TGT6]:$HTTP_PORT/peer" 2>&1) \
        && fail "$2: a request to $TGT6 got through: $out"
    ip netns exec "$ns" "$PY" -c "
import socket
for fam, a in ((socket.AF_INET, '$TGT4'), (socket.AF_INET6, '$TGT6')):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.sendto(b'leak?', (a, $UDP_ECHO_PORT))
    except OSError:
        pass
" || fail "$2: UDP probe"
    cap_no_leak_since "$n0" "$2"
}

# ssh_socks_start: a real sshd on $SRV_IP4:$SSHD_PORT and `ssh -N -D` on
# $SRV_IP4:$SOCKS_PORT (the caller sets both ports), with throw-away keys; everything
# sshd reads is in $WORK/ssh. Its privilege separation directory (/run/sshd, compiled
# in) lives on a tmpfs mounted over /run in the mount namespace `ip netns exec` makes
# for it, so nothing changes on the host. Sets SSHD_PID and SSH_PID.
ssh_socks_start() {
    local S=$WORK/ssh
    mkdir -m 700 "$S" || fail "mkdir $S"
    ssh-keygen -q -t ed25519 -N '' -C e2e-host -f "$S/host_key" || fail "ssh-keygen (host key)"
    ssh-keygen -q -t ed25519 -N '' -C e2e-client -f "$S/client_key" || fail "ssh-keygen (client key)"
    cp "$S/client_key.pub" "$S/authorized_keys"
    cat >"$S/sshd_config" <<EOF
ListenAddress $SRV_IP4:$SSHD_PORT
HostKey $S/host_key
PidFile $S/sshd.pid
AuthorizedKeysFile $S/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
PermitTTY no
X11Forwarding no
LogLevel VERBOSE
EOF
    # shellcheck disable=SC2016  # $1 is expanded by the inner sh
    start_bg sshd "$SRV" sh -c 'mount -t tmpfs -o mode=755 t2s-e2e-run /run && mkdir -m 755 /run/sshd &&
        exec /usr/sbin/sshd -D -e -f "$1"' sh "$S/sshd_config"
    SSHD_PID=$BG_PID
    wait_until 10 listening "$SRV" "$SRV_IP4" "$SSHD_PORT" || fail "sshd did not listen on $SRV_IP4:$SSHD_PORT"
    info "sshd up (pid $SSHD_PID)"
    printf '[%s]:%s %s\n' "$SRV_IP4" "$SSHD_PORT" "$(cut -d' ' -f1,2 "$S/host_key.pub")" >"$S/known_hosts"
    start_bg ssh_d "$SRV" ssh -F /dev/null -N -D "$SRV_IP4:$SOCKS_PORT" -p "$SSHD_PORT" -i "$S/client_key" \
        -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$S/known_hosts" \
        -o ExitOnForwardFailure=yes -o ServerAliveInterval=5 root@"$SRV_IP4"
    SSH_PID=$BG_PID
    wait_until 15 listening "$SRV" "$SRV_IP4" "$SOCKS_PORT" \
        || fail "ssh -D did not listen on $SRV_IP4:$SOCKS_PORT: $(tail -3 "$LOGDIR/ssh_d.log" 2>/dev/null)"
    info "ssh -D up (pid $SSH_PID) at $SRV_IP4:$SOCKS_PORT"
}
