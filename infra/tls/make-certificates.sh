#!/usr/bin/env bash
# Makes a throw-away certificate authority and a server certificate for localhost/127.0.0.1,
# for CI and local runs of Kafka and PostgreSQL over TLS. Never for production: there the
# certificates come from the organisation's CA (see docs/running.md, "Security").
#   make-certificates.sh DIR
# Writes into DIR: ca.pem (trust this), server.pem + server.key (the server's), and
# untrusted-ca.pem (a second authority that signed nothing here: a client trusting only it must
# refuse the server). Existing files are kept, so brokers and clients keep agreeing.
set -euo pipefail
directory=${1:?usage: make-certificates.sh DIR}
mkdir -p "$directory"
cd "$directory"
[ -f server.pem ] && [ -f ca.pem ] && [ -f untrusted-ca.pem ] && exit 0
umask 077

authority() { # name subject
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=$2" -keyout "$1.key" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}
authority ca "event-driven test CA"
authority untrusted-ca "event-driven untrusted CA"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
cat > server.ext <<'EXTENSIONS'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
EXTENSIONS
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl untrusted-ca.key
# Certificates are public; keys stay readable by their owner only (umask above).
chmod 644 ca.pem untrusted-ca.pem server.pem
echo "certificates in $PWD: ca.pem, server.pem, server.key, untrusted-ca.pem"
