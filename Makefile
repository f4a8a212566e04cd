# Everyday commands. `make demo` and `make test` work on a fresh machine with Python 3.11+.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))'; \
	then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
DEMO_ARGS ?=
CODE := webapp workers storefront shop commissions referral adapters core bots sandbox
# Every bench/*.py except helpers is a benchmark printing a last line `RESULT key=value ...`.
BENCHES ?= $(filter-out bench/__init__.py bench/bare_app.py bench/echo_bare_app.py bench/echo_werobot_app.py bench/support.py,$(wildcard bench/*.py))

.PHONY: install demo test test-fast bench lint typecheck clean services

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "ChatShop needs Python 3.11 or newer on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install ChatShop with its dev tools

demo: install ## run the demo shop: web, worker, embedded Redis and the WeChat sandbox
	$(BIN)/chatshop demo $(DEMO_ARGS)

services: ## make sure PostgreSQL's server programs are present for the tests
	@bash scripts/ensure-test-services.sh

test: install services ## lint, layer contracts, type-check, then the whole suite (SQLite, PostgreSQL, real Redis)
	$(BIN)/ruff check $(CODE) tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy $(CODE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install ## unit tests only
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

bench: install services ## benchmarks; each prints a last line `RESULT key=value ...`
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: install ## ruff and the layer contracts (import-linter)
	$(BIN)/ruff check $(CODE) tests bench
	$(BIN)/lint-imports

typecheck: install ## mypy
	$(BIN)/mypy $(CODE)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
