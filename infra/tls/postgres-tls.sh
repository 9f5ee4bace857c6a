#!/usr/bin/env bash
# Points the local PostgreSQL cluster's TLS at a server certificate from make-certificates.sh
# (signed by DIR/ca.pem, for localhost and 127.0.0.1), so that clients can connect with
# sslmode=verify-full&sslrootcert=DIR/ca.pem. A configuration reload, not a restart: running
# sessions are not disturbed (and a certificate PostgreSQL cannot load leaves the old one in use).
#   postgres-tls.sh DIR   (as root: the key is handed to the postgres user)
set -euo pipefail
directory=${1:?usage: postgres-tls.sh DIR}
target=/var/lib/postgresql/tls
install -d -o postgres -g postgres -m 0700 "$target"
install -o postgres -g postgres -m 0644 "$directory/server.pem" "$target/server.pem"
install -o postgres -g postgres -m 0600 "$directory/server.key" "$target/server.key"
su postgres -c "psql -q -v ON_ERROR_STOP=1" <<SQL
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_cert_file = '$target/server.pem';
ALTER SYSTEM SET ssl_key_file = '$target/server.key';
SELECT pg_reload_conf();
SQL
# The reload is asynchronous: wait until a new session is served the new certificate.
for _ in $(seq 1 40); do
  served=$(openssl s_client -starttls postgres -connect 127.0.0.1:5432 -CAfile "$directory/ca.pem" \
    -verify_return_error </dev/null 2>/dev/null | grep -c "Verify return code: 0 (ok)" || true)
  [ "$served" = 1 ] && { echo "postgresql: TLS with the certificate in $target"; exit 0; }
  sleep 0.25
done
echo "postgresql: the server does not present a certificate signed by $directory/ca.pem" >&2
exit 1
