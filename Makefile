# Test entry points; every target uses the tools in .venv (created by `make setup`).
# `make test` runs them all in order and stops at the first failure.

VENV := $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
# Tools that look for ansible-* on PATH (ansible-lint, ansible-test) find the venv's first.
export PATH := $(VENV)/bin:$(PATH)

.PHONY: test setup unit integration sanity lint build-check
# The order of `test` matters (setup first), so never run its steps side by side.
.NOTPARALLEL:

test: setup unit integration sanity lint build-check

setup:
	tests/setup.sh

unit:
	$(PYTHON) -m pytest tests/unit

integration:
	$(PYTHON) -m pytest tests/integration

sanity:
	tests/sanity.sh

lint:
	tests/lint.sh

build-check:
	tests/build-check.sh
