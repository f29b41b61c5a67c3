# The README's two commands: `make run` and `make test`. Both set up what they
# need (apt packages, .venv) and can be run again.
SHELL := /bin/bash
PYTEST ?= .venv/bin/pytest
PYTEST_ARGS ?=

.PHONY: run test setup unit integration compat bench clean-stamps

setup:
	@tools/setup.sh

run: setup
	@tools/run.sh

test: setup
	$(PYTEST) -q tests/unit tests/integration tests/compat $(PYTEST_ARGS)

unit: setup
	$(PYTEST) -q tests/unit $(PYTEST_ARGS)

integration: setup
	$(PYTEST) -q tests/integration $(PYTEST_ARGS)

compat: setup
	$(PYTEST) -q tests/compat $(PYTEST_ARGS)

bench: setup
	.venv/bin/python bench/run_all.py
