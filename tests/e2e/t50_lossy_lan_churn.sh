#!/bin/bash
# SPDX-License-Identifier: MIT
# Short connections from a lossy LAN client behind --share-from (issue 15: lwIP's
# TIME_WAIT is bounded to its newest pcbs). The host drops a random share of the
# lossy clients' TCP packets both ways (nftables numgen random, forward hook, this
# test's namespace only), so SYNs, data, FINs and final ACKs are lost at random;
# every client reuses its own source port for all its connections, so each 4-tuple
# comes back right after the last one closed (the target closes first, as an HTTP
# server does: lwIP ends in TIME_WAIT, the LAN client keeps none). Meanwhile a
# loss-free client churns as fast as it can, so that lwIP's TIME_WAIT pcbs of the
# lossy ones are evicted long before 4 s (a retransmitted FIN then gets a RST, not
# an ACK). Every body is checked by SHA-256; then a loss-free burst on the same
# tuples, tun2socks' descriptors come back, and it logged no error.
# 4 % loss (8 % with --full), 60 s per blocking call: lwIP's
# retransmission timeout is 200-300 ms here (100 ms ticks) and doubles, 1 s before
# the first RTT sample; the LAN client's kernel resends a lost SYN after 1 s, then
# 3 s. shortconn prints how many connections took over 1 s and 3 s (figures only:
# docs/ARCHITECTURE.md, "Retransmission timing").
. "$(dirname "$0")/lib.sh"

cap_setup
wan_default_routes "$CLI"
command -v nft >/dev/null || fail "nft not found (apt-get install nftables)"
[ -e /proc/sys/net/ipv6/conf/all/force_forwarding ] || { CAP_V6=0; info "no per-interface IPv6 forwarding in this kernel: IPv4 only"; }

LAN=t2s$$l
stub_ns_add "$LAN" lan-c 198.18.2.2/24 2001:2:0:4::2/64 "$CLI" lan-h 198.18.2.1/24 2001:2:0:4::1/64
ino=$(ip netns exec "$CLI" stat -L -c %i /proc/self/ns/net) || fail "netns inode"
CLEANUP_PATHS+=("/run/tun2socks/net$ino-tun2socks0")
# 8 % under scripts/test --full (T2S_FULL=1), 4 % at the CI size; T50_LOSS_PCT overrides.
if [ "${T2S_FULL:-0}" = 1 ]; then LOSS=${T50_LOSS_PCT:-8}; else LOSS=${T50_LOSS_PCT:-4}; fi
N=${T50_N:-200}
CONC=16

head -c 20000 /dev/urandom >"$WORK/www/s.bin" || fail "test file"
WANT=$(sha256sum <"$WORK/www/s.bin" | cut -d' ' -f1)

cap_start "$CLI" --proxy "socks5://$SRV_IP4:$DANTE_PORT" --share-from lan-h
fds0=$(t2s_fds)

# Random loss on what the host forwards for the lossy clients (source ports
# 40000-41999), both directions; RSTs toward them are counted.
ip netns exec "$CLI" nft -f - <<NFT || fail "nft: lossy table"
table inet t2s_e2e_lossy {
    counter dropped { }
    counter rsts { }
    chain lossy {
        type filter hook forward priority -300; policy accept;
        iifname "lan-h" tcp sport 40000-41999 numgen random mod 100 < $LOSS counter name dropped drop
        oifname "lan-h" tcp dport 40000-41999 tcp flags & rst == rst counter name rsts
        oifname "lan-h" tcp dport 40000-41999 numgen random mod 100 < $LOSS counter name dropped drop
    }
}
NFT
nft_count() { ip netns exec "$CLI" nft list counter inet t2s_e2e_lossy "$1" | awk '$1 == "packets" { print $2 }'; }

# The loss-free churn in the background (ports the kernel picks, 10000-39999 here,
# so every connection leaves a TIME_WAIT pcb of its own), until the lossy phases are over.
ip netns exec "$LAN" sysctl -qw net.ipv4.ip_local_port_range="10000 39999" || fail "LAN port range"
STOP=$WORK/churn.stop
ip netns exec "$LAN" "$PY" "$E2E_DIR/shortconn.py" --host "$TGT4" --port "$HTTP_PORT" --path /s.bin \
    --sha256 "$WANT" -n 100000 --conc 8 --sport-base 0 --timeout 30 --deadline 240 --until "$STOP" \
    >"$WORK/churn.out" 2>&1 &
CHURN_PID=$!
BG_PIDS+=("$CHURN_PID")

shortconn() { # HOST SPORT_BASE N WHAT
    local out
    out=$(timeout -k 5 260 ip netns exec "$LAN" "$PY" "$E2E_DIR/shortconn.py" --host "$1" --port "$HTTP_PORT" \
        --path /s.bin --sha256 "$WANT" -n "$3" --conc "$CONC" --sport-base "$2" --timeout 60 --deadline 240 2>&1) \
        || fail "$4: $out"
    info "$4: $out"
}

shortconn "$TGT4" 40000 "$N" "IPv4, $LOSS % loss"
[ "$CAP_V6" = 1 ] && shortconn "$TGT6" 41000 "$((N / 2))" "IPv6, $LOSS % loss"
touch "$STOP"
wait_until 60 proc_done "$CHURN_PID" || fail "background churn did not stop"
wait "$CHURN_PID"
rc=$?
forget_pid "$CHURN_PID"
[ "$rc" = 0 ] || fail "background churn (status $rc): $(cat "$WORK/churn.out")"
info "background churn, no loss: $(cat "$WORK/churn.out")"
d=$(nft_count dropped)
[ "${d:-0}" -gt 0 ] || fail "the lossy table dropped nothing"
info "$d TCP packets of the lossy clients dropped, $(nft_count rsts) RSTs sent to them"
t2s_alive || fail "tun2socks died under loss"

# Loss off: the same tuples again, back to back, nothing left over to answer them.
ip netns exec "$CLI" nft delete table inet t2s_e2e_lossy || fail "nft: delete lossy table"
shortconn "$TGT4" 40000 "$((CONC * 20))" "IPv4, no loss, same tuples"
check_no_fd_leak "$fds0"
bad=$(grep -v '^===' "$T2S_LOG" | grep -E 'Z (error|warn) ' | head -n 3)
[ -z "$bad" ] || fail "tun2socks logged: $bad"
t2s_stop TERM
[ "$T2S_STATUS" = 0 ] || fail "exit status $T2S_STATUS after SIGTERM"
