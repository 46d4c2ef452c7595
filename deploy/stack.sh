#!/usr/bin/env bash
# The local stack on loopback: Kafka (KRaft), Elasticsearch, Prometheus, and
# Ascolto's own ingest service and Faust worker.
#
#   deploy/stack.sh prereqs            the machine's tools: JDK, mvn, unzip, python3-venv
#   deploy/stack.sh browser            Debian's chromium, for the HTML report's test
#   deploy/stack.sh install            fetch what is missing (idempotent, quick when done)
#   deploy/stack.sh up [COMPONENT...]  start (default: kafka elasticsearch prometheus)
#   deploy/stack.sh down [COMPONENT...] stop (default: everything)
#   deploy/stack.sh status             one line per component
#   deploy/stack.sh clean              stop everything and wipe .run/ state (keeps downloads)
#
# Components: kafka elasticsearch prometheus alertmanager es-exporter lag-exporter ingest worker
#   nudger (not started by default: docs/nudges.md)
# (Kafka's own metrics: the JMX exporter agent inside each broker, on ASCOLTO_KAFKA_JMX_EXPORTER_PORT)
# (kafka: one broker, or a 3-node KRaft cluster with ASCOLTO_KAFKA_BROKERS=3)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

KAFKA_DIR="$ASCOLTO_RUN_DIR/kafka"
ES_LINK="$ASCOLTO_RUN_DIR/elasticsearch"
PROM_DIR="$ASCOLTO_RUN_DIR/prometheus"
AM_DIR="$ASCOLTO_RUN_DIR/alertmanager"
INFRA=(kafka elasticsearch prometheus alertmanager es-exporter lag-exporter)
ALL=(nudger worker ingest lag-exporter es-exporter alertmanager prometheus elasticsearch kafka)

log() { printf '\033[1m[stack]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Beside each pid file, the process's start time: after a reboot the pid may belong to
# someone else, and that process must be neither taken for ours nor stopped.
started_at() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }
pid_of() { cat "$PIDS/$1.pid" 2>/dev/null || true; }
alive() {
  local p t; p="$(pid_of "$1")"; t="$(cat "$PIDS/$1.start" 2>/dev/null || true)"
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && { [ -z "$t" ] || [ "$(started_at "$p")" = "$t" ]; }
}
port_open() { (exec 3<>"/dev/tcp/$ASCOLTO_HOST/$1") 2>/dev/null; }
# Refuse to start on a port something else answers on (another clone's stack, say): the
# readiness probes would take that server for ours.
claim_port() { # claim_port NAME PORT VARIABLE
  ! port_open "$2" || die "$1: port $2 is taken (another Ascolto stack, another clone?): stop it, or set $3"
}

wait_for() { # wait_for NAME SECONDS COMMAND...
  local name=$1 secs=$2; shift 2
  for _ in $(seq 1 "$((secs * 2))"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ -f "$PIDS/$name.pid" ] && ! alive "$name"; then
      tail -n 40 "$LOGS/$name.log" >&2 || true
      die "$name exited while starting (log: $LOGS/$name.log)"
    fi
    sleep 0.5
  done
  tail -n 40 "$LOGS/$name.log" >&2 || true
  die "$name did not become ready in ${secs}s (log: $LOGS/$name.log)"
}

start_bg() { # start_bg NAME COMMAND... (detached, own process group, pid recorded)
  local name=$1; shift
  mkdir -p "$PIDS" "$LOGS"
  setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
  started_at $! >"$PIDS/$name.start"
}

# ---------------------------------------------------------------- install
# The machine's own tools, from Debian's packages: a fresh machine may lack any of them.
install_prereqs() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v unzip >/dev/null || missing+=(unzip)
  command -v openssl >/dev/null || missing+=(openssl)  # Kafka's TLS certificates
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  [ ${#missing[@]} -eq 0 ] && return 0
  apt_install "${missing[@]}"
}

apt_install() { # apt_install PACKAGE...
  [ "$(id -u)" = 0 ] || die "missing $*: run as root, or apt-get install $*"
  log "installing $* from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Debian's Chromium, for the HTML report's test in a headless browser (docs/report.md);
# apart from install_prereqs: only `make test` needs it, not the stack.
install_browser() { command -v chromium >/dev/null || apt_install chromium; }

install_kafka() {
  if [ ! -f "$KAFKA_DIR/libs/kafka_2.13-$ASCOLTO_KAFKA_VERSION.jar" ]; then
    command -v mvn >/dev/null || die "mvn not found: Kafka's jars are resolved from Maven Central with it"
    log "resolving Apache Kafka $ASCOLTO_KAFKA_VERSION from Maven Central"
    rm -rf "$KAFKA_DIR/libs"  # another version's jars would share the classpath
    mkdir -p "$KAFKA_DIR/libs"
    mvn -q -B -f "$ASCOLTO_ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
      -Dkafka.version="$ASCOLTO_KAFKA_VERSION" -DoutputDirectory="$KAFKA_DIR/libs" \
      -DexcludeArtifactIds=jmx_prometheus_javaagent
  fi
  jmx_agent_jar >/dev/null && return 0
  # The JMX exporter agent is loaded with -javaagent, not from the classpath (libs/*, which
  # does not reach into libs/agent/); beside the jars, so that a test's Kafka finds it too.
  log "resolving the Prometheus JMX exporter agent from Maven Central"
  mvn -q -B -f "$ASCOLTO_ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeArtifactIds=jmx_prometheus_javaagent -DoutputDirectory="$KAFKA_DIR/libs/agent"
}

jmx_agent_jar() { compgen -G "$KAFKA_DIR/libs/agent/jmx_prometheus_javaagent-*.jar" | head -n 1; }
# jmx_agent PORT: the broker's -javaagent option, serving its metrics on PORT
jmx_agent() {
  echo "-javaagent:$(jmx_agent_jar)=$ASCOLTO_HOST:$1:$ASCOLTO_ROOT/deploy/kafka/jmx-exporter.yml"
}

# Elasticsearch refuses to run as root: as root we run it as a dedicated system
# user, and keep its files where that user can reach them.
es_home_dir() {
  if [ "$(id -u)" != 0 ]; then echo "$ASCOLTO_RUN_DIR/es"; return; fi
  if runuser -u "$ASCOLTO_ES_USER" -- test -x "$ASCOLTO_RUN_DIR" 2>/dev/null; then
    echo "$ASCOLTO_RUN_DIR/es"
  else # the checkout lives under a private directory (e.g. /root): keep ES state outside it
    echo "/var/lib/ascolto-es/$(echo -n "$ASCOLTO_RUN_DIR" | md5sum | cut -c1-12)"
  fi
}

install_es() {
  if [ "$(id -u)" = 0 ] && ! id "$ASCOLTO_ES_USER" >/dev/null 2>&1; then
    log "creating system user $ASCOLTO_ES_USER for Elasticsearch"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$ASCOLTO_ES_USER"
  fi
  mkdir -p "$ASCOLTO_RUN_DIR"
  local home; home="$(es_home_dir)"
  [ -L "$ES_LINK" ] || ln -sfn "$home" "$ES_LINK"
  [ -f "$home/dist/lib/elasticsearch-$ASCOLTO_ES_VERSION.jar" ] && return 0  # this version
  log "resolving Elasticsearch $ASCOLTO_ES_VERSION (integ-test-zip) from Maven Central"
  local dl="$ASCOLTO_RUN_DIR/downloads"
  mkdir -p "$dl" "$home"
  mvn -q -B dependency:copy \
    -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ASCOLTO_ES_VERSION:zip" \
    -DoutputDirectory="$dl"
  rm -rf "$home/dist" "$home/unpack" && mkdir -p "$home/unpack"
  unzip -q "$dl/elasticsearch-$ASCOLTO_ES_VERSION.zip" -d "$home/unpack"
  mv "$home/unpack/elasticsearch-$ASCOLTO_ES_VERSION" "$home/dist" && rmdir "$home/unpack"
  mkdir -p "$home/data" "$home/logs" "$home/config"
  [ "$(id -u)" = 0 ] && chown -R "$ASCOLTO_ES_USER" "$home"
  return 0
}

install_prometheus() {
  command -v prometheus >/dev/null && command -v promtool >/dev/null \
    && command -v prometheus-alertmanager >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "Prometheus is installed from Debian's packages: run as root, or apt-get install prometheus prometheus-alertmanager"
  log "installing Prometheus and Alertmanager from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null
  # The packages start system services where an init system runs, as their own user; ours
  # (started below, as this user) and other checkouts' stacks are left alone.
  pkill -u prometheus -x prometheus 2>/dev/null || true
  pkill -u prometheus -f prometheus-alertmanager 2>/dev/null || true
}

install_all() { install_prereqs; install_kafka; install_es; install_prometheus; install_es_exporter; }

# ---------------------------------------------------------------- kafka
up_kafka() {
  alive kafka || start_kafka
  kafka_passwords
  kafka_scram_users_after_start
  kafka_acls
}

start_kafka() {
  install_kafka
  mkdir -p "$KAFKA_DIR/data"
  sed -e "s|@HOST@|$ASCOLTO_HOST|g" -e "s|@PORT@|$ASCOLTO_KAFKA_PORT|g" \
      -e "s|@CONTROLLER_PORT@|$ASCOLTO_KAFKA_CONTROLLER_PORT|g" -e "s|@DATA@|$KAFKA_DIR/data|g" \
      "$ASCOLTO_ROOT/deploy/kafka/server.properties" >"$KAFKA_DIR/server.properties"
  kafka_secured_setup "$KAFKA_DIR/server.properties"
  local cp="$KAFKA_DIR/libs/*"
  local jopts=(-Xms"$ASCOLTO_KAFKA_HEAP" -Xmx"$ASCOLTO_KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j.configuration="file:$ASCOLTO_ROOT/deploy/kafka/log4j.properties")
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$("$JAVA_HOME/bin/java" -cp "$cp" "${jopts[@]}" kafka.tools.StorageTool random-uuid)"
    "$JAVA_HOME/bin/java" -cp "$cp" "${jopts[@]}" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$KAFKA_DIR/server.properties" "${KAFKA_SCRAM_FORMAT_ARGS[@]}" >/dev/null
    kafka_scram_users_made
  fi
  claim_port kafka "$ASCOLTO_KAFKA_PORT" ASCOLTO_KAFKA_PORT
  claim_port kafka "$ASCOLTO_KAFKA_CONTROLLER_PORT" ASCOLTO_KAFKA_CONTROLLER_PORT
  claim_port kafka "$ASCOLTO_KAFKA_JMX_EXPORTER_PORT" ASCOLTO_KAFKA_JMX_EXPORTER_PORT
  log "starting Kafka $ASCOLTO_KAFKA_VERSION on $ASCOLTO_KAFKA_BOOTSTRAP"
  start_bg kafka "$JAVA_HOME/bin/java" -cp "$cp" "${jopts[@]}" \
    "$(jmx_agent "$ASCOLTO_KAFKA_JMX_EXPORTER_PORT")" kafka.Kafka "$KAFKA_DIR/server.properties"
  wait_for kafka 90 port_open "$ASCOLTO_KAFKA_PORT"
  wait_for kafka 60 "$VENV/bin/python" -m ascolto.ready kafka
}

# ---------------------------------------------------------------- kafka: secured listeners
# SASL_SSL and mutual TLS, the SCRAM users, their ACLs
source "$ASCOLTO_ROOT/deploy/kafka/secured.sh"

# ---------------------------------------------------------------- kafka cluster
# ASCOLTO_KAFKA_BROKERS=3: three KRaft nodes, each broker and controller, in place of the single
# broker. Node N answers on ASCOLTO_KAFKA_PORT + 10*(N-1), its controller on
# ASCOLTO_KAFKA_CONTROLLER_PORT + 10*(N-1) (19092, 19102, 19112 by default); its config and data
# are in .run/kafka-cluster/node-N/, its log is .run/logs/kafka-N.log, and
# .run/kafka-cluster/bootstrap lists the brokers for clients.
CLUSTER_DIR="$ASCOLTO_RUN_DIR/kafka-cluster"
NODE_PORT_STEP=10

node_port() { echo $(($2 + NODE_PORT_STEP * ($1 - 1))); } # node_port NODE FIRST_NODE_PORT

# Every node registered and unfenced: a client's metadata lists only those.
cluster_formed() { # cluster_formed BOOTSTRAP
  "$VENV/bin/python" -c 'import sys
from kafka import KafkaAdminClient
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=3000, client_id="ready")
sys.exit(len(admin.describe_cluster()["brokers"]) != int(sys.argv[2]))' "$1" "$ASCOLTO_KAFKA_BROKERS"
}

up_kafka_cluster() {
  install_kafka
  mkdir -p "$CLUSTER_DIR"
  local nodes n dir port ctrl voters="" bootstrap=""
  nodes="$(seq 1 "$ASCOLTO_KAFKA_BROKERS")"
  for n in $nodes; do
    voters+="${voters:+,}$n@$ASCOLTO_HOST:$(node_port "$n" "$ASCOLTO_KAFKA_CONTROLLER_PORT")"
    bootstrap+="${bootstrap:+,}$ASCOLTO_HOST:$(node_port "$n" "$ASCOLTO_KAFKA_PORT")"
  done
  local java=("$JAVA_HOME/bin/java" -cp "$KAFKA_DIR/libs/*" -Djava.awt.headless=true
    -Dlog4j.configuration="file:$ASCOLTO_ROOT/deploy/kafka/log4j.properties")
  [ -s "$CLUSTER_DIR/cluster.id" ] \
    || "${java[@]}" -Xmx128m kafka.tools.StorageTool random-uuid >"$CLUSTER_DIR/cluster.id"
  local formatting=() pid jmx
  for n in $nodes; do
    alive "kafka-$n" && continue
    dir="$CLUSTER_DIR/node-$n"
    mkdir -p "$dir/data"
    sed -e "s|@NODE_ID@|$n|g" -e "s|@VOTERS@|$voters|g" -e "s|@HOST@|$ASCOLTO_HOST|g" \
        -e "s|@PORT@|$(node_port "$n" "$ASCOLTO_KAFKA_PORT")|g" -e "s|@DATA@|$dir/data|g" \
        -e "s|@CONTROLLER_PORT@|$(node_port "$n" "$ASCOLTO_KAFKA_CONTROLLER_PORT")|g" \
        "$ASCOLTO_ROOT/deploy/kafka/cluster-node.properties" >"$dir/server.properties"
    [ -f "$dir/data/meta.properties" ] && continue
    "${java[@]}" -Xmx128m kafka.tools.StorageTool format -t "$(cat "$CLUSTER_DIR/cluster.id")" \
      -c "$dir/server.properties" >/dev/null &  # one JVM per node: side by side
    formatting+=($!)
  done
  for pid in "${formatting[@]}"; do wait "$pid" || die "formatting a Kafka node's storage failed"; done
  for n in $nodes; do
    alive "kafka-$n" && continue
    dir="$CLUSTER_DIR/node-$n"
    port="$(node_port "$n" "$ASCOLTO_KAFKA_PORT")"
    ctrl="$(node_port "$n" "$ASCOLTO_KAFKA_CONTROLLER_PORT")"
    claim_port "kafka-$n" "$port" ASCOLTO_KAFKA_PORT
    claim_port "kafka-$n" "$ctrl" ASCOLTO_KAFKA_CONTROLLER_PORT
    jmx="$(node_port "$n" "$ASCOLTO_KAFKA_JMX_EXPORTER_PORT")"
    claim_port "kafka-$n" "$jmx" ASCOLTO_KAFKA_JMX_EXPORTER_PORT
    log "starting Kafka node $n of $ASCOLTO_KAFKA_BROKERS on $ASCOLTO_HOST:$port"
    start_bg "kafka-$n" "${java[@]}" -Xms"$ASCOLTO_KAFKA_HEAP" -Xmx"$ASCOLTO_KAFKA_HEAP" \
      -XX:+UseG1GC "$(jmx_agent "$jmx")" kafka.Kafka "$dir/server.properties"
  done
  echo "$bootstrap" >"$CLUSTER_DIR/bootstrap"
  for n in $nodes; do wait_for "kafka-$n" 90 port_open "$(node_port "$n" "$ASCOLTO_KAFKA_PORT")"; done
  wait_for kafka-1 90 cluster_formed "$bootstrap"
  log "Kafka cluster of $ASCOLTO_KAFKA_BROKERS up: $bootstrap"
}

# Every node at once: one by one, the last would wait for a controller quorum already gone.
down_kafka_cluster() {
  local pidfile
  for pidfile in "$PIDS"/kafka-[0-9]*.pid; do
    [ -e "$pidfile" ] && stop "$(basename "$pidfile" .pid)" &
  done
  wait
}

status_kafka_cluster() {
  local pidfile name
  for pidfile in "$PIDS"/kafka-[0-9]*.pid; do
    [ -e "$pidfile" ] || continue
    name="$(basename "$pidfile" .pid)"
    if alive "$name"; then printf '  %-14s running (pid %s)\n' "$name" "$(pid_of "$name")"
    else printf '  %-14s %s\n' "$name" "stopped (killed? \`stack.sh down kafka\` clears it)"; fi
  done
  [ ! -e "$PIDS/kafka-1.pid" ] || printf '  url   %-14s %s\n' kafka-cluster "$(cat "$CLUSTER_DIR/bootstrap")"
}

# `up kafka`: the single broker, or the cluster.
up_kafka_or_cluster() {
  case "$ASCOLTO_KAFKA_BROKERS" in
    1) up_kafka ;;
    3) up_kafka_cluster ;;
    *) die "ASCOLTO_KAFKA_BROKERS=$ASCOLTO_KAFKA_BROKERS: expected 1 or 3" ;;
  esac
}

# ---------------------------------------------------------------- elasticsearch
es_healthy() { "$VENV/bin/python" -m ascolto.ready elasticsearch; }

up_es() {
  alive elasticsearch && return 0
  install_es
  local home; home="$(readlink -f "$ES_LINK")"
  cp "$home/dist/config/jvm.options" "$home/dist/config/log4j2.properties" "$home/config/"
  sed -e "s|@HOST@|$ASCOLTO_HOST|g" -e "s|@PORT@|$ASCOLTO_ES_PORT|g" \
      -e "s|@TRANSPORT_PORT@|$ASCOLTO_ES_TRANSPORT_PORT|g" \
      -e "s|@WRITE_QUEUE_SIZE@|$ASCOLTO_ES_WRITE_QUEUE_SIZE|g" \
      -e "s|@DATA@|$home/data|g" -e "s|@LOGS@|$home/logs|g" \
      "$ASCOLTO_ROOT/deploy/elasticsearch/elasticsearch.yml" >"$home/config/elasticsearch.yml"
  mkdir -p "$home/data" "$home/logs"  # `clean` wipes them
  local as_user=()
  if [ "$(id -u)" = 0 ]; then
    chown -R "$ASCOLTO_ES_USER" "$home/config" "$home/data" "$home/logs"
    # setpriv execs Elasticsearch itself: runuser would stay its parent and, stopped,
    # SIGKILL it after 2 seconds instead of letting it shut down
    as_user=(setpriv --reuid="$ASCOLTO_ES_USER" --regid="$ASCOLTO_ES_USER" --init-groups --)
  fi
  claim_port elasticsearch "$ASCOLTO_ES_PORT" ASCOLTO_ES_PORT
  claim_port elasticsearch "$ASCOLTO_ES_TRANSPORT_PORT" ASCOLTO_ES_TRANSPORT_PORT
  log "starting Elasticsearch $ASCOLTO_ES_VERSION on $ASCOLTO_ES_URL"
  start_bg elasticsearch "${as_user[@]}" env ES_JAVA_HOME="$JAVA_HOME" ES_PATH_CONF="$home/config" \
    ES_JAVA_OPTS="-Xms$ASCOLTO_ES_HEAP -Xmx$ASCOLTO_ES_HEAP" "$home/dist/bin/elasticsearch"
  wait_for elasticsearch 120 es_healthy
}

# ---------------------------------------------------------------- prometheus
render_prometheus_config() {
  mkdir -p "$PROM_DIR/rules"
  rm -f "$PROM_DIR/rules/"*.yml
  cp "$ASCOLTO_ROOT"/deploy/prometheus/rules/*.yml "$PROM_DIR/rules/" 2>/dev/null || true
  local workers="${ASCOLTO_WORKER_TARGETS:-$ASCOLTO_HOST:$ASCOLTO_WORKER_WEB_PORT}"
  local worker_targets; worker_targets="'$(echo "$workers" | sed "s/,/','/g")'"
  local kafka_jmx="" n
  for n in $(seq 1 "$ASCOLTO_KAFKA_BROKERS"); do
    kafka_jmx+="${kafka_jmx:+, }'$ASCOLTO_HOST:$(node_port "$n" "$ASCOLTO_KAFKA_JMX_EXPORTER_PORT")'"
  done
  sed -e "s|@INGEST@|$ASCOLTO_HOST:$ASCOLTO_INGEST_PORT|g" -e "s|@WORKERS@|$worker_targets|g" \
      -e "s|@KAFKA_JMX@|$kafka_jmx|g" -e "s|@ES_EXPORTER@|$ASCOLTO_HOST:$ASCOLTO_ES_EXPORTER_PORT|g" \
      -e "s|@LAG_EXPORTER@|$ASCOLTO_HOST:$ASCOLTO_LAG_EXPORTER_PORT|g" \
      -e "s|@NUDGER@|$ASCOLTO_HOST:$ASCOLTO_NUDGER_METRICS_PORT|g" \
      -e "s|@ALERTMANAGER@|$ASCOLTO_HOST:$ASCOLTO_ALERTMANAGER_PORT|g" \
      -e "s|@RULES@|$PROM_DIR/rules|g" -e "s|@SCRAPE_INTERVAL@|${ASCOLTO_SCRAPE_INTERVAL:-5s}|g" \
      "$ASCOLTO_ROOT/deploy/prometheus/prometheus.yml" >"$PROM_DIR/prometheus.yml"
}

up_prometheus() {
  alive prometheus && return 0
  install_prometheus
  render_prometheus_config
  promtool check config "$PROM_DIR/prometheus.yml" >/dev/null
  claim_port prometheus "$ASCOLTO_PROMETHEUS_PORT" ASCOLTO_PROMETHEUS_PORT
  local admin=()
  case "${ASCOLTO_PROMETHEUS_ADMIN_API,,}" in
    true|yes|on|1) admin=(--web.enable-admin-api) ;;
    false|no|off|0) ;;
    *) die "ASCOLTO_PROMETHEUS_ADMIN_API: not a yes/no value: '$ASCOLTO_PROMETHEUS_ADMIN_API' (use true or false)" ;;
  esac
  log "starting Prometheus on $ASCOLTO_PROMETHEUS_URL${admin:+ (admin API on)}"
  start_bg prometheus prometheus --config.file="$PROM_DIR/prometheus.yml" \
    --storage.tsdb.path="$PROM_DIR/data" --storage.tsdb.retention.time=7d \
    --web.listen-address="$ASCOLTO_HOST:$ASCOLTO_PROMETHEUS_PORT" --web.enable-lifecycle \
    "${admin[@]}"
  wait_for prometheus 60 "$VENV/bin/python" -m ascolto.ready prometheus
}

# The configuration is generated from the environment's alert routing file and secrets
# directory (ASCOLTO_ALERT_ROUTING, ASCOLTO_ALERT_SECRETS_DIR; docs/alerting.md): with the
# defaults, the same as deploy/prometheus/alertmanager.yml.
up_alertmanager() {
  alive alertmanager && return 0
  install_prometheus
  mkdir -p "$AM_DIR"
  (cd "$ASCOLTO_ROOT" && "$VENV/bin/python" -m observability.alertmanager) >"$AM_DIR/alertmanager.yml.new" \
    || die "cannot generate Alertmanager's configuration (above)"
  amtool check-config "$AM_DIR/alertmanager.yml.new" >/dev/null \
    || die "amtool check-config $AM_DIR/alertmanager.yml.new failed"
  mv "$AM_DIR/alertmanager.yml.new" "$AM_DIR/alertmanager.yml"
  claim_port alertmanager "$ASCOLTO_ALERTMANAGER_PORT" ASCOLTO_ALERTMANAGER_PORT
  log "starting Alertmanager on $ASCOLTO_HOST:$ASCOLTO_ALERTMANAGER_PORT"
  start_bg alertmanager prometheus-alertmanager --config.file="$AM_DIR/alertmanager.yml" \
    --storage.path="$AM_DIR" --web.listen-address="$ASCOLTO_HOST:$ASCOLTO_ALERTMANAGER_PORT" \
    --cluster.listen-address=
  wait_for alertmanager 30 port_open "$ASCOLTO_ALERTMANAGER_PORT"
}

# ---------------------------------------------------------------- exporters
# prometheus-elasticsearch-exporter and the consumer-group lag exporter (Kafka's own metrics:
# the JMX exporter agent inside each broker, jmx_agent above)
source "$ASCOLTO_ROOT/deploy/exporters.sh"

# ---------------------------------------------------------------- ascolto's own processes
# Ingest and the worker connect as their own principals over SASL_SSL, with only their grants
# (docs/deploying.md#secured-connections), unless Kafka is the 3-node cluster (no SASL
# listener) or the environment names a connection of its own.
PRINCIPAL_ENV=()
principal_env() { # principal_env USER: PRINCIPAL_ENV, the `env` assignments for USER
  PRINCIPAL_ENV=()
  [ "$ASCOLTO_KAFKA_BROKERS" = 1 ] && [ "${ASCOLTO_KAFKA_SECURITY_PROTOCOL:-PLAINTEXT}" = PLAINTEXT ] \
    && [ "$ASCOLTO_KAFKA_BOOTSTRAP" = "$ASCOLTO_HOST:$ASCOLTO_KAFKA_PORT" ] || return 0
  PRINCIPAL_ENV=("ASCOLTO_KAFKA_BOOTSTRAP=$ASCOLTO_HOST:$ASCOLTO_KAFKA_SASL_SSL_PORT"
    ASCOLTO_KAFKA_SECURITY_PROTOCOL=SASL_SSL "ASCOLTO_KAFKA_SASL_USERNAME=$1"
    "ASCOLTO_KAFKA_SASL_PASSWORD_FILE=$SECRETS/kafka-$1.password"
    "ASCOLTO_KAFKA_SSL_CAFILE=$KAFKA_TLS/ca.crt")
}

up_ingest() {
  alive ingest && return 0
  claim_port ingest "$ASCOLTO_INGEST_PORT" ASCOLTO_INGEST_PORT
  log "starting the ingest service on http://$ASCOLTO_HOST:$ASCOLTO_INGEST_PORT"
  principal_env ascolto-ingest
  start_bg ingest env "${PRINCIPAL_ENV[@]}" "$VENV/bin/ascolto" serve-ingest
  wait_for ingest 30 "$VENV/bin/python" -m ascolto.ready ingest
}

up_worker() {
  alive worker && return 0
  claim_port worker "$ASCOLTO_WORKER_WEB_PORT" ASCOLTO_WORKER_WEB_PORT
  log "starting the Faust worker (web and /metrics on :$ASCOLTO_WORKER_WEB_PORT)"
  principal_env ascolto-worker
  start_bg worker env "${PRINCIPAL_ENV[@]}" "$VENV/bin/ascolto" worker
  wait_for worker 90 "$VENV/bin/python" -m ascolto.ready worker
}

# Nudges to the brands' support teams, from the file ASCOLTO_NUDGES names (docs/nudges.md).
# Over PLAINTEXT like the exporters: it has no principal of its own yet.
up_nudger() {
  alive nudger && return 0
  log "starting the nudger (ASCOLTO_NUDGES names the brands' webhooks: docs/nudges.md)"
  local before; before="$(nudger_starts)"
  claim_port nudger "$ASCOLTO_NUDGER_METRICS_PORT" ASCOLTO_NUDGER_METRICS_PORT
  start_bg nudger "$VENV/bin/ascolto" nudger --host "$ASCOLTO_HOST" \
    --metrics-port "$ASCOLTO_NUDGER_METRICS_PORT"
  wait_for nudger 60 nudger_started "$before"
}
nudger_starts() { grep -c 'ledger:' "$LOGS/nudger.log" 2>/dev/null || true; }
nudger_started() { [ "$(nudger_starts)" -gt "${1:-0}" ]; }

stop() { # stop NAME: TERM the process group, then KILL what is left after a grace period
  local name=$1 pid; pid="$(pid_of "$name")"
  if [ -n "$pid" ] && alive "$name"; then
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    # the whole group: Elasticsearch's server JVM outlives its launcher for a moment
    for _ in $(seq 1 60); do kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$PIDS/$name.pid" "$PIDS/$name.start"
}

status() {
  local name state
  for name in kafka elasticsearch prometheus alertmanager es-exporter lag-exporter ingest worker nudger; do
    if alive "$name"; then state="running (pid $(pid_of "$name"))"; else state="stopped"; fi
    printf '  %-14s %s\n' "$name" "$state"
  done
  printf '  %-14s %s\n' "kafka" "$ASCOLTO_KAFKA_BOOTSTRAP" "elasticsearch" "$ASCOLTO_ES_URL" \
    "prometheus" "$ASCOLTO_PROMETHEUS_URL" "ingest" "http://$ASCOLTO_HOST:$ASCOLTO_INGEST_PORT" \
    "worker" "http://$ASCOLTO_HOST:$ASCOLTO_WORKER_WEB_PORT/metrics" \
    "kafka-jmx" "http://$ASCOLTO_HOST:$ASCOLTO_KAFKA_JMX_EXPORTER_PORT/metrics" \
    "es-exporter" "http://$ASCOLTO_HOST:$ASCOLTO_ES_EXPORTER_PORT/metrics" \
    "lag-exporter" "http://$ASCOLTO_HOST:$ASCOLTO_LAG_EXPORTER_PORT/metrics" | sed 's/^/  url /'
  status_kafka_cluster
}

cmd="${1:-status}"; shift || true
case "$cmd" in
  prereqs) install_prereqs ;;
  browser) install_browser ;;
  install) install_all ;;
  up)
    [ $# -gt 0 ] || set -- "${INFRA[@]}"
    for c in "$@"; do
      case "$c" in
        kafka) up_kafka_or_cluster ;; elasticsearch|es) up_es ;; prometheus) up_prometheus ;;
        alertmanager) up_alertmanager ;; ingest) up_ingest ;; worker) up_worker ;;
        es-exporter) up_es_exporter ;; lag-exporter) up_lag_exporter ;; nudger) up_nudger ;;
        *) die "unknown component: $c" ;;
      esac
    done ;;
  down)
    [ $# -gt 0 ] || set -- "${ALL[@]}"
    for c in "$@"; do
      stop "$c"
      if [ "$c" = kafka ]; then down_kafka_cluster; fi
    done ;;
  restart) for c in "$@"; do stop "$c"; "$0" up "$c"; done ;;
  status) status ;;
  reload-prometheus) render_prometheus_config; curl -fsS -X POST "$ASCOLTO_PROMETHEUS_URL/-/reload" ;;
  clean)
    for c in "${ALL[@]}"; do stop "$c"; done
    down_kafka_cluster
    home="$(readlink -f "$ES_LINK" 2>/dev/null || true)"
    [ -n "$home" ] && rm -rf "$home/data" "$home/logs"
    rm -rf "$KAFKA_DIR/data" "$CLUSTER_DIR" "$PROM_DIR" "$AM_DIR" "$LOGS" "$PIDS" "$ASCOLTO_RUN_DIR/worker-data"
    log "state wiped (downloads kept in $ASCOLTO_RUN_DIR)" ;;
  *) die "usage: $0 install|up|down|restart|status|clean [component...]" ;;
esac
