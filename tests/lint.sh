#!/usr/bin/env bash
# Run ansible-lint on the collection with the settings in .ansible-lint.
# In offline mode ansible-lint does not install the collection it lints, so playbooks and roles
# could not resolve certforge.acme.* modules: a temporary collections path links this checkout.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv_bin="$repo_root/.venv/bin"

collections_dir=$(mktemp -d "${TMPDIR:-/tmp}/certforge-acme-lint.XXXXXX")
trap 'rm -rf "$collections_dir"' EXIT
mkdir -p "$collections_dir/ansible_collections/certforge"
ln -s "$repo_root" "$collections_dir/ansible_collections/certforge/acme"

cd "$repo_root"
# The migration guide's examples use community.crypto, which tests/setup.sh unpacks into .collections-peers.
PATH="$venv_bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$collections_dir:$repo_root/.collections-peers" "$venv_bin/ansible-lint" "$@"
