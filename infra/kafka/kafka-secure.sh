#!/usr/bin/env bash
# A second single-node Apache Kafka (KRaft) that clients reach only over SASL_SSL (SCRAM-SHA-512,
# certificate from a CA made here), with the StandardAuthorizer and the ACLs of the services:
#   member-service      may write member-events
#   reservation-service may read member-events, use its consumer group, write the dead letters
#   admin               super user (topic creation, ACLs, the tests' own clients)
# Nobody else, nothing else: a producer without member-service's credentials cannot write
# member-events. It runs beside infra/kafka/kafka.sh's plaintext broker, on other ports.
#   kafka-secure.sh start | stop | restart | env
# `env` prints the variables for the services and the tests (system-tests reads them).
# Environment: KAFKA_HOME (the broker's jars, fetched by kafka.sh), KAFKA_SECURE_HOME (certificates,
# passwords, data, logs; default $HOME/.cache/event-driven-kafka-secure), KAFKA_SECURE_PORT
# (client listener, default 29094; the controller listens on the next port).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
home=${KAFKA_SECURE_HOME:-$HOME/.cache/event-driven-kafka-secure}
libs=${KAFKA_HOME:-$HOME/.cache/event-driven-kafka}/libs
tools=$home/tools
port=${KAFKA_SECURE_PORT:-29094}
controller_port=$((port + 1))
bootstrap=localhost:$port
pidfile=$home/kafka.pid
certificates=$home/tls
credentials=$home/credentials
users=(admin member-service reservation-service)

java_cmd() { java -Xms128m -Xmx512m -cp "$libs/*" -Dlog4j2.level=WARN "$@"; }

fetch_tools() {
  if ! ls "$tools"/kafka-tools-*.jar >/dev/null 2>&1; then
    mvn -q -B -f "$here/tools/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tools"
  fi
}

password() { cat "$credentials/$1.password"; }

make_credentials() {
  mkdir -p "$credentials"
  chmod 700 "$credentials"
  for user in "${users[@]}"; do
    [ -f "$credentials/$user.password" ] \
      || (umask 077; openssl rand -hex 24 > "$credentials/$user.password")
  done
  # A PKCS#12 keystore for the broker, from the PEM certificate and key.
  if [ ! -f "$certificates/broker.p12" ]; then
    (umask 077; openssl rand -hex 24 > "$credentials/keystore.password")
    openssl pkcs12 -export -in "$certificates/server.pem" -inkey "$certificates/server.key" \
      -name broker -out "$certificates/broker.p12" -passout "file:$credentials/keystore.password"
  fi
}

write_config() {
  local admin keystore_password
  admin=$(password admin)
  keystore_password=$(cat "$credentials/keystore.password")
  (umask 077; cat > "$home/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=SASL_SSL://$bootstrap
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
# Kafka keeps SCRAM credentials in the metadata log, which the controller serves: the controller
# listener (loopback only) authenticates with PLAIN instead.
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin" user_admin="$admin";
ssl.keystore.type=PKCS12
ssl.keystore.location=$certificates/broker.p12
ssl.keystore.password=$keystore_password
ssl.truststore.type=PEM
ssl.truststore.location=$certificates/ca.pem
ssl.endpoint.identification.algorithm=https
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=3
auto.create.topics.enable=false
log.dirs=$home/data
PROPERTIES
  )
  (umask 077; cat > "$home/admin.properties" <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
ssl.truststore.type=PEM
ssl.truststore.location=$certificates/ca.pem
PROPERTIES
  )
}

format_storage() {
  [ -f "$home/data/meta.properties" ] && return 0
  local cluster_id scram=()
  for user in "${users[@]}"; do
    scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(password "$user")]")
  done
  cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null)
  java_cmd kafka.tools.StorageTool format --standalone -t "$cluster_id" \
    -c "$home/server.properties" "${scram[@]}" >/dev/null
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

acl() { # principal, then AclCommand arguments
  java -Xms64m -Xmx256m -cp "$tools/*" -Dlog4j2.level=WARN org.apache.kafka.tools.AclCommand \
    --bootstrap-server "$bootstrap" --command-config "$home/admin.properties" \
    --add --allow-principal "User:$1" "${@:2}" 2>&1 >/dev/null | { grep -v '^SLF4J' >&2 || true; }
  return "${PIPESTATUS[0]}"
}

# Literal names for production, prefixed "<name>-" for the tests' unique topics and groups.
# "member-events-" does not match "member-events.dead-letter": the member service cannot
# write dead letters.
grant_acls() {
  for pattern in "literal member-events" "prefixed member-events-"; do
    set -- $pattern
    acl member-service --operation Write --operation Describe \
      --resource-pattern-type "$1" --topic "$2"
    acl reservation-service --operation Read --operation Describe \
      --resource-pattern-type "$1" --topic "$2"
  done
  for pattern in "literal member-events.dead-letter" "prefixed member-events.dead-letter-"; do
    set -- $pattern
    acl reservation-service --operation Write --operation Describe \
      --resource-pattern-type "$1" --topic "$2"
  done
  acl reservation-service --operation Read --operation Describe \
    --resource-pattern-type prefixed --group reservation-service
}

start() {
  mkdir -p "$home/data"
  bash "$here/kafka.sh" fetch
  fetch_tools
  bash "$here/../tls/make-certificates.sh" "$certificates" >/dev/null
  make_credentials
  write_config
  format_storage
  setsid nohup java -Xms256m -Xmx768m -cp "$libs/*" \
    -Dlog4j2.configurationFile="$here/log4j2.properties" kafka.Kafka "$home/server.properties" \
    > "$home/kafka.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if answers; then
      grant_acls
      echo "kafka (SASL_SSL): listening on $bootstrap (pid $(cat "$pidfile"))"
      return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.5
  done
  echo "kafka (SASL_SSL): failed to start; last log lines:" >&2
  tail -n 40 "$home/kafka.log" >&2
  return 1
}

stop() {
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# What the tests read: the harness's own clients are admin; each service gets its own user.
# Passwords as files (*_FILE), never as values.
print_env() {
  cat <<VARIABLES
export KAFKA_BOOTSTRAP_SERVERS=$bootstrap
export KAFKA_SECURITY_PROTOCOL=SASL_SSL
export KAFKA_SASL_MECHANISM=SCRAM-SHA-512
export KAFKA_SSL_CA_LOCATION=$certificates/ca.pem
export KAFKA_SASL_USERNAME=admin
export KAFKA_SASL_PASSWORD_FILE=$credentials/admin.password
export TEST_MEMBER_SERVICE_KAFKA_SASL_USERNAME=member-service
export TEST_MEMBER_SERVICE_KAFKA_SASL_PASSWORD_FILE=$credentials/member-service.password
export TEST_RESERVATION_SERVICE_KAFKA_SASL_USERNAME=reservation-service
export TEST_RESERVATION_SERVICE_KAFKA_SASL_PASSWORD_FILE=$credentials/reservation-service.password
export TEST_UNTRUSTED_CA_LOCATION=$certificates/untrusted-ca.pem
VARIABLES
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|restart|env" >&2; exit 2 ;;
esac
