# Sourced by deploy/stack.sh: the exporters that watch Elasticsearch and Kafka's consumer
# groups for Prometheus (jobs elasticsearch and kafka-lag of deploy/prometheus/prometheus.yml;
# alerts in observability/infra_alerts.py). Uses stack.sh's helpers (start_bg, claim_port, ...).

# Elasticsearch's health for Prometheus: the Prometheus community's exporter, from Debian's
# package. Security is off on the local node (deploy/elasticsearch/elasticsearch.yml); on a
# secured cluster it reads ES_USERNAME/ES_PASSWORD from its environment, not its command line.
install_es_exporter() {
  command -v prometheus-elasticsearch-exporter >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "the Elasticsearch exporter is installed from Debian's packages: run as root, or apt-get install prometheus-elasticsearch-exporter"
  log "installing prometheus-elasticsearch-exporter from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus-elasticsearch-exporter >/dev/null
  pkill -u prometheus -x prometheus-elasticsearch-exporter 2>/dev/null || true  # the package's service
}

up_es_exporter() {
  alive es-exporter && return 0
  install_es_exporter
  claim_port es-exporter "$ASCOLTO_ES_EXPORTER_PORT" ASCOLTO_ES_EXPORTER_PORT
  log "starting the Elasticsearch exporter on :$ASCOLTO_ES_EXPORTER_PORT"
  start_bg es-exporter prometheus-elasticsearch-exporter --es.uri="$ASCOLTO_ES_URL" --es.timeout=4s \
    --web.listen-address="$ASCOLTO_HOST:$ASCOLTO_ES_EXPORTER_PORT"
  # it listens once its first cluster-info call answers, or after 10s if that fails
  wait_for es-exporter 30 port_open "$ASCOLTO_ES_EXPORTER_PORT"
}

# Every consumer group's lag, from the broker (services/lag_exporter.py)
up_lag_exporter() {
  alive lag-exporter && return 0
  claim_port lag-exporter "$ASCOLTO_LAG_EXPORTER_PORT" ASCOLTO_LAG_EXPORTER_PORT
  log "starting the consumer-group lag exporter on :$ASCOLTO_LAG_EXPORTER_PORT"
  start_bg lag-exporter "$VENV/bin/ascolto" lag-exporter --host "$ASCOLTO_HOST" --port "$ASCOLTO_LAG_EXPORTER_PORT"
  wait_for lag-exporter 30 port_open "$ASCOLTO_LAG_EXPORTER_PORT"
}
