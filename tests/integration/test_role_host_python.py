"""The role on hosts whose Python is not the controller's: only ``cryptography``, current or the oldest claimed.

The fleet's hosts run their modules with a wrapper of a host virtualenv (testbed/host_python.py) that
notes each module it runs; the controller's steps (``delegate_to: localhost``) keep the controller's
Python. So a host-side module that ran with the controller's venv (where ``requests`` is) is missing
from the wrapper's notes, and a CA-facing step that ran on a host's Python is in them: either fails here.
The sequence runs once per host virtualenv: the first run issues every certificate, the second
changes nothing, a forced renewal deploys again.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from test_role_support import HOSTS, Fleet, Step, create_fleet, verify_fullchain
from testbed.bind9 import Bind9Server
from testbed.fixtures import ChallengePorts
from testbed.host_python import host_min_python, host_python
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

# Module names as their AnsiballZ files carry them. The CA-facing ones speak to the CA with requests, which
# a host does not have; the state files and (by default, acme_certificate_dns_delegate_to) the RFC 2136
# updates are the controller's too.
CONTROLLER_MODULES = {
    'acme_account',
    'acme_order',
    'acme_challenge',
    'acme_finalize',
    'acme_revoke',
    'acme_renewal_info',
    'acme_state_files',
    'acme_dns_rfc2136',
}
PLAN = 'acme_certificate_plan'
DEPLOY = 'acme_certificate_deploy'


@pytest.fixture(scope='module', params=['current-cryptography', 'minimum-cryptography'])
def fleet(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pebble: PebbleServer,
    bind9: Bind9Server,
    webroot: WebrootServer,
    challenge_ports: ChallengePorts,
    collections_path: pathlib.Path,
) -> Iterator[Fleet]:
    python = host_python() if request.param == 'current-cryptography' else host_min_python()
    yield create_fleet(
        tmp_path_factory.mktemp(f'hosts-{request.param}'),
        pebble=pebble,
        bind9=bind9,
        webroot=webroot,
        challenge_ports=challenge_ports,
        collections_path=collections_path,
        host_venv_python=python,
    )


def step_noting_host_modules(fleet: Fleet, label: str) -> tuple[Step, list[str]]:
    """Run the fleet's playbook; return the step and the modules the hosts' Python ran during it."""
    before = len(fleet.host_modules_run())
    step = fleet.step(label)
    return step, fleet.host_modules_run()[before:]


def test_first_run_issues_with_host_modules_on_the_hosts_python(fleet: Fleet):
    step, ran = step_noting_host_modules(fleet, 'first run')
    # One plan and one deploy module run per host, all on the hosts' Python.
    assert ran.count(PLAN) == len(HOSTS)
    assert ran.count(DEPLOY) == len(HOSTS)
    assert not CONTROLLER_MODULES & set(ran), f'controller steps ran on a host Python: {sorted(CONTROLLER_MODULES & set(ran))}'
    assert {host for host, records in step.results.items() if all(record['changed'] for record in records.values())} == set(HOSTS)
    name = fleet.name('api')
    verify_fullchain((fleet.cert_dir('tls1', 'api') / 'fullchain.pem').read_bytes(), root_pem=fleet.pebble.root_pem(), names=[name])


def test_rerun_changes_nothing_and_plans_on_the_hosts_python(fleet: Fleet):
    step, ran = step_noting_host_modules(fleet, 'rerun')
    assert step.run.changed_tasks == []
    assert ran == [PLAN] * len(HOSTS)


def test_forced_renewal_deploys_with_the_hosts_python(fleet: Fleet):
    before = (fleet.cert_dir('tls1', 'api') / 'cert.pem').read_bytes()
    with fleet.inventory_changes():
        fleet.edit_certificate('tls1', 'api', force=True)
        step, ran = step_noting_host_modules(fleet, 'forced renewal')
    assert step.results['tls1']['api']['changed'] is True
    assert (fleet.cert_dir('tls1', 'api') / 'cert.pem').read_bytes() != before
    assert ran.count(DEPLOY) == 1 and ran.count(PLAN) == len(HOSTS)
    assert not CONTROLLER_MODULES & set(ran)
