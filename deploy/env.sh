# Shared settings for the local stack scripts. Every value can be overridden from the
# environment. Each is declared, with its meaning, in ascolto/config.py and listed in
# docs/configuration.md; tests/unit/test_settings_declared.py checks these defaults against it.
ASCOLTO_ROOT="${ASCOLTO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export ASCOLTO_RUN_DIR="${ASCOLTO_RUN_DIR:-$ASCOLTO_ROOT/.run}"
export ASCOLTO_HOST="${ASCOLTO_HOST:-127.0.0.1}"

export ASCOLTO_KAFKA_PORT="${ASCOLTO_KAFKA_PORT:-19092}"
export ASCOLTO_KAFKA_CONTROLLER_PORT="${ASCOLTO_KAFKA_CONTROLLER_PORT:-19093}"
export ASCOLTO_KAFKA_SASL_SSL_PORT="${ASCOLTO_KAFKA_SASL_SSL_PORT:-19096}"
export ASCOLTO_KAFKA_SSL_PORT="${ASCOLTO_KAFKA_SSL_PORT:-19097}"
export ASCOLTO_KAFKA_BOOTSTRAP="${ASCOLTO_KAFKA_BOOTSTRAP:-$ASCOLTO_HOST:$ASCOLTO_KAFKA_PORT}"
export ASCOLTO_KAFKA_HEAP="${ASCOLTO_KAFKA_HEAP:-512m}"
export ASCOLTO_KAFKA_BROKERS="${ASCOLTO_KAFKA_BROKERS:-1}"
export ASCOLTO_KAFKA_VERSION=3.9.1

export ASCOLTO_ES_PORT="${ASCOLTO_ES_PORT:-19200}"
export ASCOLTO_ES_TRANSPORT_PORT="${ASCOLTO_ES_TRANSPORT_PORT:-19300}"
export ASCOLTO_ES_URL="${ASCOLTO_ES_URL:-http://$ASCOLTO_HOST:$ASCOLTO_ES_PORT}"
export ASCOLTO_ES_HEAP="${ASCOLTO_ES_HEAP:-768m}"
export ASCOLTO_ES_VERSION=8.19.7
export ASCOLTO_ES_USER="${ASCOLTO_ES_USER:-ascolto-es}"

export ASCOLTO_PROMETHEUS_PORT="${ASCOLTO_PROMETHEUS_PORT:-19090}"
export ASCOLTO_PROMETHEUS_URL="${ASCOLTO_PROMETHEUS_URL:-http://$ASCOLTO_HOST:$ASCOLTO_PROMETHEUS_PORT}"
export ASCOLTO_ALERTMANAGER_PORT="${ASCOLTO_ALERTMANAGER_PORT:-19094}"
export ASCOLTO_SCRAPE_INTERVAL="${ASCOLTO_SCRAPE_INTERVAL:-5s}"
export ASCOLTO_PROMETHEUS_ADMIN_API="${ASCOLTO_PROMETHEUS_ADMIN_API:-false}"

export ASCOLTO_INGEST_PORT="${ASCOLTO_INGEST_PORT:-18080}"
export ASCOLTO_WORKER_WEB_PORT="${ASCOLTO_WORKER_WEB_PORT:-16066}"

# Java: Kafka and Elasticsearch both run on the machine's JDK (17+).
if [ -z "${JAVA_HOME:-}" ] && command -v java >/dev/null; then  # none yet: `stack.sh prereqs`
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
fi
export JAVA_HOME

VENV="$ASCOLTO_ROOT/.venv"
PIDS="$ASCOLTO_RUN_DIR/pids"
LOGS="$ASCOLTO_RUN_DIR/logs"
