#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller) for development and CI.
#
#   bash scripts/kafka.sh start    # fetch jars (first time), format storage (first time), start, wait until serving
#   bash scripts/kafka.sh stop     # SIGTERM, wait up to 30 s, then SIGKILL
#   bash scripts/kafka.sh status   # exit 0 if running
#
# No Docker and no Kafka download site are needed: the broker jars come from Maven Central through
# the machine's Maven (scripts/kafka/pom.xml), see docs/adr/0003-kafka-client-and-broker.md.
#
# Environment (all optional):
#   KAFKA_PORT             client listener port              (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port    (default KAFKA_PORT + 1)
#   KAFKA_ADVERTISED_PORT  port the broker tells clients to use after bootstrap (default KAFKA_PORT);
#                          set it to a TCP proxy's port in front of KAFKA_PORT to put every client
#                          connection through the proxy (tests/faults does this)
#   KAFKA_HOME_DIR         libs, config, data, logs, pid     (default <repo>/.kafka)
#   KAFKA_LIBS_DIR         where the broker jars are         (default KAFKA_HOME_DIR/libs); point a
#                          second broker at <repo>/.kafka/libs to share the jars of the first
#   KAFKA_VERSION          org.apache.kafka:kafka_2.13 version (default: the one in scripts/kafka/pom.xml);
#                          only read when .kafka/libs is fetched: delete that folder to switch versions
#   KAFKA_START_TIMEOUT    seconds to wait for the broker    (default 90)
#   KAFKA_HEAP_OPTS        JVM heap flags                    (default -Xms256m -Xmx512m)
#   KAFKA_JVM_OPTS         other JVM flags                   (default -XX:+UseG1GC -XX:MaxGCPauseMillis=20)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_ADVERTISED_PORT="${KAFKA_ADVERTISED_PORT:-${KAFKA_PORT}}"
KAFKA_HOME_DIR="${KAFKA_HOME_DIR:-${REPO_ROOT}/.kafka}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20}"

LIBS_DIR="${KAFKA_LIBS_DIR:-${KAFKA_HOME_DIR}/libs}"
CONFIG_DIR="${KAFKA_HOME_DIR}/config"
DATA_DIR="${KAFKA_HOME_DIR}/data"
LOGS_DIR="${KAFKA_HOME_DIR}/logs"
PID_FILE="${KAFKA_HOME_DIR}/kafka.pid"
SERVER_PROPERTIES="${CONFIG_DIR}/server.properties"
LOG4J_PROPERTIES="${CONFIG_DIR}/log4j.properties"
POM="${SCRIPT_DIR}/kafka/pom.xml"

log() { printf '[kafka] %s\n' "$*"; }
die() { printf '[kafka] error: %s\n' "$*" >&2; exit 1; }

now_ms() { date +%s%3N; }

# The pid of our broker if it is alive (and really is a java process), else nothing.
running_pid() {
  [[ -f "${PID_FILE}" ]] || return 1
  local pid
  pid="$(cat "${PID_FILE}" 2>/dev/null || true)"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  kill -0 "${pid}" 2>/dev/null || return 1
  # Guard against a recycled pid: the process must be our kafka.Kafka JVM.
  if [[ -r "/proc/${pid}/cmdline" ]] && ! tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q 'kafka\.Kafka'; then
    return 1
  fi
  echo "${pid}"
}

port_open() {
  # bash's /dev/tcp: succeeds if something accepts a TCP connection.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

require_tools() {
  command -v java >/dev/null 2>&1 || die "java not found (Java 17+ is needed)"
}

ensure_libs() {
  if compgen -G "${LIBS_DIR}/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found: it is needed once to fetch the Kafka jars from Maven Central"
  log "fetching Kafka broker jars from Maven Central into ${LIBS_DIR} (first run only) ..."
  local t0 tmp
  t0="$(now_ms)"
  tmp="${LIBS_DIR}.tmp.$$"
  rm -rf "${tmp}"
  mkdir -p "${tmp}"
  local args=(-q -B -Dstyle.color=never -f "${POM}" dependency:copy-dependencies "-DoutputDirectory=${tmp}" -DincludeScope=runtime)
  if [[ -n "${KAFKA_VERSION:-}" ]]; then
    args+=("-Dkafka.version=${KAFKA_VERSION}")
  fi
  # Debian's Maven prints ANSI reset codes even with -q -B: strip them (pipefail keeps mvn's status).
  if ! mvn "${args[@]}" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d'; then
    rm -rf "${tmp}"
    die "mvn dependency:copy-dependencies failed (is Maven Central reachable?)"
  fi
  compgen -G "${tmp}/kafka_2.13-*.jar" >/dev/null || { rm -rf "${tmp}"; die "no kafka_2.13 jar was copied"; }
  # Move into place atomically so an interrupted download is never mistaken for a complete one.
  rm -rf "${LIBS_DIR}"
  mv "${tmp}" "${LIBS_DIR}"
  log "jars ready ($(ls "${LIBS_DIR}" | wc -l) files, $(( ($(now_ms) - t0) / 1000 )) s): $(basename "$(compgen -G "${LIBS_DIR}/kafka_2.13-*.jar" | head -1)")"
}

write_config() {
  mkdir -p "${CONFIG_DIR}" "${DATA_DIR}" "${LOGS_DIR}"
  # Rewritten on every start so edits to this script (or port overrides) take effect; the data is kept.
  cat >"${SERVER_PROPERTIES}" <<EOF
# Generated by scripts/kafka.sh — edits are overwritten on the next start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_ADVERTISED_PORT}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${DATA_DIR}

num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true

# Development box: keep a week of data, at most 1 GiB per partition.
log.retention.hours=168
log.retention.bytes=1073741824
log.segment.bytes=104857600
num.network.threads=2
num.io.threads=4
EOF

  cat >"${LOG4J_PROPERTIES}" <<EOF
# Generated by scripts/kafka.sh — edits are overwritten on the next start.
log4j.rootLogger=INFO, serverLog

log4j.appender.serverLog=org.apache.log4j.RollingFileAppender
log4j.appender.serverLog.File=${LOGS_DIR}/server.log
log4j.appender.serverLog.MaxFileSize=20MB
log4j.appender.serverLog.MaxBackupIndex=3
log4j.appender.serverLog.layout=org.apache.log4j.PatternLayout
log4j.appender.serverLog.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.stateChangeLog=org.apache.log4j.RollingFileAppender
log4j.appender.stateChangeLog.File=${LOGS_DIR}/state-change.log
log4j.appender.stateChangeLog.MaxFileSize=20MB
log4j.appender.stateChangeLog.MaxBackupIndex=1
log4j.appender.stateChangeLog.layout=org.apache.log4j.PatternLayout
log4j.appender.stateChangeLog.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=INFO, stateChangeLog
log4j.additivity.state.change.logger=false
EOF
}

java_opts() {
  # shellcheck disable=SC2206
  local heap=(${KAFKA_HEAP_OPTS}) jvm=(${KAFKA_JVM_OPTS})
  JAVA_OPTS=("${heap[@]}" "${jvm[@]}" -Djava.awt.headless=true
    "-Dlog4j.configuration=file:${LOG4J_PROPERTIES}" "-Dkafka.logs.dir=${LOGS_DIR}")
}

format_storage() {
  if [[ -f "${DATA_DIR}/meta.properties" ]]; then
    return 0
  fi
  log "formatting KRaft storage in ${DATA_DIR} (first run only) ..."
  java_opts
  local cluster_id
  cluster_id="$(java "${JAVA_OPTS[@]}" -cp "${LIBS_DIR}/*" kafka.tools.StorageTool random-uuid | tail -1 | tr -d '[:space:]')"
  [[ -n "${cluster_id}" ]] || die "could not generate a cluster id"
  java "${JAVA_OPTS[@]}" -cp "${LIBS_DIR}/*" kafka.tools.StorageTool format \
    -t "${cluster_id}" -c "${SERVER_PROPERTIES}" --ignore-formatted >"${LOGS_DIR}/format.out" 2>&1 ||
    { cat "${LOGS_DIR}/format.out" >&2; die "storage format failed"; }
  log "formatted, cluster id ${cluster_id}"
}

# Readiness: the port accepts connections AND the broker answers metadata requests.
broker_serving() {
  port_open "${KAFKA_PORT}" || return 1
  # A client would follow the advertised address, which may be a proxy that is not up yet: then the
  # broker's own "started" line is the signal (the caller checks the path through its proxy).
  if [[ "${KAFKA_ADVERTISED_PORT}" != "${KAFKA_PORT}" ]]; then
    grep -q 'Kafka Server started' "${LOGS_DIR}/server.log" 2>/dev/null
  elif [[ -f "${REPO_ROOT}/node_modules/kafkajs/package.json" ]] && command -v node >/dev/null 2>&1; then
    # A real client round trip (metadata + ApiVersions) with the project's own client.
    (cd "${REPO_ROOT}" && KAFKA_READY_BROKER="127.0.0.1:${KAFKA_PORT}" node --input-type=module -e '
      import { Kafka, logLevel } from "kafkajs";
      const kafka = new Kafka({ clientId: "kafka-sh-ready", brokers: [process.env.KAFKA_READY_BROKER],
        logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } });
      const admin = kafka.admin();
      try { await admin.connect(); await admin.describeCluster(); await admin.listTopics(); process.exit(0); }
      catch { process.exit(1); }
    ' >/dev/null 2>&1)
  else
    # No node_modules yet: rely on the broker's own "started" line.
    grep -q 'Kafka Server started' "${LOGS_DIR}/server.log" 2>/dev/null
  fi
}

cmd_start() {
  require_tools
  local pid
  if pid="$(running_pid)"; then
    log "already running (pid ${pid}) on 127.0.0.1:${KAFKA_PORT}; nothing to do"
    return 0
  fi
  if port_open "${KAFKA_PORT}"; then
    die "port ${KAFKA_PORT} is already in use by another process (not ours: no live pid in ${PID_FILE})"
  fi
  local t0
  t0="$(now_ms)"
  mkdir -p "${KAFKA_HOME_DIR}"
  ensure_libs
  write_config
  format_storage
  java_opts
  # Mark where this run's log starts so the readiness grep does not match an earlier run.
  if [[ -f "${LOGS_DIR}/server.log" ]]; then
    mv -f "${LOGS_DIR}/server.log" "${LOGS_DIR}/server.log.previous"
  fi
  log "starting broker on 127.0.0.1:${KAFKA_PORT} (controller ${KAFKA_CONTROLLER_PORT}, advertised port ${KAFKA_ADVERTISED_PORT}), data in ${DATA_DIR}"
  local t_java
  t_java="$(now_ms)"
  nohup java "${JAVA_OPTS[@]}" -cp "${LIBS_DIR}/*" kafka.Kafka "${SERVER_PROPERTIES}" \
    >"${LOGS_DIR}/server.out" 2>&1 </dev/null &
  pid=$!
  echo "${pid}" >"${PID_FILE}"

  local deadline=$(( $(date +%s) + KAFKA_START_TIMEOUT ))
  until broker_serving; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      rm -f "${PID_FILE}"
      tail -n 40 "${LOGS_DIR}/server.out" "${LOGS_DIR}/server.log" >&2 2>/dev/null || true
      die "broker exited during startup (see ${LOGS_DIR}/server.log and server.out)"
    fi
    if (( $(date +%s) >= deadline )); then
      tail -n 40 "${LOGS_DIR}/server.log" >&2 2>/dev/null || true
      die "broker (pid ${pid}) not serving after ${KAFKA_START_TIMEOUT} s; it is left running, see ${LOGS_DIR}/server.log (stop it with: bash scripts/kafka.sh stop)"
    fi
    sleep 0.25
  done
  local t1
  t1="$(now_ms)"
  log "ready on 127.0.0.1:${KAFKA_PORT} (pid ${pid}): JVM up and serving in $(( (t1 - t_java) ))ms, total $(( (t1 - t0) ))ms"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "${PID_FILE}"
    log "not running"
    return 0
  fi
  log "stopping broker (pid ${pid}) ..."
  local t0
  t0="$(now_ms)"
  kill -TERM "${pid}" 2>/dev/null || true
  local i
  for ((i = 0; i < 120; i++)); do
    kill -0 "${pid}" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "${pid}" 2>/dev/null; then
    log "still alive after 30 s; sending SIGKILL"
    kill -KILL "${pid}" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "${PID_FILE}"
  log "stopped in $(( $(now_ms) - t0 ))ms"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "${KAFKA_PORT}"; then
      log "running (pid ${pid}) on 127.0.0.1:${KAFKA_PORT}"
    else
      log "running (pid ${pid}) but 127.0.0.1:${KAFKA_PORT} is not accepting connections yet"
    fi
    return 0
  fi
  log "not running"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 {start|stop|status}" >&2
    exit 2
    ;;
esac
