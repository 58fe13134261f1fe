#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS to the proxy: https:// (stunnel4 in front of tinyproxy) and socks5+tls:// (stunnel4
# in front of danted), with a test CA made by openssl in the test's temp dir. Checks
# content (SHA-256), DNS over TCP inside TLS, a refused port as RST; session resumption
# counted in the stats; the wrong CA, a wrong name, an expired certificate and a wrong
# pin each refused at once with a clear log line; a good pin works; start-up errors for
# a missing CA file and for --proxy-pin without TLS.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
command -v tinyproxy >/dev/null || fail "tinyproxy is not installed (scripts/setup-deps installs it)"
command -v stunnel4 >/dev/null || fail "stunnel4 is not installed (scripts/setup-deps installs it)"
command -v openssl >/dev/null || fail "openssl is not installed"
topo_up
httpd_start
echo_start
dnsmasq_start || fail "dnsmasq is not installed"
danted_start

TP_PORT=3128
HTTPS_PORT=8443     # stunnel -> tinyproxy, good certificate
SOCKS_TLS_PORT=1443 # stunnel -> danted, good certificate
WRONG_PORT=8444     # certificate for another address
EXPIRED_PORT=8445   # expired certificate
PKI=$WORK/pki
mkdir -p "$PKI"

# The test CA and the proxy's certificates (EC P-256, short-lived).
ossl() { openssl "$@" >>"$LOGDIR/openssl.log" 2>&1 || fail "openssl $1 failed (see openssl.log)"; }
ossl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=t2s e2e test CA" -keyout "$PKI/ca.key" -out "$PKI/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
# server_cert NAME SAN [DAYS]
server_cert() {
    ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr"
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2" >"$PKI/$1.ext"
    ossl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
        -days "${3:-2}" -extfile "$PKI/$1.ext" -out "$PKI/$1.pem"
}
server_cert good "IP:$SRV_IP4"
server_cert wrong "IP:198.18.0.99,DNS:other.e2e.test"
# Expired: openssl x509 cannot date a certificate in the past, so the expired one is made
# with python3-cryptography, signed by the same CA.
"$PY" - "$PKI" "$SRV_IP4" <<'PYEOF' || fail "cannot make the expired certificate"
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
pki, ip = sys.argv[1], sys.argv[2]
ca_key = serialization.load_pem_private_key(open(pki + "/ca.key", "rb").read(), None)
ca = x509.load_pem_x509_certificate(open(pki + "/ca.pem", "rb").read())
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=3)).not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False)
        .sign(ca_key, hashes.SHA256()))
open(pki + "/expired.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(pki + "/expired.key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PYEOF
pin=$(openssl x509 -in "$PKI/good.pem" -pubkey -noout | openssl pkey -pubin -outform der |
      openssl dgst -sha256 -binary | base64)
other_pin=$(openssl x509 -in "$PKI/wrong.pem" -pubkey -noout | openssl pkey -pubin -outform der |
            openssl dgst -sha256 -binary | base64)

{
    printf 'Port %s\nListen %s\nTimeout 60\nLogLevel Info\nMaxClients 200\n' "$TP_PORT" "$SRV_IP4"
} >"$WORK/tinyproxy.conf"
start_bg tinyproxy "$SRV" tinyproxy -d -c "$WORK/tinyproxy.conf"
wait_until 10 listening "$SRV" "$SRV_IP4" "$TP_PORT" || fail "tinyproxy did not listen"

cat >"$WORK/stunnel.conf" <<EOF2
foreground = yes
pid =
output = $LOGDIR/stunnel.log
debug = info
[https]
accept = $SRV_IP4:$HTTPS_PORT
connect = $SRV_IP4:$TP_PORT
cert = $PKI/good.pem
key = $PKI/good.key
[socks5-tls]
accept = $SRV_IP4:$SOCKS_TLS_PORT
connect = $SRV_IP4:$DANTE_PORT
cert = $PKI/good.pem
key = $PKI/good.key
[wrong-name]
accept = $SRV_IP4:$WRONG_PORT
connect = $SRV_IP4:$TP_PORT
cert = $PKI/wrong.pem
key = $PKI/wrong.key
[expired]
accept = $SRV_IP4:$EXPIRED_PORT
connect = $SRV_IP4:$TP_PORT
cert = $PKI/expired.pem
key = $PKI/expired.key
EOF2
start_bg stunnel "$SRV" stunnel4 "$WORK/stunnel.conf"
for p in "$HTTPS_PORT" "$SOCKS_TLS_PORT" "$WRONG_PORT" "$EXPIRED_PORT"; do
    wait_until 10 listening "$SRV" "$SRV_IP4" "$p" || fail "stunnel did not listen on $SRV_IP4:$p"
done
info "stunnel up: https :$HTTPS_PORT, socks5+tls :$SOCKS_TLS_PORT, wrong name :$WRONG_PORT, expired :$EXPIRED_PORT"

head -c $((8 << 20)) /dev/urandom >"$WORK/www/blob"
want=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)
download_ok() {
    local what=$1 url=$2 got
    got=$(cli_curl "$url" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || fail "$what: SHA-256 of $url is $got, want $want"
}
log_mark() { mark=$(wc -l <"$T2S_LOG"); }
log_since() { tail -n +"$((mark + 1))" "$T2S_LOG"; }
logged() { log_since | grep -qF -- "$1"; }
# refused_with TEXT: a connection fails at once and the log says TEXT.
refused_with() {
    client "$CLI" probe --host "$TGT4" --port "$LINE_PORT" --expect fail --max 3 || fail "$1: no prompt failure"
    wait_until 5 logged "$2" || fail "$1: no '$2' line in the log"
    info "$1: refused: $(log_since | grep -F -- "$2" | head -1 | cut -c 1-200)"
}

# 1. https://: content, DNS over TCP, resumption.
t2s_start --proxy "https://$SRV_IP4:$HTTPS_PORT" --proxy-ca "$PKI/ca.pem"
for i in 1 2 3; do download_ok "https:// #$i" "http://$TGT4:$HTTP_PORT/blob"; done
download_ok "https:// IPv6 target" "http://[$TGT6]:$HTTP_PORT/blob"
a=$(in_cli dig +short +time=3 +tries=1 "@$DNS4" www.e2e.test A) || fail "dig through https://"
[ "$a" = "$TGT4" ] || fail "dig through https://: got '$a', want $TGT4"
client "$CLI" refused --host "$TGT4" --port "$CLOSED_PORT" --max 3 || fail "https://: refused port not RST at once"
t2s_stats_now
hs=$(t2s_statv tls_handshakes) res=$(t2s_statv tls_resumed) tf=$(t2s_statv tls_failed)
info "https://: 8 MiB x4 intact, DNS ok; tls_handshakes=$hs tls_resumed=$res tls_failed=$tf"
[ "${hs:-0}" -ge 6 ] || fail "https://: only ${hs:-0} TLS handshakes counted"
[ "${res:-0}" -ge 1 ] && [ "$res" -lt "$hs" ] || fail "https://: resumption not counted (tls_resumed=${res:-none} of $hs)"
[ "${tf:-1}" = 0 ] || fail "https://: tls_failed=$tf"
t2s_stop
[ "$T2S_STATUS" = 0 ] || fail "tun2socks exit status $T2S_STATUS"

# 2. socks5+tls://: content both ways, a server-first stream, RST for a refused port; a good pin.
t2s_start --proxy "socks5+tls://$SRV_IP4:$SOCKS_TLS_PORT" --proxy-ca "$PKI/ca.pem" --proxy-pin "sha256:$pin"
download_ok "socks5+tls://" "http://$TGT4:$HTTP_PORT/blob"
client "$CLI" revclose --host "$TGT4" --port "$REV_PORT" --send 16384 --body $((1 << 20)) \
    || fail "socks5+tls://: server-first stream"
# Our EOF is close_notify, which stunnel turns into a FIN to danted; the reply comes after
# it. Small: stunnel 5.68 drops what it has not read yet from danted once that socket is
# closed both ways (POLLHUP), which a slow reader (ASan) makes likely for 1 MiB (587 KiB
# arrived, exactly what stunnel's log says it sent).
client "$CLI" halfclose --host "$TGT4" --port "$HALF_PORT" --send $((1 << 20)) --body 16384 \
    || fail "socks5+tls://: half-close through close_notify"
client "$CLI" refused --host "$TGT4" --port "$CLOSED_PORT" --max 3 || fail "socks5+tls://: refused port not RST at once"
a=$(in_cli dig +short +time=3 +tries=1 "@$DNS4" www.e2e.test A) || fail "dig through socks5+tls://"
[ "$a" = "$TGT4" ] || fail "dig through socks5+tls://: got '$a'"
t2s_stop
info "socks5+tls:// with a good pin: content, server-first, half-close, refused port, DNS"

# 3. Each wrong certificate refused at once, with its reason.
log_mark
t2s_start --proxy "https://$SRV_IP4:$HTTPS_PORT"
refused_with "system store only" "certificate verify failed: unable to get local issuer certificate"
t2s_stop
log_mark
t2s_start --proxy "https://$SRV_IP4:$WRONG_PORT" --proxy-ca "$PKI/ca.pem"
refused_with "wrong name" "certificate verify failed: IP address mismatch"
t2s_stop
log_mark
t2s_start --proxy "https://$SRV_IP4:$EXPIRED_PORT" --proxy-ca "$PKI/ca.pem"
refused_with "expired" "certificate verify failed: certificate has expired"
t2s_stop
log_mark
t2s_start --proxy "socks5+tls://$SRV_IP4:$SOCKS_TLS_PORT" --proxy-ca "$PKI/ca.pem" --proxy-pin "sha256:$other_pin"
refused_with "wrong pin" "does not match --proxy-pin (it is sha256:$pin)"
t2s_stop
log_mark
# danted closes at the ClientHello's first byte (not SOCKS version 5).
t2s_start --proxy "https://$SRV_IP4:$DANTE_PORT" --proxy-ca "$PKI/ca.pem"
refused_with "not a TLS server" "TLS: the proxy closed the connection during the TLS handshake"
t2s_stop

# 4. tun2socks check through TLS: verified, CONNECT and DNS over TCP inside TLS; the system
#    store only fails at "tls".
out=$(in_cli timeout 60 "$T2S_BIN" check --proxy "socks5+tls://$SRV_IP4:$SOCKS_TLS_PORT" --proxy-ca "$PKI/ca.pem" \
      --proxy-pin "sha256:$pin" --check-target "$TGT4:$HTTP_PORT" --dns-server "$DNS4" 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -Eq '^ok +tls: .*matches --proxy-pin' <<<"$out" && grep -Eq '^ok +dns-tcp: ' <<<"$out" ||
    fail "check through socks5+tls://: exit $rc: $out"
out=$(in_cli timeout 60 "$T2S_BIN" check --proxy "https://$SRV_IP4:$HTTPS_PORT" --check-target "$TGT4:$HTTP_PORT" 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -Eq '^FAIL +tls: TLS: certificate verify failed: unable to get local issuer' <<<"$out" ||
    fail "check, https:// with the system store only: exit $rc: $out"
info "check: TLS verified and pinned, DNS over TCP inside TLS; an unknown CA fails at tls"

# 5. Start-up errors.
out=$(in_cli timeout 10 "$T2S_BIN" --proxy "https://$SRV_IP4:$HTTPS_PORT" --proxy-ca "$WORK/nonexistent.pem" --tun t2sx0 2>&1)
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "missing CA file: exit status $rc"
[[ $out == *"cannot load CA certificates from $WORK/nonexistent.pem"* ]] || fail "missing CA file: unclear message: $out"
out=$(in_cli timeout 10 "$T2S_BIN" --proxy "socks5://$SRV_IP4:$DANTE_PORT" --proxy-pin "sha256:$pin" --tun t2sx0 2>&1)
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "--proxy-pin without TLS: exit status $rc"
[[ $out == *"need a TLS proxy"* ]] || fail "--proxy-pin without TLS: unclear message: $out"
out=$(in_cli timeout 10 "$T2S_BIN" --proxy "socks5+tls://$SRV_IP4:$SOCKS_TLS_PORT" --udp associate --tun t2sx0 2>&1)
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "--udp associate with socks5+tls://: exit status $rc"
[[ $out == *"never inside TLS"* ]] || fail "--udp associate with socks5+tls://: unclear message: $out"
info "start-up errors: clear"
