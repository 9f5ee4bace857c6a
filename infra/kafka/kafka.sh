#!/usr/bin/env bash
# Runs a real single-node Apache Kafka (KRaft) from Maven Central jars, without Docker.
#   kafka.sh fetch  - resolve the jars (Maven repository is reused when present)
#   kafka.sh start  - format storage on first start, start the broker, wait until it answers
#   kafka.sh stop   - stop the broker (storage is kept, so start resumes it)
# Environment: KAFKA_HOME (jars, logs; default $HOME/.cache/event-driven-kafka), KAFKA_DATA_DIR
# (default $KAFKA_HOME/data), KAFKA_BOOTSTRAP (must match server.properties; 127.0.0.1:19092).
# The broker logs at INFO (log4j2.properties) to $KAFKA_HOME/kafka.log.
# The jars carry the broker only, no topic or consumer-group CLI: topics are created through the
# admin API (`stack::create_topics`, used by the stack and the tests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
home=${KAFKA_HOME:-$HOME/.cache/event-driven-kafka}
libs=$home/libs
data=${KAFKA_DATA_DIR:-$home/data}
pidfile=$home/kafka.pid
bootstrap=${KAFKA_BOOTSTRAP:-127.0.0.1:19092}

java_cmd() { java -Xms256m -Xmx768m -cp "$libs/*" -Dlog4j2.level=WARN "$@"; }

fetch() {
  mkdir -p "$libs"
  if ! ls "$libs"/kafka_2.13-*.jar >/dev/null 2>&1; then
    mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs"
  fi
}

answers() { (exec 3<>"/dev/tcp/${bootstrap%:*}/${bootstrap#*:}") 2>/dev/null; }

start() {
  # Something already answering on the port would pass the readiness check below for a broker
  # that in fact failed to bind: say which it is instead.
  if answers; then
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "kafka: already running on $bootstrap (pid $(cat "$pidfile"))"; return 0
    fi
    echo "kafka: $bootstrap is taken by another process; stop it first" >&2
    return 1
  fi
  fetch
  mkdir -p "$data"
  sed "s#^log.dirs=.*##" "$here/server.properties" > "$home/server.properties"
  echo "log.dirs=$data" >> "$home/server.properties"
  if [ ! -f "$data/meta.properties" ]; then
    cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null)
    java_cmd kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$home/server.properties" >/dev/null 2>&1
  fi
  setsid nohup java -Xms256m -Xmx768m -cp "$libs/*" \
    -Dlog4j2.configurationFile="$here/log4j2.properties" kafka.Kafka "$home/server.properties" > "$home/kafka.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
    if answers; then echo "kafka: listening on $bootstrap (pid $(cat "$pidfile"))"; return 0; fi
    sleep 0.5
  done
  echo "kafka: failed to start; last log lines:" >&2
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

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  *) echo "usage: $0 fetch|start|stop|restart" >&2; exit 2 ;;
esac
