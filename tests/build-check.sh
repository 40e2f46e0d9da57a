#!/usr/bin/env bash
# Build the collection artifact, install it the way a user would, and check that ansible-doc
# renders the installed modules (certforge.acme.acme_account at least). Catches files missing
# from the tarball and documentation that only works from a checkout.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv_bin="$repo_root/.venv/bin"
required_module=certforge.acme.acme_account

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/certforge-acme-build.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT
collections_dir="$work_dir/collections"

# Only the installed copy may answer, whatever ansible.cfg or the venv holds.
: >"$work_dir/ansible.cfg"
export ANSIBLE_CONFIG="$work_dir/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$collections_dir"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_NOCOLOR=1

"$venv_bin/ansible-galaxy" collection build "$repo_root" --output-path "$work_dir/dist"
tarballs=("$work_dir"/dist/certforge-acme-*.tar.gz)

# Local tool state must never ship (ansible-lint's .ansible/ holds a copy of the whole tree).
unwanted=$(tar --list --gzip --file "${tarballs[0]}" |
    grep -E '^(\.ansible|\.venv|\.git|\.pytest_cache|tests/output)(/|$)|(^|/)__pycache__/|\.pyc$' || true)
if [[ -n "$unwanted" ]]; then
    echo "build-check: the artifact contains local files; add their top directories to build_ignore in galaxy.yml:" >&2
    printf '%s\n' "$unwanted" | head -10 >&2
    exit 1
fi

"$venv_bin/ansible-galaxy" collection install --offline --collections-path "$collections_dir" "${tarballs[0]}"

installed_modules_dir="$collections_dir/ansible_collections/certforge/acme/plugins/modules"
modules=()
for module_file in "$installed_modules_dir"/*.py; do
    [[ -e "$module_file" ]] || continue
    module_name=$(basename "$module_file" .py)
    modules+=("certforge.acme.$module_name")
done
if [[ " ${modules[*]} " != *" $required_module "* ]]; then
    echo "build-check: $required_module is not in the built collection (found: ${modules[*]:-none})" >&2
    exit 1
fi

doc_output="$work_dir/ansible-doc.txt"
doc_errors="$work_dir/ansible-doc.stderr"
# ansible-doc only warns, and exits 0, when a plugin fails to load: treat warnings as failures.
if ! "$venv_bin/ansible-doc" "${modules[@]}" >"$doc_output" 2>"$doc_errors" || grep -q 'WARNING\|ERROR' "$doc_errors"; then
    echo "build-check: ansible-doc failed for the installed collection:" >&2
    cat "$doc_errors" >&2
    exit 1
fi
if ! grep -q "acme_account" "$doc_output"; then
    echo "build-check: ansible-doc output does not mention acme_account:" >&2
    cat "$doc_output" >&2
    exit 1
fi
echo "build-check: ${tarballs[0]##*/} installs; ansible-doc renders ${#modules[@]} module(s): ${modules[*]}"
