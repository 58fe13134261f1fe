# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# PID lists are split on purpose.
# shellcheck disable=SC2086
#
# Helpers shared by the end-to-end harness (tests/e2e/lib.sh) and the benchmark
# (bench/run), both of which build their topology in network namespaces of their own:
# polling with a deadline, process and listener checks, background processes in a
# namespace, and the namespaces' teardown. Sourced; defines functions only.
#
# The caller provides: NS_CREATED (the namespaces this run made), BG_PIDS (the
# background processes it started), and NETNS_LOGDIR (where start_bg writes its logs).

# wait_until TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds or the
# deadline passes. Returns 0 on success, 1 on timeout.
wait_until() {
    local timeout=$1; shift
    local deadline
    deadline=$(awk -v a="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { printf "%.3f", a + t }')
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        awk -v a="$EPOCHREALTIME" -v d="$deadline" 'BEGIN { exit !(a >= d) }' && return 1
        sleep 0.05
    done
}

# num_cmp OP N CMD...: true when CMD prints a number that is OP (-ge, -gt, -eq...) N. For
# wait_until, which runs its command again on each try: a "$(...)" argument would be
# expanded once, before the first.
num_cmp() {
    local op=$1 n=$2 v; shift 2
    v=$("$@" 2>/dev/null)
    [ -n "$v" ] && [ "$v" "$op" "$n" ] 2>/dev/null
}

# proc_done PID: true when PID no longer runs (gone, or a zombie waiting for us).
proc_done() {
    local st
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 0
    [ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# listening NS ADDR PORT: a TCP listener exists on ADDR:PORT in NS.
listening() {
    [ -n "$(ip netns exec "$1" ss -Hltn "src $2 and sport = :$3" 2>/dev/null)" ]
}

# udp_bound NS ADDR PORT: a UDP socket is bound to ADDR:PORT in NS.
udp_bound() {
    [ -n "$(ip netns exec "$1" ss -Hlun "src $2 and sport = :$3" 2>/dev/null)" ]
}

# ns_empty NS: no process runs in NS.
ns_empty() { [ -z "$(ip netns pids "$1" 2>/dev/null)" ]; }

# start_bg NAME NS CMD...: run CMD in namespace NS in the background, output to
# $NETNS_LOGDIR/NAME.log. Sets BG_PID and adds it to BG_PIDS. `ip netns exec` and
# `env` both exec, so the PID is the PID of CMD itself. SIGINT is reset to default
# because bash starts background jobs of a non-interactive shell with SIGINT ignored.
start_bg() {
    local name=$1 ns=$2; shift 2
    ip netns exec "$ns" env --default-signal=INT,QUIT "$@" >>"$NETNS_LOGDIR/$name.log" 2>&1 &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# netns_delete_all TERM_WAIT KILL_WAIT: SIGTERM whatever still runs in each namespace
# of NS_CREATED (by PID: only in namespaces this run made), SIGKILL what is left after
# TERM_WAIT s (then wait up to KILL_WAIT s), and delete the namespaces.
netns_delete_all() {
    local term_wait=$1 kill_wait=$2 ns pids
    for ns in "${NS_CREATED[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
    done
    for ns in "${NS_CREATED[@]}"; do
        if ! wait_until "$term_wait" ns_empty "$ns"; then
            pids=$(ip netns pids "$ns" 2>/dev/null)
            [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
            wait_until "$kill_wait" ns_empty "$ns"
        fi
        ip netns del "$ns" 2>/dev/null
    done
}

# ttfb_stats NS N BODY_FILE WANT_SHA256 URL [CURL_ARGS...]: N GETs of URL with curl in NS,
# one after the other, each body checked against WANT_SHA256 (saved to BODY_FILE);
# prints "MEDIAN P90" of the times to first byte (curl's time_starttransfer: from the
# start, connect and any SOCKS handshake included, to the first byte of the answer) in
# ms. Returns 1, with the failing GET on stderr, if a GET fails or a body differs.
# (t53 and bench/run's setup row.)
ttfb_stats() {
    local ns=$1 n=$2 body=$3 want=$4 url=$5 i t all=
    shift 5
    for ((i = 0; i < n; i++)); do
        t=$(ip netns exec "$ns" curl -q -sS --fail --max-time 10 -o "$body" -w '%{time_starttransfer}' "$@" "$url") ||
            { echo "ttfb_stats: GET $url $* failed" >&2; return 1; }
        [ "$(sha256sum <"$body" | cut -d' ' -f1)" = "$want" ] ||
            { echo "ttfb_stats: GET $url $*: sha256 mismatch" >&2; return 1; }
        all+="$t "
    done
    printf '%s\n' $all | sort -n | awk '{ v[NR] = $1 }
        END { printf "%.1f %.1f\n", 1000 * v[int((NR + 1) / 2)], 1000 * v[int((NR * 9 + 9) / 10)] }'
}
