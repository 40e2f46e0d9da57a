#!/usr/bin/env bash
# Prepare a Debian 12 machine for `make test`: the servers the integration tests start,
# faketime (moved clocks for renewal tests), stress-ng (make test-loaded), the ShellCheck
# linter, the .venv with the test tools, the .venv-a2c with acme2certifier (the second ACME
# server of the integration tests), the .venv-docs with antsibull-docs (its own venv: it pins
# libraries ansible-lint also uses), the .venv-host with only cryptography (the Python of test
# hosts that are not the controller), the .venv-host-min with only the oldest cryptography the
# host-side modules claim (deps.py MIN_CRYPTOGRAPHY_VERSION), the .venv-builder with ansible-builder (the execution
# environment's test; its own venv: it pins jsonschema and bindep), the other projects' collections some tests run beside ours
# (.collections-peers) and the get-pip stand-in for ansible-test.
# Every step checks first, so a second run finishes in well under a second.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$repo_root/.venv"
requirements="$repo_root/tests/requirements.txt"
a2c_venv="$repo_root/.venv-a2c"
a2c_requirements="$repo_root/tests/acme2certifier-requirements.txt"
docs_venv="$repo_root/.venv-docs"
docs_requirements="$repo_root/tests/docs-requirements.txt"
host_venv="$repo_root/.venv-host"
host_requirements="$repo_root/tests/host-requirements.txt"
builder_venv="$repo_root/.venv-builder"
builder_requirements="$repo_root/tests/builder-requirements.txt"
host_min_venv="$repo_root/.venv-host-min"
host_min_requirements="$repo_root/tests/host-min-requirements.txt"
system_ca_bundle=/etc/ssl/certs/ca-certificates.crt
peer_collections_dir="$repo_root/.collections-peers"
# Ansible Galaxy is out of reach here: these collections come out of the `ansible` package on PyPI, which
# bundles them. The migration guide runs community.crypto; the DNS provider files call the others.
peer_ansible_package="ansible==12.3.0"
peer_collections=(community/crypto community/general amazon/aws community/dns)

log() { printf 'setup: %s\n' "$*" >&2; }

apt_install() {
    log "installing Debian packages: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

package_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_debian_packages() {
    local missing=() package
    # ansible-test skips its ShellCheck sanity test with only a warning when the tool is missing.
    for package in pebble bind9 bind9-utils bind9-dnsutils shellcheck faketime stress-ng python3-cryptography; do
        package_installed "$package" || missing+=("$package")
    done
    command -v git >/dev/null || missing+=(git)
    if ((${#missing[@]})); then
        apt_install "${missing[@]}"
    fi
}

# ensure_venv_with DIR REQUIREMENTS: a venv at DIR holding REQUIREMENTS; a stamp of the
# requirements file's hash makes the check instant once they are installed.
ensure_venv_with() {
    local dir=$1 requirements=$2 stamp="$1/.requirements.sha256" wanted
    if [[ ! -x "$dir/bin/python" ]]; then
        log "creating $dir"
        # Debian's python3 lacks ensurepip until python3-venv is installed.
        if ! python3 -m venv "$dir" 2>/dev/null; then
            rm -rf "$dir"
            apt_install python3-venv
            python3 -m venv "$dir"
        fi
    fi
    wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        return
    fi
    log "installing $requirements into $dir"
    "$dir/bin/python" -m pip install --quiet --upgrade pip
    "$dir/bin/python" -m pip install --quiet -r "$requirements"
    printf '%s\n' "$wanted" >"$stamp"
}

# The pip version ansible-test bootstraps into its per-test venvs; read from its own
# sources so an ansible-core update cannot silently make the stand-in name stale.
ansible_test_pip_version() {
    "$venv/bin/python" - <<'PYTHON'
import sys
import types

from ansible_test._internal.python_requirements import get_venv_packages

version = '%d.%d' % sys.version_info[:2]
print(get_venv_packages(types.SimpleNamespace(version=version))['pip'])
PYTHON
}

# ansible-test downloads get-pip.py from a host that is unreachable here, but first looks
# for a cached copy. This stand-in gives it the same effect offline.
ensure_get_pip_standin() {
    local version path
    version=$(ansible_test_pip_version)
    path="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
    [[ -f "$path" ]] && return
    log "writing ansible-test get-pip stand-in $path"
    mkdir -p "$(dirname "$path")"
    cat >"$path" <<PYTHON
"""Offline stand-in for get-pip.py ${version}, written by certforge.acme tests/setup.sh."""
import ensurepip
import os
import subprocess
import sys

# Options only the real get-pip.py understands.
GET_PIP_ONLY = {'--no-setuptools', '--no-wheel'}
# ansible-test drops PIP_* and SSL_* variables, so name the CA bundle explicitly.
CA_BUNDLE = '${system_ca_bundle}'

ensurepip.bootstrap()
arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY]
if os.path.exists(CA_BUNDLE):
    arguments += ['--cert', CA_BUNDLE]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', *arguments]))
PYTHON
}

# ensure_peer_collections: the collections of peer_collections, unpacked from the peer_ansible_package
# wheel into .collections-peers/ansible_collections (for ANSIBLE_COLLECTIONS_PATH), nothing else of it.
ensure_peer_collections() {
    local stamp="$peer_collections_dir/.stamp" wanted download
    wanted="$peer_ansible_package ${peer_collections[*]}"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        return
    fi
    log "unpacking ${peer_collections[*]} from $peer_ansible_package into $peer_collections_dir"
    download=$(mktemp -d)
    "$venv/bin/python" -m pip download --quiet --no-deps --only-binary :all: --dest "$download" "$peer_ansible_package"
    rm -rf "$peer_collections_dir"
    "$venv/bin/python" - "$download"/*.whl "$peer_collections_dir" "${peer_collections[@]}" <<'PYTHON'
import sys
import zipfile

wheel, target, *collections = sys.argv[1:]
prefixes = tuple(f"ansible_collections/{collection}/" for collection in collections)
with zipfile.ZipFile(wheel) as archive:
    archive.extractall(target, [name for name in archive.namelist() if name.startswith(prefixes)])
PYTHON
    rm -rf "$download"
    printf '%s\n' "$wanted" >"$stamp"
}

ensure_debian_packages
ensure_venv_with "$venv" "$requirements"
ensure_venv_with "$a2c_venv" "$a2c_requirements"
ensure_venv_with "$docs_venv" "$docs_requirements"
ensure_venv_with "$host_venv" "$host_requirements"
ensure_venv_with "$builder_venv" "$builder_requirements"
ensure_venv_with "$host_min_venv" "$host_min_requirements"
ensure_peer_collections
ensure_get_pip_standin
