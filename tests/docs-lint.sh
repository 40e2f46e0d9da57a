#!/usr/bin/env bash
# Lint the documentation of every module, filter, lookup and the role's argument specs with
# antsibull-docs, the tool that renders collection docs for docs.ansible.com: markup such as
# O(option) and M(module) must name options and plugins that exist.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
docs_bin="$repo_root/.venv-docs/bin"

if [[ ! -x "$docs_bin/antsibull-docs" ]]; then
    echo "docs-lint: .venv-docs has no antsibull-docs; run tests/setup.sh" >&2
    exit 1
fi

# antsibull-docs wants the collection at .../ansible_collections/<namespace>/<name>/.
collections_dir=$(mktemp -d "${TMPDIR:-/tmp}/certforge-acme-docs.XXXXXX")
trap 'rm -rf "$collections_dir"' EXIT
mkdir -p "$collections_dir/ansible_collections/certforge"
ln -s "$repo_root" "$collections_dir/ansible_collections/certforge/acme"

cd "$collections_dir/ansible_collections/certforge/acme"
# It runs ansible-doc and ansible from PATH: those of .venv-docs.
PATH="$docs_bin:$PATH" "$docs_bin/antsibull-docs" lint-collection-docs --plugin-docs --validate-collection-refs=all .
echo "docs-lint: antsibull-docs found no problem"
