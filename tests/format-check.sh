#!/usr/bin/env bash
# Check that every Python file of the tree is formatted by `ruff format` with the settings in pyproject.toml
# (ruff skips what .gitignore lists: venvs, caches, the peer collections).
# To reformat, run `make format` (the same command without --check).
# ruff rather than black: black puts the parts of a long string that fit in 160 columns side by side on one
# line ("a " "b"), which ansible-test's pylint rejects (implicit-str-concat); ruff joins them into one string.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
if ! "$repo_root/.venv/bin/ruff" format --check . "$@"; then
    echo "format-check: the files above are not formatted as ruff format wants; run \`make format\` and commit the result" >&2
    exit 1
fi
