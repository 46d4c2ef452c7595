#!/usr/bin/env bash
# Check the Helm chart offline (`make helm-check`; `make test` runs it): helm lint, helm template
# with the default values and with the files under deploy/helm/ascolto/ci/ and
# deploy/helm/examples/*values*.yaml, then every rendered manifest and every example resource
# through deploy/helm/validate.py (Kubernetes' schemas; custom resources by their CRDs' shape).
#
# helm itself is built once from the Go module proxy into $ASCOLTO_RUN_DIR/tools/ (a few
# minutes on 2 cores, cached: later runs take seconds). Go must be installed (the machine has
# it at /usr/local/go).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"

HELM_VERSION=v4.3.2
HERE="$ASCOLTO_ROOT/deploy/helm"
CHART="$HERE/ascolto"
TOOLS="$ASCOLTO_RUN_DIR/tools/helm-$HELM_VERSION"
HELM="$TOOLS/helm"
OUT="$ASCOLTO_RUN_DIR/helm"

log() { printf '\033[1m[helm]\033[0m %s\n' "$*" >&2; }

if [ ! -x "$HELM" ]; then
  go="$(command -v go || true)"
  [ -n "$go" ] || go=/usr/local/go/bin/go
  [ -x "$go" ] || { log "ERROR: Go is needed to build helm (none on PATH or in /usr/local/go)"; exit 1; }
  log "building helm $HELM_VERSION from the Go module proxy into $TOOLS (once)"
  mkdir -p "$TOOLS"
  GOBIN="$TOOLS" GOFLAGS=-buildvcs=false "$go" install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
fi

rm -rf "$OUT" && mkdir -p "$OUT"
# Isolated from any helm configuration on the machine: no repositories, no plugins.
export HELM_CACHE_HOME="$OUT/.cache" HELM_CONFIG_HOME="$OUT/.config" HELM_DATA_HOME="$OUT/.data"

rendered=()
render() { # render NAME [helm options...]
  local name="$1"; shift
  log "lint and template: $name"
  "$HELM" lint --strict --quiet "$CHART" "$@"
  "$HELM" template ascolto "$CHART" --namespace ascolto "$@" >"$OUT/$name.yaml"
  rendered+=("$OUT/$name.yaml")
}
# The chart's defaults name no API key store, which it refuses (below): the least to add.
KEYS=(--set ingest.keys.secretName=ascolto-ingest-keys)
render default "${KEYS[@]}"
for values in "$CHART"/ci/*-values.yaml "$HERE"/examples/*values*.yaml; do
  [ -e "$values" ] && render "$(basename "$values" .yaml)" --values "$values"
done

# Settings the chart refuses, each with its reason.
refused() { # refused EXPECTED-MESSAGE helm options...
  local expected="$1"; shift
  if out="$("$HELM" template ascolto "$CHART" "$@" 2>&1)"; then
    log "ERROR: helm template $* rendered; expected a refusal: $expected"; exit 1
  fi
  grep -qF "$expected" <<<"$out" || { log "ERROR: helm template $*: $out"; exit 1; }
}
refused "more than kafka.partitions=12" "${KEYS[@]}" --set worker.replicas=13
refused "elasticsearch.auth.type: none, apiKey or basic" "${KEYS[@]}" \
  --set elasticsearch.auth.type=token
refused "SASL_SSL needs its secretName (or a password)" "${KEYS[@]}" \
  --set kafka.securityProtocol=SASL_SSL
refused "ingest.keys.secretName: name the Secret holding ingest's API key store"

examples=()
for manifest in "$HERE"/examples/*.yaml; do
  [[ "$manifest" == *values* ]] || examples+=("$manifest")
done
"$ASCOLTO_ROOT/.venv/bin/python" "$HERE/validate.py" "${rendered[@]}" "${examples[@]}"
