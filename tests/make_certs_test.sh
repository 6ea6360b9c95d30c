#!/usr/bin/env bash
# tools/make-certs makes a CA, a hub certificate valid for its names and
# client certificates, all verifying against the CA; it never overwrites.
#   make_certs_test.sh TOOLS_DIR
set -uo pipefail
tools=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
ok() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

out=$("$tools/make-certs" "$dir/tls" --hub-name localhost --hub-name 127.0.0.1 --client node-1 2>&1) \
  && ok "make-certs runs" || { fail "make-certs failed: $out"; echo "$failures failed"; exit 1; }
for f in ca.crt ca.key hub.crt hub.key node-1.crt node-1.key; do
  [ -s "$dir/tls/$f" ] && ok "$f written" || fail "$f missing"
done
[ "$(stat -c %a "$dir/tls/hub.key")" = 600 ] && ok "keys are private" || fail "hub.key mode"
openssl verify -CAfile "$dir/tls/ca.crt" "$dir/tls/hub.crt" >/dev/null 2>&1 \
  && ok "hub certificate verifies" || fail "hub certificate does not verify"
openssl verify -CAfile "$dir/tls/ca.crt" -purpose sslclient "$dir/tls/node-1.crt" >/dev/null 2>&1 \
  && ok "client certificate verifies for client auth" || fail "client certificate"
openssl verify -CAfile "$dir/tls/ca.crt" -purpose sslserver "$dir/tls/node-1.crt" >/dev/null 2>&1 \
  && fail "a client certificate must not serve as a server certificate" || ok "client cert is not a server cert"
sans=$(openssl x509 -in "$dir/tls/hub.crt" -noout -ext subjectAltName 2>/dev/null)
grep -q "DNS:localhost" <<<"$sans" && grep -q "IP Address:127.0.0.1" <<<"$sans" \
  && ok "hub certificate names localhost and 127.0.0.1" || fail "SAN: $sans"
"$tools/make-certs" "$dir/tls" >/dev/null 2>&1 && fail "overwrote existing files" || ok "refuses to overwrite"
"$tools/make-certs" "$dir/x" --days 0 >/dev/null 2>&1 && fail "accepted --days 0" || ok "refuses --days 0"
"$tools/make-certs" "$dir/y" --client 'bad name' >/dev/null 2>&1 && fail "accepted a bad client name" || ok "refuses a bad client name"
echo "$failures failed"
[ "$failures" -eq 0 ]
