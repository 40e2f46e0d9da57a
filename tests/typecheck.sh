#!/usr/bin/env bash
# Type-check plugins/ with mypy and the settings in pyproject.toml.
# The plugins import each other as ansible_collections.certforge.acme.plugins...; mypy runs inside a
# temporary tree where that name is a link to this checkout, the way the unit tests import them.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv_bin="$repo_root/.venv/bin"

import_root=$(mktemp -d "${TMPDIR:-/tmp}/certforge-acme-typecheck.XXXXXX")
trap 'rm -rf "$import_root"' EXIT
mkdir -p "$import_root/ansible_collections/certforge"
ln -s "$repo_root" "$import_root/ansible_collections/certforge/acme"

cd "$import_root"
# The cache lives in the checkout (tests/output is ignored by git and by the collection build), so a
# second run takes about a second.
"$venv_bin/mypy" --config-file "$repo_root/pyproject.toml" --cache-dir "$repo_root/tests/output/.mypy_cache" "$@"
