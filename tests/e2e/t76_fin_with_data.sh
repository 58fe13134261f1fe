#!/bin/bash
# SPDX-License-Identifier: MIT
# A server that speaks first and closes at once (badproxy.py answerclose: reply, a
# 6-byte banner and its FIN in one segment): the application reads the banner and EOF on
# each of 10 connections, and tun2socks sends the FIN in the segment that carries the
# banner (finsniff.py on the TUN), not in a segment of its own a loop iteration later.
. "$(dirname "$0")/lib.sh"

BAD_PORT=1090
N=10
topo_up
start_bg badproxy "$SRV" "$PY" "$E2E_DIR/badproxy.py" --bind "$SRV_IP4" --port "$BAD_PORT" --mode answerclose
wait_until 10 listening "$SRV" "$SRV_IP4" "$BAD_PORT" || fail "badproxy did not listen"
t2s_start --proxy "socks5://$SRV_IP4:$BAD_PORT"
FIN_OUT=$WORK/fin.count
start_bg finsniff "$CLI" "$PY" "$E2E_DIR/finsniff.py" --iface "$TUN" --port "$LINE_PORT" --out "$FIN_OUT"
wait_until 10 test -s "$FIN_OUT" || fail "finsniff.py did not start"

in_cli timeout 60 "$PY" - "$TGT4" "$LINE_PORT" "$N" <<'PYEOF' || fail "the banners did not arrive whole"
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    s = socket.create_connection((host, port), timeout=10)
    got = b""
    while True:
        d = s.recv(100)
        if not d:
            break
        got += d
    s.close()
    if got != b"hello\n":
        sys.exit("connection %d got %r" % (i, got))
PYEOF
fins() { read -r data bare <"$FIN_OUT"; [ $((data + bare)) -ge "$N" ]; }
wait_until 10 fins || fail "finsniff saw only $(cat "$FIN_OUT") (data bare) FINs for $N connections"
read -r data bare <"$FIN_OUT"
info "FIN segments from tun2socks: $data with the banner, $bare bare"
[ "$data" = "$N" ] || fail "only $data of $N FINs rode with the banner ($bare bare)"
t2s_alive || fail "tun2socks died"
