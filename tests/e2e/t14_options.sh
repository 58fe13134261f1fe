#!/bin/bash
# SPDX-License-Identifier: MIT
# Options that change how tun2socks is embedded or limited: a TUN descriptor handed
# over by another process (--tun-fd), a proxy given by host name, --idle-timeout and
# --max-flows.
. "$(dirname "$0")/lib.sh"

setup_default echo_start

# 1. --max-flows: connections beyond the cap are refused (RST); capacity comes back (t30: more).
t2s_stop TERM
T2S_EXTRA="--max-flows 3" t2s_start
client "$CLI" maxflows --host "$TGT4" --port "$LINE_PORT" -n 3 || fail "--max-flows 3"
grep -q "max-flows" "$T2S_LOG" || fail "no log line about the connection cap"

# 2. --idle-timeout: an idle connection is reset after about that long.
t2s_stop TERM
T2S_EXTRA="--idle-timeout 1" t2s_start
client "$CLI" idlereset --host "$TGT4" --port "$LINE_PORT" --min 0.5 --max 3.5 || fail "--idle-timeout 1"
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 5 || fail "new connection after the idle reset"

# 3. The proxy given by name, resolved at start (names for the client ns only).
t2s_stop TERM
mkdir -p "/etc/netns/$CLI" || fail "mkdir /etc/netns/$CLI"
CLEANUP_PATHS+=("/etc/netns/$CLI")
printf '%s proxy.e2e.test\n' "$SRV_IP4" >"/etc/netns/$CLI/hosts"
t2s_start --proxy "socks5://proxy.e2e.test:$DANTE_PORT"
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 5 || fail "proxy given by host name"
t2s_stop TERM

# 4. --tun-fd: another process opens the TUN and hands the descriptor over.
wrapper=$WORK/t2s-tunfd
printf '#!/bin/sh\nexec "%s" "%s" "%s" "$@"\n' "$PY" "$E2E_DIR/tunfd.py" "$T2S_BIN" >"$wrapper"
chmod +x "$wrapper"
T2S_BIN=$wrapper t2s_start
client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --max 5 || fail "traffic over --tun-fd"
client "$CLI" concurrent --host "$TGT4" --port "$ECHO_PORT" -n 20 --size 262144 --timeout 30 \
    || fail "bulk traffic over --tun-fd"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS with --tun-fd"

# 5. --no-offload: plain TUN packets (no virtio-net header, no TSO) carry bulk data too.
T2S_EXTRA="--no-offload" t2s_start
client "$CLI" concurrent --host "$TGT4" --port "$ECHO_PORT" -n 8 --size 4194304 --timeout 60 \
    || fail "bulk traffic with --no-offload"
client "$CLI" halfclose --host "$TGT4" --port "$HALF_PORT" --timeout 60 || fail "half-close with --no-offload"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS with --no-offload"
