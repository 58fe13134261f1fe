#!/bin/bash
# SPDX-License-Identifier: MIT
# --metrics: /metrics parsed by the Prometheus Python client's own parser
# (prometheus_client.parser, Debian's python3-prometheus-client): every counter is a
# counter named *_total with HELP and TYPE, gauges and the histograms are there, and the
# figures move with traffic: a 4 MiB GET by IP (sha256) adds its bytes to
# tun_bytes_out_total, one SOCKS connect and, once closed, one TCP flow duration; a fake-IP
# answer (dig A) and a DNS-over-TCP answer (dig MX, --udp dns-over-tcp, dnsmasq) add one
# each to their histograms. During a slow GET to a fake-IP address, `tun2socks flows` shows
# the name. The listener is on 127.0.0.1 only (--metrics PORT); HEAD, 404, 405 and a
# request that never ends are handled; a bad --metrics is refused at start.
. "$(dirname "$0")/lib.sh"

PROM_PY=/usr/bin/python3
"$PROM_PY" -c 'import prometheus_client.parser' 2>/dev/null || fail "python3-prometheus-client is not installed"
NAME=www.e2e.test
FAKE_DNS=198.19.0.53 # tun2socks answers A/AAAA to port 53 itself; dnsmasq the rest over TCP
PORT=9477

setup_default httpd_start
need_bin
out=$("$T2S_BIN" --proxy socks5://127.0.0.1:1 --metrics localhost:80 2>&1); rc=$?
[ $rc = 2 ] && grep -q "metrics: 'localhost:80' is not \[ADDR:\]PORT" <<<"$out" || fail "bad --metrics: status $rc: $out"
mkdir -p "/etc/netns/$SRV" || fail "mkdir /etc/netns"
CLEANUP_PATHS+=("/etc/netns/$SRV")
printf '%s %s\n' "$TGT4" "$NAME" >"/etc/netns/$SRV/hosts"
danted_stop
danted_start
dnsmasq_start || fail "dnsmasq is not installed"
t2s_stop TERM
T2S_EXTRA="--dns fake-ip --fake-ip-range 198.19.128.0/17 --udp dns-over-tcp --metrics $PORT" t2s_start
grep -q "metrics: http://127.0.0.1:$PORT/metrics" "$T2S_LOG" || fail "the log does not name the metrics address"
in_cli ss -Hltn "sport = :$PORT" | grep -q "127.0.0.1:$PORT" || fail "metrics not listening on 127.0.0.1:$PORT"
in_cli ss -Hltn "sport = :$PORT" | grep -q "0.0.0.0:$PORT" && fail "metrics listening beyond loopback"

scrape() { in_cli curl -q --noproxy '*' -sS --fail --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$WORK/m.$1"; }
# check.py FILE [NAME=VALUE...]: parses with prometheus_client; prints "name value"
# for every sample (name{labels} for labelled ones) and fails on any format error.
cat >"$WORK/check.py" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
names = set()
for fam in text_string_to_metric_families(text):
    assert fam.documentation, f"{fam.name}: no HELP"
    assert fam.name.startswith("tun2socks_"), fam.name
    names.add((fam.name, fam.type))
    for s in fam.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}" if labels else f"{s.name} {s.value}")
# The parser reports counters without their _total suffix: the text must have it.
for line in text.splitlines():
    if line.startswith("# TYPE ") and line.endswith(" counter"):
        assert line.split()[2].endswith("_total"), line
want = {("tun2socks_tun_bytes_out", "counter"), ("tun2socks_tcp_opened", "counter"),
        ("tun2socks_tcp_flows", "gauge"), ("tun2socks_udp_mappings", "gauge"),
        ("tun2socks_udp_pool_ready", "gauge"), ("tun2socks_mem_used_bytes", "gauge"),
        ("tun2socks_process_open_fds", "gauge"), ("tun2socks_process_resident_memory_bytes", "gauge"),
        ("tun2socks_flows", "gauge"),
        ("tun2socks_socks_connect_seconds", "histogram"), ("tun2socks_tcp_flow_duration_seconds", "histogram"),
        ("tun2socks_dns_fake_ip_answer_seconds", "histogram"), ("tun2socks_dns_tcp_answer_seconds", "histogram")}
# Histogram buckets: the bounds ascend from 100 us or 10 ms up to +Inf, counts cumulate.
for fam in text_string_to_metric_families(text):
    if fam.type != "histogram":
        continue
    b = [(float(s.labels["le"]), s.value) for s in fam.samples if s.name.endswith("_bucket")]
    les = [x[0] for x in b]
    assert les == sorted(les) and les[-1] == float("inf") and les[0] in (0.0001, 0.01), (fam.name, les)
    assert all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), (fam.name, b)
missing = want - names
assert not missing, f"missing families: {missing}"
PYEOF
val() { sed -n "s/^$2 //p" "$WORK/p.$1"; }
parse() { "$PROM_PY" "$WORK/check.py" "$WORK/m.$1" >"$WORK/p.$1" || fail "prometheus_client cannot parse /metrics ($1): see $WORK/m.$1"; cp "$WORK/m.$1" "$LOGDIR/metrics.$1"; }
scrape 0 || fail "GET /metrics failed"
parse 0
info "$(wc -l <"$WORK/p.0") samples parse"

# TCP: one GET by IP.
head -c 4M /dev/urandom >"$WORK/www/f.bin"
want=$(sha256sum <"$WORK/www/f.bin" | cut -d' ' -f1)
cli_curl -o "$WORK/dl.bin" "http://$TGT4:$HTTP_PORT/f.bin" || fail "GET failed"
[ "$(sha256sum <"$WORK/dl.bin" | cut -d' ' -f1)" = "$want" ] || fail "GET: sha256 mismatch"
closed() { scrape 1 && parse 1 && [ "$(val 1 tun2socks_tcp_flow_duration_seconds_count)" = 1.0 ]; }
wait_until 10 closed || fail "tcp_flow_duration_seconds_count is not 1 after the GET: $(grep duration "$WORK/p.1" | head -3)"
d=$(awk -v a="$(val 0 tun2socks_tun_bytes_out_total)" -v b="$(val 1 tun2socks_tun_bytes_out_total)" 'BEGIN { print b - a }')
awk -v d="$d" 'BEGIN { exit !(d >= 4194304) }' || fail "tun_bytes_out_total grew by $d, less than the 4 MiB GET"
[ "$(val 1 tun2socks_tcp_opened_total)" = 1.0 ] || fail "tcp_opened_total $(val 1 tun2socks_tcp_opened_total), expected 1"
[ "$(val 1 tun2socks_socks_connect_seconds_count)" = 1.0 ] || fail "socks_connect_seconds_count is not 1"
[ "$(val 1 'tun2socks_socks_connect_seconds_bucket{le="+Inf"}')" = 1.0 ] || fail "socks_connect +Inf bucket is not 1"
info "GET: tun_bytes_out_total +$d, connect $(val 1 tun2socks_socks_connect_seconds_sum) s"

# DNS: a fake-IP answer and one over TCP.
fake=$(in_cli dig +short +time=2 +tries=1 "@$FAKE_DNS" "$NAME" A) || fail "dig A failed"
[[ $fake == 198.19.1[2-9]?.* || $fake == 198.19.2??.* ]] || fail "dig A: '$fake' is not a pool address"
mx=$(in_cli dig +time=3 +tries=1 "@$FAKE_DNS" e2e.test MX 2>&1) || fail "dig MX (over TCP) failed: $mx"
grep -q "Got answer" <<<"$mx" || fail "dig MX: $mx"
scrape 2 || fail "GET /metrics failed"
parse 2
[ "$(val 2 tun2socks_dns_fake_ip_answer_seconds_count)" = 1.0 ] || fail "dns_fake_ip_answer_seconds_count is not 1"
[ "$(val 2 tun2socks_dns_fake_answers_total)" = 1.0 ] || fail "dns_fake_answers_total is not 1"
[ "$(val 2 tun2socks_dns_tcp_answer_seconds_count)" = 1.0 ] || fail "dns_tcp_answer_seconds_count is not 1"
info "DNS: fake $fake in $(val 2 tun2socks_dns_fake_ip_answer_seconds_sum) s, MX over TCP in $(val 2 tun2socks_dns_tcp_answer_seconds_sum) s"

# A slow GET to the fake address (6 s: CI under ASan once saw no flow named over the
# 3 s a 2 MB/s one took): the flow table names the host, the gauge counts it.
head -c 6M /dev/urandom >"$WORK/www/slow.bin"
want=$(sha256sum <"$WORK/www/slow.bin" | cut -d' ' -f1)
start_bg curl "$CLI" curl -q --noproxy '*' -sS --fail --max-time 60 --limit-rate 1M \
    -o "$WORK/slow.bin" "http://$fake:$HTTP_PORT/slow.bin"
CURL_PID=$BG_PID
named() { in_cli "$T2S_BIN" flows --interval 0 | grep -q "$fake:$HTTP_PORT ($NAME) *relaying"; }
wait_until 10 named || fail "flows does not name $NAME: $(in_cli "$T2S_BIN" flows --interval 0 2>&1)"
scrape 3 && parse 3
[ "$(val 3 'tun2socks_flows{proto="tcp",state="relaying"}')" = 1.0 ] || fail "flows{tcp,relaying} is not 1: $(grep '^tun2socks_flows' "$WORK/p.3")"
wait_until 60 proc_done "$CURL_PID" || fail "slow curl did not finish"
wait "$CURL_PID" || fail "slow curl failed"
forget_pid "$CURL_PID"
[ "$(sha256sum <"$WORK/slow.bin" | cut -d' ' -f1)" = "$want" ] || fail "slow GET: sha256 mismatch"

# Other requests.
code() { in_cli curl -q --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
[ "$(code "http://127.0.0.1:$PORT/")" = 404 ] || fail "GET / is not 404"
[ "$(code -X POST "http://127.0.0.1:$PORT/metrics")" = 405 ] || fail "POST /metrics is not 405"
[ "$(code -I "http://127.0.0.1:$PORT/metrics")" = 200 ] || fail "HEAD /metrics is not 200"
# A request that never ends is cut off; scrapes go on meanwhile.
in_cli "$PROM_PY" - "$PORT" >"$LOGDIR/slowloris.log" 2>&1 <<'PYEOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\n")
t0 = time.monotonic()
s.settimeout(20)
print("CUT OFF" if s.recv(1) == b"" else "ANSWERED", f"after {time.monotonic() - t0:.1f} s")
PYEOF
SLOW_PID=$!
BG_PIDS+=("$SLOW_PID")
scrape 4 || fail "no scrape while a slow client waits"
wait_until 15 proc_done "$SLOW_PID" || fail "a request that never ends was not cut off"
wait "$SLOW_PID"; forget_pid "$SLOW_PID"
grep -q "CUT OFF" "$LOGDIR/slowloris.log" || fail "slow client: $(cat "$LOGDIR/slowloris.log")"
t2s_alive || fail "tun2socks died"
info "metrics ok"
