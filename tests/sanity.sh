#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection as it is in the working tree.
# ansible-test needs the collection at .../ansible_collections/<namespace>/<name>/, so the
# files git knows about (tracked, plus untracked ones that are not ignored) are copied into
# such a tree in a temporary directory. Extra arguments go to ansible-test, e.g.
# `tests/sanity.sh --test pep8`.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv_bin="$repo_root/.venv/bin"
python_version=3.11

# Without ShellCheck, ansible-test would skip that sanity test with only a warning.
if ! command -v shellcheck >/dev/null; then
    echo "sanity: shellcheck is missing; run tests/setup.sh" >&2
    exit 1
fi

# The project's rule: fix what sanity finds, never silence it.
for ignore_file in "$repo_root"/tests/sanity/ignore-*.txt; do
    if [[ -s "$ignore_file" ]]; then
        echo "sanity: ${ignore_file#"$repo_root"/} has entries; fix the code instead of ignoring errors" >&2
        exit 1
    fi
done

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/certforge-acme-sanity.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT
collection_dir="$work_dir/ansible_collections/certforge/acme"
mkdir -p "$collection_dir"

# Copy what git would ship, skipping tracked files already deleted from the working tree.
(
    cd "$repo_root"
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' path; do
            if [[ -e "$path" || -L "$path" ]]; then printf '%s\0' "$path"; fi
        done |
        tar --create --null --no-recursion --files-from=- |
        tar --extract --directory "$collection_dir"
)

# ansible-test asks git which files belong to the collection when it finds a repository;
# a fresh one holding exactly the copied files keeps its view equal to ours.
git -C "$collection_dir" init --quiet
git -C "$collection_dir" add --all
git -C "$collection_dir" -c user.name=sanity -c user.email=sanity@localhost \
    commit --quiet --no-verify --message "sanity snapshot"

cd "$collection_dir"
# --requirements lets ansible-test build one venv per sanity test (pip through the
# get-pip stand-in from tests/setup.sh); --color no keeps CI logs readable.
PATH="$venv_bin:$PATH" "$venv_bin/ansible-test" sanity \
    --python "$python_version" --requirements --color no "$@"
