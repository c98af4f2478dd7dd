# The README's commands. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Test worker processes for `make test` (pytest-xdist): one per core.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)
# `make` alone lists the targets; it installs and starts nothing.
.DEFAULT_GOAL := help

.PHONY: help run run-package test lint typecheck browser unit functional integration e2e bench clean clean-data

## help: this list (also what `make` alone prints)
help:
	@echo "make <target>, where <target> is one of:"
	@awk '/^## [a-z][a-z0-9-]*: / { name = substr($$2, 1, length($$2) - 1); \
	  sub(/^## [a-z][a-z0-9-]*: /, ""); printf "  %-15s %s\n", name, $$0 }' $(MAKEFILE_LIST)
	@echo "Every target but help, browser and clean installs what it needs into $(VENV) first (see README.md)."

# A line per step, and pip's own progress for the big install: the first run takes minutes.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@echo "Installing the dependencies into $(VENV) (the first run takes about 2 minutes; pip's progress follows)"
	@test -x $(PY) || { echo "[1/4] creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "[2/4] pip itself"
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip<26.3"  # chalice 1.34 packages with pip and requires <26.3
	@echo "[3/4] requirements-dev.txt: chalice, boto3, moto, pytest, playwright and the rest"
	$(PY) -m pip install --disable-pip-version-check -r requirements-dev.txt
	@echo "[4/4] this project (editable)"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)
	@echo "Installed: $(VENV) is ready."

## run: the whole local stack (WebSocket emulator + embedded DynamoDB) on HOST:PORT
run: $(STAMP)
	$(PY) -m chatlocal

## run-package: the local stack serving the deployment package instead of the source tree
##   (chalice package, unpacked into build/local-package/code; worker processes that see only
##   its contents and the stdlib)
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

## lint: ruff's checks and its format check
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## typecheck: mypy (configured in pyproject.toml)
typecheck: $(STAMP)
	$(PY) -m mypy

## unit: the unit tier (tests/unit: no I/O)
## functional: the functional tier (tests/functional: moto and fakes)
## integration: the integration tier (tests/integration: real sockets to a local stack)
## e2e: the browser tier (tests/e2e: Chromium through Playwright)
unit functional integration e2e: $(STAMP)
	$(PY) -m pytest tests/$@

## bench: the benchmarks: load, a send's deployed latency and cost, changes, uploads
##   the local stack under load (bench.load), then a send's deployed latency and cost (bench.aws;
##   see docs/latency.md and docs/cost.md), then what edits, reactions and deletes cost
##   (bench.changes), then the local stack's upload throughput (MB/s for a 25 MiB file through
##   the presigned POST: bench.uploads)
bench: $(STAMP)
	$(PY) -m bench.load
	$(PY) -m bench.aws
	$(PY) -m bench.changes
	$(PY) -m bench.uploads

## cost: what a message.send costs on AWS; rewrites docs/cost.md and the README's cost table
##   (measured counts, us-east-1 prices, Ably, Stream and Pusher beside it, the cold-start import
##   of app next to boto3's; prints the tables)
## bench-deployed: send latency with AWS latency injected; rewrites docs/latency.md
##   (time-to-ack and time-to-last-delivery; prints the table)
.PHONY: cost bench-deployed
cost: $(STAMP)
	$(PY) -m bench.cost --write

bench-deployed: $(STAMP)
	$(PY) -m bench.deployed --write

## chaos: 5 minutes of faults, stack pauses and cut connections against a fresh local stack
##   prints faults, messages, acks, retries, duplicates, lost, leaked and time to converge (exit 1
##   on a violation)
.PHONY: chaos
chaos: $(STAMP)
	$(PY) -m chaos --duration 300

## clean-data: wipe the local stack's data folder (CHAT_DATA_DIR, default .local)
##   chats, messages, files, the JWT secret and the VAPID key
clean-data: $(STAMP)
	$(PY) -m chatlocal.datadir clean

## clean: remove .venv and the tools' caches (not the local stack's data: see clean-data)
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
