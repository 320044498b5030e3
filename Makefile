# Developer entry points. Every target bootstraps .venv on first use, so a fresh clone needs only
# Python >= 3.10 (plus Go, Node.js with npm, and a JDK >= 17 with Maven for the interop tests).
#
# Two distributions come out of this repository:
#   durabletask-testkit      the fake sidecar (durabletask_testing) and the pytest plugin (durabletask_pytest);
#                            no `durabletask` package, so it installs beside any Durable Task SDK (pyproject.toml)
#   durabletask-testkit-sdk  our Durable Task SDK, import package `durabletask` (packaging/sdk/pyproject.toml)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install example test lint proto interop-prereqs bench dists wheel-test dapr-fidelity

$(STAMP): pyproject.toml packaging/sdk/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]' -e ./packaging/sdk
	touch $(STAMP)

## Development install: both distributions, editable, with the test and dev tools.
install: $(STAMP)

## Run an example orchestration end to end on the embedded fake sidecar.
example: $(STAMP)
	$(BIN)/python examples/human_interaction.py

## Install what the interop tests need: durabletask-go (the sidecar, and the Go SDK test's modules), the JS SDK,
## the Java SDK test's Maven artifacts, the published SDK, durabletask-azuremanaged and Dapr 1.18/1.19 in throwaway venvs,
## and a real Dapr workflow runtime (daprd, placement, scheduler v1.18.1; about 3 minutes and 2.4 GB cold).
interop-prereqs: $(STAMP)
	bash scripts/interop/install_durabletask_go.sh
	bash scripts/interop/install_dapr.sh
	bash scripts/interop/install_go_sdk_test.sh
	bash scripts/interop/install_js_sdk.sh
	bash scripts/interop/install_java_sdk_test.sh
	$(BIN)/python scripts/published_venv.py
	$(BIN)/python scripts/dapr_venvs.py
	$(BIN)/python scripts/azuremanaged_venv.py
	$(BIN)/python scripts/functions_venv.py

## The whole test suite (unit, end-to-end, plugin, examples, interop), in parallel.
test: $(STAMP) interop-prereqs
	$(BIN)/python -m pytest -n auto

## Generated programs through Dapr's SDK on a real daprd and on the fake's Dapr dialect, 200 of them (the test suite
## runs 10); DAPR_FIDELITY_SEED=N picks another seed.
dapr-fidelity: $(STAMP)
	bash scripts/interop/install_dapr.sh
	$(BIN)/python scripts/dapr_venvs.py
	DAPR_FIDELITY_COUNT=$${DAPR_FIDELITY_COUNT:-200} $(BIN)/python -m pytest -q -s -p no:randomly --timeout 3600 \
		tests/interop/test_dapr_fidelity.py -k real_daprd

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy durabletask durabletask_testing pytest_plugin

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

## Build both wheels into dist/.
dists: $(STAMP)
	$(BIN)/python scripts/check_wheels.py build dist

## Test the wheels as installed (not editable) in fresh virtual environments: the testkit beside the published
## durabletask 1.12.0, our two wheels together, and the testkit beside azure-functions-durable 1.7.0.
wheel-test: dists
	$(BIN)/python scripts/check_wheels.py test dist

bench: $(STAMP) interop-prereqs
	$(BIN)/python benchmarks/run.py
