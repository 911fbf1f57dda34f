# mockcamb: every target sets itself up (creates .venv and installs) when it needs to.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
HOST   ?= 127.0.0.1
STAMP  := $(VENV)/.installed-stamp
# The package's bytecode, written as a wheel install writes it (an editable install does not,
# and with PYTHONDONTWRITEBYTECODE set every start would compile the sources again: about
# 80 ms of `mockcamb serve`'s start-up, and of every server a test starts). Brought up to date
# before the tests and the benchmarks: only changed files are compiled.
BYTECODE = $(BIN)/python -m compileall -q mockcamb

.PHONY: install serve test lint unit contract contract-live bench soak build clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BYTECODE)
	touch $(STAMP)

## install: create .venv with the package, dev and test tools
install: $(STAMP)

## serve: run the emulator on http://$(HOST):$(PORT)/apis (PORT=8080 by default)
serve: $(STAMP)
	$(BIN)/mockcamb serve --host $(HOST) --port $(PORT) $(ARGS)

## lint: ruff (lint + import order) and mypy --strict on the package
lint: $(STAMP)
	$(BIN)/ruff check mockcamb tests contract_tests benchmarks
	$(BIN)/mypy mockcamb

## test: lint, unit tests and the contract suite against a fresh emulator
## (two sessions: tests/ runs the contract suite in-process against broken servers)
test: lint
	$(BYTECODE)
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest contract_tests --camb-client mockcamb.client:poll

unit: $(STAMP)
	$(BIN)/python -m pytest tests

contract: $(STAMP)
	$(BIN)/python -m pytest contract_tests --camb-client mockcamb.client:poll

## contract-live: the contract suite against CAMB_BASE_URL with CAMB_API_KEY and CAMB_TASK_IDS
contract-live: $(STAMP)
	HYPOTHESIS_PROFILE=live $(BIN)/python -m pytest contract_tests -p no:cacheprovider \
		--camb-base-url "$${CAMB_BASE_URL:-https://client.camb.ai/apis}"

## bench: benchmarks with figures (not part of make test)
bench: $(STAMP)
	$(BYTECODE)
	$(BIN)/python benchmarks/run.py

## soak: bounded soak test over thousands of tasks (opt-in), then one on Redis (2 workers)
## with a Redis restart halfway through (needs redis-server)
soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py
	$(BIN)/python benchmarks/soak.py --redis-restart --seconds 40 --tasks 1500 --pollers 32

build: $(STAMP)
	$(BIN)/python -m build

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
