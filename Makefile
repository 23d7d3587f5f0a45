# The two set-up commands of the README, plus helpers. Everything installs from this repository's files.
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
export FLASK_APP := wsgi

.PHONY: run test sandbox lint up down

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# The portal on its embedded default: SQLite under instance/, jobs in-process, sandbox providers mounted
# at /sandbox/cloudpayments and /sandbox/yookassa on the same port (so their addresses follow PORT).
run: export SANDBOX_URL ?= http://127.0.0.1:$(PORT)/sandbox/cloudpayments
run: export PUBLIC_URL ?= http://127.0.0.1:$(PORT)
run: $(VENV)/.runtime
	$(VENV)/bin/flask db upgrade
	$(VENV)/bin/flask seed-demo
	$(VENV)/bin/flask run --host 127.0.0.1 --port $(PORT) --with-threads

# The whole suite against real PostgreSQL, Redis and RabbitMQ (started here when installed but stopped).
# Browser tests drive Debian's Chromium; it is installed here when apt-get can (they skip, saying so, if not).
# Two processes per run by default (each with a database, Redis claim and vhost of its own): on this 2-core
# machine the suite waits on browsers, workers and sockets as much as it computes. TEST_WORKERS=0 runs it in one.
TEST_WORKERS ?= 2
test: $(VENV)/.dev
	bash tests/services.sh
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && \
		{ apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; } ; } || \
		echo "make test: Chromium could not be installed (apt-get install -y chromium); browser tests will skip"
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile

# The provider emulators alone, as the sandbox process of the Procfile: CloudPayments at the root,
# YooKassa under /yookassa (its API at http://127.0.0.1:8001/yookassa/v3).
sandbox: $(VENV)/.runtime
	$(PY) -m portal.sandbox --host 127.0.0.1 --port 8001

# The production topology on this machine (README, "Trying the real topology"): every Procfile process under
# honcho in the background, against the local PostgreSQL, Redis and RabbitMQ (or deploy/portal.env's URLs).
up: $(VENV)/.runtime
	bash tests/services.sh
	$(PY) deploy/up.py up

down:
	python3 deploy/up.py down

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

# Benchmarks against the production topology (bench/README.md); not part of `make test`. About 10 minutes.
.PHONY: bench
bench: $(VENV)/.runtime
	command -v wrk >/dev/null || apt-get install -y wrk || { echo "bench needs wrk: apt-get install -y wrk" >&2; exit 1; }
	$(PY) -m pip install --quiet -r bench/requirements.txt
	bash tests/services.sh
	$(PY) bench/run.py $(BENCH_ARGS)

# Mutation run over the money rules (tests/mutation/README.md); not part of `make test`. Under 30 minutes.
.PHONY: mutation
mutation: $(VENV)/.dev
	bash tests/services.sh
	$(PY) -m tests.mutation.run $(MUTATION_ARGS)
