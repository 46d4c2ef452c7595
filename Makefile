# Ascolto: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
STACK := deploy/stack.sh
# `ASCOLTO_KAFKA_BROKERS=3 make up|run`: the cluster's topics get 3 replicas, 2 in sync,
# unless the replication settings are given too.
ifeq ($(ASCOLTO_KAFKA_BROKERS),3)
export ASCOLTO_REPLICATION_FACTOR ?= 3
export ASCOLTO_MIN_INSYNC_REPLICAS ?= 2
endif

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Exactly the audited versions: the lock's, hashes checked; then the project alone.
.venv/.installed: pyproject.toml requirements.lock
	$(STACK) prereqs
	python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -r requirements.lock
	.venv/bin/pip install -q --no-deps -e .
	touch $@

venv: .venv/.installed ## create the Python virtual env with the pinned dependencies

lock: ## rewrite requirements.lock after a change of pyproject.toml's pins (reaches PyPI)
	deploy/audit/lock.sh

install: venv ## install everything: venv, Kafka, Elasticsearch, Prometheus (idempotent)
	$(STACK) install

up: install ## start Kafka, Elasticsearch, Prometheus, Alertmanager, exporters; topics, indices, API key
	$(STACK) up kafka elasticsearch prometheus alertmanager es-exporter lag-exporter
	.venv/bin/ascolto setup
	.venv/bin/ascolto keys local

run: up ## the main job: start the stack and the services, replay the demo, print a summary
	$(STACK) up ingest worker
	.venv/bin/ascolto demo

down: ## stop everything (services and stack)
	$(STACK) down

status: ## what runs, and where
	$(STACK) status

clean: ## stop everything and wipe local state under .run/ (downloads are kept)
	$(STACK) clean

bench: up ## benchmark on the local stack (setup included): SIZE=N, SOAK=1, BENCH_ARGS=...
	$(PY) -m bench.run $(if $(SIZE),--size $(SIZE)) $(if $(SOAK),--soak) $(BENCH_ARGS)

image: ## the OCI image localhost/ascolto:latest with podman (docs/deploying.md, "The image")
	deploy/image/build.sh

audit: venv ## the locked dependencies against the vendored advisories (docs/security.md)
	$(PY) -m deploy.audit

lint: venv ## ruff and mypy
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

grafana: venv ## regenerate rules, dashboards, alertmanager.yml from observability/ (commit them)
	$(PY) -m observability

config-doc: venv ## regenerate docs/configuration.md from ascolto/config.py (commit the result)
	$(PY) -m ascolto.settings_doc >docs/configuration.md

check-observability: venv ## generated rules and dashboards up to date; promtool/amtool checks
	$(PY) -m observability --check
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml
	@tmp="$$(mktemp -d)" && trap 'rm -rf "$$tmp"' EXIT && mkdir "$$tmp/rules" \
	  && cp deploy/prometheus/rules/*.yml "$$tmp/rules/" \
	  && source deploy/env.sh \
	  && sed -e "s|@INGEST@|$$ASCOLTO_HOST:$$ASCOLTO_INGEST_PORT|g" \
	         -e "s|@WORKERS@|'$$ASCOLTO_HOST:$$ASCOLTO_WORKER_WEB_PORT'|g" \
	         -e "s|@ALERTMANAGER@|$$ASCOLTO_HOST:$$ASCOLTO_ALERTMANAGER_PORT|g" \
	         -e "s|@KAFKA_JMX@|'$$ASCOLTO_HOST:$$ASCOLTO_KAFKA_JMX_EXPORTER_PORT'|g" \
	         -e "s|@ES_EXPORTER@|$$ASCOLTO_HOST:$$ASCOLTO_ES_EXPORTER_PORT|g" \
	         -e "s|@LAG_EXPORTER@|$$ASCOLTO_HOST:$$ASCOLTO_LAG_EXPORTER_PORT|g" \
	         -e "s|@NUDGER@|$$ASCOLTO_HOST:$$ASCOLTO_NUDGER_METRICS_PORT|g" \
	         -e "s|@RULES@|$$tmp/rules|g" -e "s|@SCRAPE_INTERVAL@|$$ASCOLTO_SCRAPE_INTERVAL|g" \
	         deploy/prometheus/prometheus.yml >"$$tmp/prometheus.yml" \
	  && echo "promtool check config deploy/prometheus/prometheus.yml (rendered)" \
	  && promtool check config "$$tmp/prometheus.yml"
	amtool check-config deploy/prometheus/alertmanager.yml

helm-check: venv ## the Helm chart offline: helm lint, template, Kubernetes schemas (builds helm once)
	deploy/helm/check.sh

test-unit: venv ## unit and property tests only: no stack, no services (about a minute)
	.venv/bin/pytest -q -p no:cacheprovider tests/unit

# The fault suite's longest tests (docs/reliability.md): apart from `make test`, which they
# would take past CI's half-hour budget (about 6 and 3 minutes, and the 182,640-contact replay);
# `make test-faults` runs them.
LONG_FAULTS := tests/faults/test_es_rejections.py tests/faults/test_disk_full.py \
  tests/faults/test_worker_kills.py

test: up ## the whole suite against the real stack (setup included), but the image's test
	$(MAKE) lint audit check-observability helm-check
	deploy/stack.sh browser
	.venv/bin/pytest -q -p no:cacheprovider --ignore=tests/integration/test_image.py \
	  $(addprefix --ignore=,$(LONG_FAULTS))

test-faults: up ## the fault suite, all of it, on servers of its own; writes docs/reliability.md
	.venv/bin/pytest -q -p no:cacheprovider tests/faults

# Apart from `make test`: a cold image build takes 6-11 minutes here, which would take the
# suite past its half-hour budget.
test-image: up ## build the image, then run the walking skeleton on its ingest and worker
	.venv/bin/pytest -q -p no:cacheprovider tests/integration/test_image.py

.PHONY: help venv install up run down status clean bench lint test test-unit config-doc image helm-check test-image audit lock test-faults
