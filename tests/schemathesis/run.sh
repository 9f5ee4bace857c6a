#!/usr/bin/env bash
# schemathesis against both services' OpenAPI documents on a running stack (its own data
# directory and free ports): once with a staff token, once with a forged one. Fails on any 5xx
# and on any answer the document does not describe (`--checks all`). Bounded and reproducible:
# a fixed seed and at most $MAX_EXAMPLES examples per operation.
#
#   cargo build -p stack && bash tests/schemathesis/run.sh
set -euo pipefail
repository=$(cd "$(dirname "$0")/../.." && pwd)
stack=${STACK_BINARY:-${CARGO_TARGET_DIR:-$repository/target}/debug/stack}
max_examples=${MAX_EXAMPLES:-40}
seed=${SCHEMATHESIS_SEED:-20261128}
scratch=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
broker=$(free_port); member=$(free_port); reservation=$(free_port)
"$stack" --data-dir "$scratch/data" --broker-address "127.0.0.1:$broker" \
  --member-address "127.0.0.1:$member" --reservation-address "127.0.0.1:$reservation" \
  >"$scratch/stack.log" 2>&1 &
stack_pid=$!
stop() { kill "$stack_pid" 2>/dev/null || true; wait "$stack_pid" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$member/ready" >/dev/null && curl -sf "http://127.0.0.1:$reservation/ready" >/dev/null && break
  kill -0 "$stack_pid" 2>/dev/null || { cat "$scratch/stack.log"; exit 1; }
  sleep 0.1
done
staff=$("$stack" token --data-dir "$scratch/data" --staff)
forged=$("$stack" token --data-dir "$scratch/data" --staff | sed 's/.$/A/')

# The coverage phase is left out: schemathesis 4.32.5 raised an internal KeyError in it on
# reservation-service's document (a bug of the tool, not a finding); examples, fuzzing and the
# stateful phase run.
run() {
  local name=$1 url=$2 token=$3 excluded=$4
  echo "== $name"
  schemathesis --config-file "$repository/tests/schemathesis/schemathesis.toml" \
    run "$url/openapi.json" --checks all ${excluded:+--exclude-checks "$excluded"} \
    --phases examples,fuzzing,stateful --max-examples "$max_examples" --seed "$seed" --generation-deterministic --workers 2 \
    --request-timeout 10 -H "Authorization: Bearer $token" --no-color \
    --report junit --report-dir "$scratch/reports/$name"
}
status=0
for service in member:$member reservation:$reservation; do
  name=${service%%:*}; url=http://127.0.0.1:${service#*:}
  run "$name-service, staff token" "$url" "$staff" "" || status=1
  # Every secured operation answers 401; the checks that expect data to be accepted cannot pass.
  run "$name-service, forged token" "$url" "$forged" "positive_data_acceptance" || status=1
done
if grep -E '" 5[0-9][0-9] |status=5[0-9][0-9]' "$scratch/stack.log" | head -5; then status=1; fi
exit "$status"
