# Developer entry points. Every target bootstraps .venv on first use, so a fresh clone needs only
# Python >= 3.10 (and Go for the interop tests against durabletask-go).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install example test lint proto interop-prereqs bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

## Run an example orchestration end to end on the embedded fake sidecar.
example: $(STAMP)
	$(BIN)/python examples/human_interaction.py

## Install what the interop tests need: durabletask-go and the published SDK in a throwaway venv.
interop-prereqs: $(STAMP)
	bash scripts/interop/install_durabletask_go.sh
	bash scripts/interop/install_js_sdk.sh
	$(BIN)/python scripts/published_venv.py

## The whole test suite (unit, end-to-end, plugin, examples, interop), in parallel.
test: $(STAMP) interop-prereqs
	$(BIN)/python -m pytest -n auto

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy durabletask durabletask_testing pytest_plugin

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

bench: $(STAMP) interop-prereqs
	$(BIN)/python benchmarks/run.py
