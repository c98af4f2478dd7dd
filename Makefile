# The README's commands. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Test worker processes for `make test` (pytest-xdist): one per core.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run run-package test lint typecheck browser unit functional integration e2e bench clean clean-data

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip<26.3"  # chalice 1.34 packages with pip and requires <26.3
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

## run: the whole local stack (WebSocket emulator + embedded DynamoDB) on HOST:PORT
run: $(STAMP)
	$(PY) -m chatlocal

## run-package: the local stack serving the deployment package (chalice package, unpacked into
## build/local-package/code) from worker processes that see only its contents and the stdlib
run-package: $(STAMP)
	$(PY) -m chatlocal.package build/local-package
	CHAT_LAMBDA_PACKAGE=build/local-package/code $(PY) -m chatlocal

## test: lint, type-check and every test tier (the browser tier needs Chromium: see browser)
test: lint typecheck browser
	calls=$$(mktemp -d) && trap 'rm -rf "$$calls"' EXIT && \
	CHAT_AWS_CALLS_DIR=$$calls $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not after_suite" && \
	CHAT_AWS_CALLS_DIR=$$calls $(PY) -m pytest -m after_suite

## browser: Debian's Chromium for the browser tests (Playwright cannot download its own here)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; } \
	  || echo "Could not install chromium: the browser tests will be skipped (or fail under CI)."; }

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

unit functional integration e2e: $(STAMP)
	$(PY) -m pytest tests/$@

## bench: the local stack under load, then a send's deployed latency and cost (bench.aws; see
## docs/latency.md and docs/cost.md), then what edits, reactions and deletes cost (bench.changes),
## then the local stack's upload throughput (MB/s for a 25 MiB file through the presigned POST)
bench: $(STAMP)
	$(PY) -m bench.load
	$(PY) -m bench.aws
	$(PY) -m bench.changes
	$(PY) -m bench.uploads

## cost: what a message.send costs on AWS (measured counts, us-east-1 prices, Ably and Pusher
## beside it); prints the tables and rewrites docs/cost.md
## bench-deployed: time-to-ack and time-to-last-delivery with AWS latency injected; prints the
## table and rewrites docs/latency.md
.PHONY: cost bench-deployed
cost: $(STAMP)
	$(PY) -m bench.cost --write

bench-deployed: $(STAMP)
	$(PY) -m bench.deployed --write

## chaos: 5 minutes of faults, stack pauses and cut connections against a fresh local stack; prints
## faults, messages, acks, retries, duplicates, lost, leaked and time to converge (exit 1 on a violation)
.PHONY: chaos
chaos: $(STAMP)
	$(PY) -m chaos --duration 300

## clean-data: wipe the local stack's data folder (CHAT_DATA_DIR, default .local): chats, messages, JWT secret
clean-data: $(STAMP)
	$(PY) -m chatlocal.datadir clean

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
