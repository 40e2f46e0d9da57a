"""A host whose Python lacks ``cryptography``: the role says how to fix it, or installs it when allowed.

With ``acme_certificate_host_requirements_install: true`` the role installs ``python3-cryptography``
through the OS package manager (``ansible.builtin.package``) when, and only when, the host's plan
step failed for want of it, and plans again; the happy path gains no task (test_role_hotpath).

What this machine allows without changing it: the package manager really runs (apt, here), for a
package tests/setup.sh has installed already, so it changes nothing. The host's Python is either
- a virtualenv without ``cryptography`` (a Debian package cannot help it): the role says so; or
- the system Python, started without its site directories (``-S``, so ``cryptography`` from
  python3-cryptography is out of its sight) until the package manager has run, and with them
  afterwards: it stands in for a host on which the package arrives with that run. The role then
  plans again and deploys.
"""

from __future__ import annotations

import pathlib
import shlex
import stat
import subprocess

import pytest

from test_issuance_support import unique_name
from test_role_options import HOST, OneHost, one_host
from testbed.bind9 import Bind9Server
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

VARIABLE = 'acme_certificate_host_requirements_install'
PLAN_TASK = "certforge.acme.acme_certificate : Decide on the host which certificates are needed, and make their keys and CSRs"
INSTALL_TASK = "certforge.acme.acme_certificate : Install the host's Python cryptography with the OS package manager"
REPLAN_TASK = "certforge.acme.acme_certificate : Decide again, with the host's Python cryptography installed"
REFUSAL_TASK = "certforge.acme.acme_certificate : Stop with the reason the host could not decide"
SYSTEM_PYTHON = pathlib.Path('/usr/bin/python3')
PACKAGE = 'python3-cryptography'


def python_without_cryptography(path: pathlib.Path) -> pathlib.Path:
    """A virtualenv with nothing installed, like a host Python without the role's requirements."""
    subprocess.run([str(SYSTEM_PYTHON), '-m', 'venv', '--without-pip', str(path)], check=True)
    return path / 'bin' / 'python'


def python_that_gets_cryptography_from_the_package_manager(path: pathlib.Path) -> pathlib.Path:
    """The system Python, blind to its site directories until the package manager (apt) has run on the host."""
    marker = path.parent / 'package-manager-ran'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '#!/bin/sh\n'
        '# Written by test_role_host_requirements.py: cryptography appears once the package manager has run.\n'
        f'case "$1" in */AnsiballZ_apt.py) touch {shlex.quote(str(marker))} ;; esac\n'
        f'if [ -e {shlex.quote(str(marker))} ]; then exec {SYSTEM_PYTHON} "$@"; fi\n'
        f'exec {SYSTEM_PYTHON} -S "$@"\n',
        encoding='utf-8',
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture(scope='module', autouse=True)
def system_cryptography() -> None:
    """The package the role installs is there already, so that running the package manager changes nothing here."""
    found = subprocess.run([str(SYSTEM_PYTHON), '-c', 'import cryptography'], capture_output=True, check=False)
    if found.returncode != 0:
        pytest.fail(f'{PACKAGE} is missing on this machine; run tests/setup.sh')


def a_host(
    tmp_path: pathlib.Path, pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path, interpreter: pathlib.Path
) -> OneHost:
    return one_host(
        tmp_path,
        pebble,
        collections_path,
        webroot,
        [{'name': 'www', 'identifiers': [unique_name('requirements', bind9.zone)]}],
        ansible_python_interpreter=str(interpreter),
    )


def test_without_the_variable_the_role_names_it_and_changes_nothing(
    tmp_path: pathlib.Path, pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path
) -> None:
    host = a_host(tmp_path, pebble, webroot, bind9, collections_path, python_without_cryptography(tmp_path / 'bare-venv'))
    run = host.run(expect_failure=True)
    message = run.failure_message(REFUSAL_TASK)
    assert 'cryptography' in message and f'{VARIABLE}: true' in message, message
    assert run.outcome(PLAN_TASK).result['missing_libraries'] == ['cryptography']
    assert run.outcome(INSTALL_TASK).status == 'skipped'
    assert not (tmp_path / HOST).exists()


def test_installed_package_a_virtualenv_cannot_see_is_reported(
    tmp_path: pathlib.Path, pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path
) -> None:
    host = a_host(tmp_path, pebble, webroot, bind9, collections_path, python_without_cryptography(tmp_path / 'bare-venv'))
    run = host.run(expect_failure=True, **{VARIABLE: True})
    install = run.outcome(INSTALL_TASK)
    assert install.status == 'ok' and install.changed is False
    assert run.outcome(REPLAN_TASK).result['missing_libraries'] == ['cryptography']
    message = run.failure_message(REFUSAL_TASK)
    assert PACKAGE in message and 'ansible_python_interpreter' in message, message
    assert not (tmp_path / HOST).exists()


def test_with_the_variable_the_role_installs_plans_again_and_deploys(
    tmp_path: pathlib.Path, pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path
) -> None:
    interpreter = python_that_gets_cryptography_from_the_package_manager(tmp_path / 'host-python' / 'python')
    host = a_host(tmp_path, pebble, webroot, bind9, collections_path, interpreter)
    run = host.run(**{VARIABLE: True})
    assert run.outcome(PLAN_TASK).result['missing_libraries'] == ['cryptography']
    assert run.outcome(INSTALL_TASK).result['changed'] is False  # installed already: see the module's docstring
    assert run.outcome(REPLAN_TASK).result['needed'] is True
    assert (host.cert_dir('www') / 'fullchain.pem').exists()

    # The next run plans once, installs nothing.
    again = host.run(**{VARIABLE: True})
    assert again.outcome(PLAN_TASK).status == 'ok'
    assert again.outcomes_of(INSTALL_TASK) == [] and again.changed_tasks == []
