#!/bin/bash
# SPDX-License-Identifier: MIT
# Every example in README.md and in `tun2socks --help` works as written (issue 9,
# item 6). The examples are the lines of README.md's ```sh blocks that run tun2socks
# (`tun2socks ...`, `sudo tun2socks ...`, `sudo build/tun2socks/tun2socks ...`) and the
# lines of --help's "Examples" section that start with `  sudo tun2socks`/`  tun2socks`.
# Each is run in the client namespace (the "host", with default routes over its WAN
# veth) with the test's own values substituted: any socks5:// URL -> danted,
# https://example.org/ -> a 1 MiB file on the target, 203.0.113.0/24 (the routed
# network of the examples) -> the targets' network, tun0 -> the test's TUN. Then:
#   -- COMMAND      run in the foreground: its output must have the file's SHA-256;
#   --auto-route    started: curl from the host gets the file (SHA-256) and the target
#                   sees danted's address; SIGTERM restores rules and routes exactly;
#   down            after a --auto-route --kill-switch run killed with SIGKILL: the host
#                   is blocked, `down` restores rules and routes exactly;
#   no capture mode the example must say where to route (an `ip route add` line right
#                   after it); with that route, curl gets the file through danted.
# A line marked `# template: WHY` (docker, wlan0, a desktop) is skipped and listed.
# Anything else fails the test: an example that is neither run nor marked.
# First, the address clash the old Build example had: with --dns fake-ip and the default
# pool, which holds the proxy's address here, names never get the proxy's or the TUN's.
. "$(dirname "$0")/lib.sh"

cap_setup
head -c 1048576 /dev/urandom >"$WORK/www/f.bin" || fail "test file"
WANT=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)
PROXY=socks5://$SRV_IP4:$DANTE_PORT
URL=http://$TGT4:$HTTP_PORT/f.bin
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
for t in "$TUN" tun2socks0; do
    CLEANUP_PATHS+=("/run/tun2socks/net$ino-$t")
done

# ---------------------------------------------------------------- the fake-IP pool
# The default pool (198.18.0.0/15) holds this test's own addresses: the proxy is
# 198.18.0.2. With the TUN at 198.18.0.4, names must get .1, .3, .5, .6, .7: never the
# proxy's address nor the TUN's.
fake_a() {
    in_cli "$PY" - "$1" <<'EOP'
import random, socket, struct, sys
name = sys.argv[1]
qid = random.randrange(65536)
q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(q, ("198.19.0.53", 53))
r = s.recv(4096)
assert struct.unpack("!H", r[:2])[0] == qid and struct.unpack("!H", r[6:8])[0] >= 1, "no answer"
print(socket.inet_ntoa(r[-4:]))
EOP
}
TUN_ADDR4=198.18.0.4/32 T2S_EXTRA="--dns fake-ip" t2s_start
got=()
for n in 1 2 3 4 5; do
    got+=("$(fake_a "name$n.example")") || fail "fake-ip: no answer for name$n.example"
done
t2s_stop TERM
[ "${got[*]}" = "198.18.0.1 198.18.0.3 198.18.0.5 198.18.0.6 198.18.0.7" ] \
    || fail "fake-ip pool handed out ${got[*]}: the proxy is 198.18.0.2 and the TUN 198.18.0.4"
info "fake-ip pool: ${got[*]} (skips the proxy's 198.18.0.2 and the TUN's 198.18.0.4)"
wan_default_routes "$CLI"
BEFORE=$(routing_snapshot "$CLI")

# ---------------------------------------------------------------- extraction
# examples: "SOURCE<TAB>EXAMPLE<TAB>ROUTE" lines (ROUTE: the `ip route add` line that
# follows a no-capture example, if any).
extract_readme() {
    awk '
        /^```/ { if (inblock) { inblock = 0 } else if ($0 ~ /^```sh[[:space:]]*$/) { inblock = 1 }; next }
        !inblock { next }
        {
            line = $0; sub(/^[[:space:]]+/, "", line)
            cmd = line; sub(/^sudo[[:space:]]+/, "", cmd)
            split(cmd, w, /[[:space:]]+/)
            if (w[1] == "tun2socks" || w[1] ~ /\/tun2socks$/) {
                if (pending != "") print pending "\t"
                pending = "README.md:" NR "\t" line
            } else if (pending != "" && cmd ~ /^ip route add /) {
                sub(/[[:space:]]*#.*$/, "", line)
                print pending "\t" line; pending = ""
            } else if (pending != "") { print pending "\t"; pending = "" }
        }
        END { if (pending != "") print pending "\t" }' "$REPO_ROOT/README.md"
}
extract_help() {
    "$T2S_BIN" --help | awk '
        /^Examples/ { inex = 1; next }
        inex && /^[^ ]/ { inex = 0 }
        !inex { next }
        /^  (sudo )?tun2socks / { if (pending != "") print pending "\t"; line = $0; sub(/^ +/, "", line)
                                  pending = "--help:" NR "\t" line; next }
        pending != "" && /^ +(sudo )?ip route add / { line = $0; sub(/^ +/, "", line); print pending "\t" line
                                                     pending = ""; next }
        END { if (pending != "") print pending "\t" }'
}
EXAMPLES=$WORK/examples
{ extract_readme; extract_help; } >"$EXAMPLES"
n_readme=$(grep -c '^README.md:' "$EXAMPLES")
n_help=$(grep -c '^--help:' "$EXAMPLES")
[ "$n_readme" -ge 5 ] || fail "found only $n_readme tun2socks examples in README.md: is the extraction broken?"
info "examples: $n_readme in README.md, $n_help in --help"

# substitute TEXT: the example with the test's own values, sudo and comments removed.
substitute() {
    local s=$1
    s=${s%%#*}
    s=$(printf '%s' "$s" | sed -E -e 's/[[:space:]]+$//' -e 's/^sudo[[:space:]]+//' \
        -e "s,^[^[:space:]]*tun2socks([[:space:]]|$),$T2S_BIN\\1," \
        -e "s,socks5://[^[:space:]]+,$PROXY,g" -e "s,https://example\\.org/,$URL,g" \
        -e "s,203\\.0\\.113\\.0/24,${TGT4%.*}.0/24,g" -e "s,(^|[[:space:]])tun0([[:space:]]|$),\\1$TUN\\2,g")
    printf '%s' "$s"
}

# ---------------------------------------------------------------- checks
# fetch_checked WHAT: curl from the host gets the file and the target saw danted.
fetch_checked() {
    local got peer
    got=$(in_cli curl -q --noproxy '*' -sS --fail --max-time 30 "$URL" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$WANT" ] || fail "$1: GET $URL: sha256 mismatch"
    peer=$(in_cli curl -q --noproxy '*' -sS --fail --max-time 10 "http://$TGT4:$HTTP_PORT/peer") || fail "$1: GET /peer"
    [ "$peer" = "$SRV_IP4" ] || [ "$peer" = "$SRV_IP6" ] || fail "$1: the target saw '$peer', not danted: not captured"
}
restored() {
    local after
    after=$(routing_snapshot "$CLI")
    [ "$BEFORE" = "$after" ] || fail "$1: rules/routes differ afterwards: $(diff <(echo "$BEFORE") <(echo "$after") | head -8)"
}
stop_checked() {
    t2s_stop TERM
    [ "$T2S_STATUS" = 0 ] || fail "$1: exit status $T2S_STATUS after SIGTERM"
}

run_command_example() {
    local what=$1; shift
    local out=$WORK/cmd.out st got
    echo "=== $(date +%T.%3N) run: $*" >>"$T2S_LOG"
    timeout -k 5 60 ip netns exec "$CLI" "$@" >"$out" 2>>"$T2S_LOG"
    st=$?
    [ "$st" = 0 ] || fail "$what: exit status $st: $(tail -3 "$T2S_LOG")"
    got=$(sha256sum <"$out" | cut -d' ' -f1)
    [ "$got" = "$WANT" ] || fail "$what: the command's output ($(wc -c <"$out") bytes) is not the file"
    restored "$what"
}

run_auto_route_example() {
    local what=$1; shift
    cap_start "$CLI" "${@:2}"
    fetch_checked "$what"
    stop_checked "$what"
    restored "$what"
}

blocked() {
    ! in_cli curl -q --noproxy '*' -sS --fail --max-time 3 "http://$TGT4:$HTTP_PORT/peer" >/dev/null 2>&1
}
run_down_example() {
    local what=$1; shift
    local st
    cap_start "$CLI" --proxy "$PROXY" --auto-route --kill-switch
    fetch_checked "$what (the run before the crash)"
    cap_kill9
    blocked || fail "$what: traffic flows after kill -9 of a --kill-switch run (nothing for down to do)"
    echo "=== $(date +%T.%3N) run: $*" >>"$T2S_LOG"
    timeout -k 5 30 ip netns exec "$CLI" "$@" >>"$T2S_LOG" 2>&1
    st=$?
    [ "$st" = 0 ] || fail "$what: exit status $st"
    restored "$what"
    peer=$(in_cli curl -q --noproxy '*' -sS --fail --max-time 10 "http://$TGT4:$HTTP_PORT/peer") \
        || fail "$what: no direct traffic after down"
    [ "$peer" = "$CLI_IP4" ] || fail "$what: after down the target saw '$peer'"
}

run_routed_example() {
    local what=$1 route=$2; shift 2
    local r
    [ -n "$route" ] || fail "$what: captures nothing by itself and says nowhere where to route traffic (an 'ip route add' line after it)"
    cap_start "$CLI" "${@:2}"
    read -ra r <<<"$(substitute "$route")"
    [ "${r[0]}" = ip ] && [ "${r[1]}" = route ] && [ "${r[2]}" = add ] || fail "$what: odd route line: $route"
    in_cli "${r[@]}" || fail "$what: $route"
    fetch_checked "$what"
    stop_checked "$what"
    restored "$what"
}

# ---------------------------------------------------------------- run them
ran=0
templates=()
while IFS=$'\t' read -r src example route; do
    what="$src: $example"
    if [[ $example == *"# template:"* ]]; then
        templates+=("$src (${example##*# template: })")
        info "template, skipped: $what"
        continue
    fi
    cmd=$(substitute "$example")
    [[ $cmd == *[\'\"\$\`\;\|\&\<\>]* ]] && fail "$what: not a plain command line (quotes, \$, ; | & < >): mark it '# template: WHY'"
    read -ra argv <<<"$cmd"
    [ "${argv[0]}" = "$T2S_BIN" ] || fail "$what: does not run tun2socks after substitution: $cmd"
    info "running $what"
    info "    as: $cmd${route:+  +  $(substitute "$route")}"
    case " $cmd " in
        *" down "*) run_down_example "$what" "${argv[@]}" ;;
        *" -- "*) run_command_example "$what" "${argv[@]}" ;;
        *" --netns "* | *" --share-from "*) fail "$what: cannot run in this test: mark it '# template: WHY'" ;;
        *" --auto-route "*) run_auto_route_example "$what" "${argv[@]}" ;;
        *) run_routed_example "$what" "$route" "${argv[@]}" ;;
    esac
    info "ok: $what"
    ran=$((ran + 1))
done <"$EXAMPLES"

info "$ran examples run and checked; ${#templates[@]} templates skipped: ${templates[*]}"
[ "$n_help" -ge 3 ] || fail "found only $n_help examples in --help (an Examples section is expected)"
[ "$((ran + ${#templates[@]}))" = "$((n_readme + n_help))" ] || fail "some examples were neither run nor skipped"
