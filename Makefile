# gm_server_notify: `make run` starts the service, `make test` runs the suite (README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Every target here is a developer's tool: the settings may generate their secret key into var/ and
# keep the HTTPS-only production settings off (docs/configuration.md). Production never runs make.
export GM_EMBEDDED_DEFAULTS ?= 1


.PHONY: bench bench-accept bench-bulk bench-stats bench-phases bench-mixed bench-scale bench-intake bench-lanes
.PHONY: run services test test-fast lint format simulator worker flower schema clean chaos fuzz mutation screenshots

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.deps: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.deps-mysql: requirements-mysql.txt | $(VENV)/.deps
	$(PIP) install --quiet -r requirements-mysql.txt
	touch $@

$(VENV)/.deps-dev: requirements-dev.txt $(VENV)/.deps
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

# mysqlclient only when DATABASE_URL asks for MySQL: the embedded default needs no C headers.
RUN_DEPS := $(VENV)/.deps $(if $(filter mysql%,$(DATABASE_URL)),$(VENV)/.deps-mysql)

# nginx (Debian's package) is the front make run publishes on $PORT: installed here when missing.
run: $(RUN_DEPS)
	bash scripts/ensure_nginx.sh
	bash scripts/run.sh

services:
	bash scripts/ensure_services.sh

test: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	bash scripts/test.sh $(ARGS)

# The chaos test at the issue's size: 20,000 recipients, each fault in turn (MariaDB and Redis
# stopped and SIGKILLed, the worker and a pool child SIGKILLed); figures in var/chaos/*.json
# (docs/performance.md records them).
chaos: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	CHAOS_RECIPIENTS=$${CHAOS_RECIPIENTS:-20000} bash scripts/test.sh tests/e2e/test_chaos.py -s $(ARGS)

# schemathesis against the live service, each API family for FUZZ_MAX_SECONDS (default 600) and up to
# FUZZ_MAX_EXAMPLES cases per operation; make test runs the same at 20 examples and 40 s a family.
fuzz: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	FUZZ_MAX_SECONDS=$${FUZZ_MAX_SECONDS:-600} FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-2000} \
		bash scripts/test.sh tests/fuzz -s $(ARGS)

# SQLite, the file cache and the filesystem broker: no MySQL or Redis needed (the suite's own variables
# for them are cleared). Tests that need a worker, Redis or MySQL, and the slow fuzz and make run stack
# tests, are skipped with their reason (docs/testing.md). .ci/run runs it beside make test.
test-fast: $(VENV)/.deps-dev
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL TEST_FAST=1 GM_VAR_DIR=$(CURDIR)/var/test-fast \
		SMS_SERVICE_TOKENS=test-service-token SMS_CALLBACK_TOKEN=test-callback-token \
		$(VENV)/bin/pytest $(ARGS)

# The console's pages at 1280 and 390 px into docs/images/ (README.md and docs/operations.md show
# them): a seeded week of station and tenant traffic, the live service, headless Chromium with CJK
# fonts (scripts/ensure_services.sh installs them), on SQLite like test-fast.
screenshots: services $(VENV)/.deps-dev
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL TEST_FAST=1 GM_VAR_DIR=$(CURDIR)/var/screenshots \
		SMS_SERVICE_TOKENS=test-service-token SMS_CALLBACK_TOKEN=test-callback-token SCREENSHOTS_DIR=docs/images \
		$(VENV)/bin/pytest tests/e2e/test_screenshots.py -q $(ARGS)

# Mutation testing of the money and state code (docs/testing.md, "Mutation testing"): mutmut, one
# module at a time (MUTATION_MODULES), on SQLite with Redis as the cache (TEST_REDIS_URL), one mutant
# at a time: the tests share that Redis. Prints killed/total per module; fails under 90 %. Not in CI.
MUTATION_MODULES ?= ledger reports idempotency limits pipeline
mutation: services
	$(MAKE) $(VENV)/.deps-dev
	rm -rf mutants var/mutation && mkdir -p var/mutation
	for module in $(MUTATION_MODULES); do \
		env -u DATABASE_URL -u CELERY_BROKER_URL GM_VAR_DIR=$(CURDIR)/var/mutation \
			REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
			SMS_SERVICE_TOKENS=test-service-token SMS_CALLBACK_TOKEN=test-callback-token \
			nice -n 10 $(PY) scripts/mutation.py run $$module >var/mutation/$$module.log 2>&1 \
			|| { tail -n 40 var/mutation/$$module.log; exit 1; }; \
	done
	$(PY) scripts/mutation.py score

lint: $(VENV)/.deps-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.deps-dev
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

simulator: $(VENV)/.deps
	$(PY) -m providers.simulator

# One worker on every queue (every dispatch lane, reports, webhooks): enough for development, with
# no lane's capacity kept apart. LANE=priority, transactional or bulk runs that lane's worker alone,
# on the queues make run gives it (scripts/supervisord.conf; docs/deploy.md, "Dispatch lanes").
LANE_QUEUES_priority := sms_priority
LANE_QUEUES_transactional := default,sms_transactional,sms_reports
LANE_QUEUES_bulk := sms_bulk
worker: $(RUN_DEPS)
	$(VENV)/bin/celery -A gm_server_notify worker --loglevel INFO $(if $(LANE),--queues \
		$(or $(LANE_QUEUES_$(LANE)),$(error LANE=$(LANE): priority, transactional or bulk)) --hostname $(LANE)@%h)

flower: $(RUN_DEPS)
	$(VENV)/bin/celery -A gm_server_notify flower --port=$${FLOWER_PORT:-5555}

schema: $(VENV)/.deps
	$(PY) manage.py spectacular --file var/openapi.yaml --validate

clean:
	rm -rf var/test var/test-fast var/mutation mutants .pytest_cache

# Benchmarks (bench/, docs/performance.md): MariaDB, Redis, gunicorn, a worker, the simulator, wrk.
bench: bench-accept bench-bulk bench-stats bench-phases bench-mixed bench-intake bench-lanes

bench-accept: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	$(PY) -m bench.accept_sends

# Both push shapes: each gateway report in a request of its own (seed 002, the headline:
# bench/results/bulk_send.json) and 100 to a request (the shortcut: bulk_send-push100.json).
bench-bulk: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	$(PY) -m bench.bulk_send
	$(PY) -m bench.bulk_send --push-batch 100

bench-stats: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	$(PY) -m bench.statistics_scale

bench-phases: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	$(PY) -m bench.phases

bench-mixed: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	$(PY) -m bench.mixed_load

# Report intake: 50,000 single-report gateway pushes at 32 connections, applied by the workers;
# then the floors (a bare Django view's insert, an empty Django view). About two minutes.
bench-intake: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	$(PY) -m bench.intake $(ARGS)

# Lanes (issue 31): verify codes and a second tenant's messages, idle, during a single-report push
# storm and during a 150,000-recipient blast (--blast 1000000: the issue's size), with a worker per
# lane; then the same blast on one worker consuming every queue. About twelve minutes.
bench-lanes: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	$(PY) -m bench.lanes $(ARGS)

# The bulk benchmark scaled: 10,000 to 1,000,000 recipients; RabbitMQ as the broker (a vhost of the
# benchmarks' own); two worker nodes. Minutes, not seconds: figures in bench/results/bulk_send*.json.
bench-scale: services
	$(MAKE) $(VENV)/.deps-mysql $(VENV)/.deps-dev
	rabbitmqctl add_vhost gm_bench >/dev/null 2>&1 || true
	rabbitmqctl set_permissions -p gm_bench guest '.*' '.*' '.*' >/dev/null
	$(PY) -m bench.bulk_send --sizes 10000,100000,1000000 --baseline 0
	$(PY) -m bench.bulk_send --broker rabbitmq --baseline 0
	$(PY) -m bench.bulk_send --nodes 2 --baseline 0
	$(PY) -m bench.bulk_send --broker rabbitmq --nodes 2 --baseline 0
