# The two commands of a fresh machine: `make run` (the demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck messages clean bench bench-peers

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-installed: $(BIN)/python requirements/run.lock pyproject.toml
	scripts/build-deps
	$(BIN)/pip install --quiet -r requirements/run.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements/dev.lock
	$(BIN)/pip install --quiet -r requirements/dev.lock
	touch $@

## make run: the demo on http://127.0.0.1:8000 (SQLite under var/, demo outbox)
run: $(VENV)/.run-installed
	ENT_DEMO=1 $(BIN)/ent demo

## make test: the whole suite (SQLite, or PostgreSQL when ENT_DATABASE_URL says so)
test: $(VENV)/.dev-installed
	scripts/test-deps
	$(BIN)/pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check ent tests bench
	$(BIN)/ruff format --check ent tests bench
	ENT_DEMO=1 $(BIN)/mypy ent

typecheck: $(VENV)/.dev-installed
	ENT_DEMO=1 $(BIN)/mypy ent

messages: $(VENV)/.dev-installed
	# Then translate the new entries of ent/locale/en/LC_MESSAGES/django.po and run it again.
	cd ent && ENT_DEMO=1 ../$(BIN)/ent makemessages -l en --no-obsolete && ENT_DEMO=1 ../$(BIN)/ent compilemessages -l en
	$(BIN)/python scripts/french-plurals

clean:
	rm -rf $(VENV) var .pytest_cache

## make bench: the figures of bench/README.md, printed and written to bench/results.md (PostgreSQL)
bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py

## make bench-peers: ENT beside django-cas-server and django-oauth-toolkit in one run, with the
## harness of ../shared/peers/ (built by its setup.sh); a table in bench/results.md (~25 min)
PEERS_DIR ?= ../shared/peers
bench-peers: $(VENV)/.dev-installed
	bash $(PEERS_DIR)/setup.sh
	$(BIN)/python bench/peers.py --peers-dir $(PEERS_DIR)
