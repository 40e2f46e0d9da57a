# Test entry points; every target uses the tools in .venv (created by `make setup`).
# `make test` runs them all in order and stops at the first failure.

VENV := $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
# Tools that look for ansible-* on PATH (ansible-lint, ansible-test) find the venv's first.
export PATH := $(VENV)/bin:$(PATH)

.PHONY: test setup unit integration integration-modules test-loaded sanity lint format docs-lint build-check demo
# The order of `test` matters (setup first), so never run its steps side by side.
.NOTPARALLEL:

test: setup unit integration integration-modules sanity lint docs-lint build-check

setup:
	tests/setup.sh

unit:
	$(PYTHON) -m pytest tests/unit

integration:
	$(PYTHON) -m pytest tests/integration

# The integration suite again with every controller-side ACME step as a module process
# (certforge_acme_in_process: false), so neither path of the action plugins can rot.
integration-modules:
	CERTFORGE_TEST_ACME_STEPS=module $(PYTHON) -m pytest tests/integration $(ARGS)

# The integration suite beside two CPU-bound processes (stress-ng from Debian), which this
# target starts and stops by pid: no test may depend on how fast the machine is.
test-loaded: setup
	stress-ng --cpu 2 --quiet & stress=$$!; \
	trap 'kill $$stress 2>/dev/null; wait $$stress 2>/dev/null' EXIT; \
	$(PYTHON) -m pytest tests/integration $(ARGS)

sanity:
	tests/sanity.sh

# ansible-lint on the YAML, mypy on plugins/, ruff format --check on every Python file.
lint:
	tests/lint.sh
	tests/typecheck.sh
	tests/format-check.sh

# Rewrite the Python files the way tests/format-check.sh wants them (settings in pyproject.toml).
format:
	$(VENV)/bin/ruff format .

docs-lint:
	tests/docs-lint.sh

build-check:
	tests/build-check.sh

# The README's main job: issue and deploy a certificate from the embedded local test CA.
# ansible-playbook finds this checkout as certforge.acme through a link inside the venv.
COLLECTIONS := $(VENV)/collections
demo: setup
	mkdir -p $(COLLECTIONS)/ansible_collections/certforge
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/certforge/acme
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VENV)/bin/ansible-playbook -i localhost, playbooks/demo.yml $(ARGS)
