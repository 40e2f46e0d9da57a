"""A run of the acme_certificate role killed with SIGKILL at any moment leaves nothing the next run cannot finish.

One host (web1, http-01, one certificate) of a fresh fleet per kill point. The first run is killed,
ansible-playbook and every process below it at once, as a crash or ``kill -9`` would: after the
order, after the http-01 files were written, after validation, after finalize, and inside the
deploy module (between its renames). Then the same playbook runs again: it must complete without
a second order or a second certificate from the CA (pebble's log tells), deploy a key and a
certificate that belong together with the modes asked for, and leave no challenge file behind;
a third run changes nothing.
"""

from __future__ import annotations

import pathlib
import typing as t
from collections.abc import Callable

import pytest

from test_role_support import (
    Fleet,
    Step,
    challenge_files,
    create_fleet,
    public_key_of_certificate,
    public_key_of_private_key,
    serial_of,
    verify_fullchain,
)
from testbed.bind9 import Bind9Server
from testbed.fixtures import ChallengePorts
from testbed.host_python import host_python
from testbed.kill_switch import KillablePlaybookRunner, KillPoint, KillSwitch
from testbed.pebble import PebbleServer
from testbed.pebble_ledger import Ledger, PebbleLedger
from testbed.webserver import WebrootServer

HOST = 'web1'
NAME = 'www'
FINALIZE_PATH = '/finalize-order/'  # pebble's finalize URLs start with it
NEW_ORDER_PATH = '/order-plz'
DEPLOY_MODULE = 'acme_certificate_deploy'
MODES = {'cert.pem': 0o644, 'chain.pem': 0o644, 'fullchain.pem': 0o644, 'privkey.pem': 0o600}


class KillCase(t.NamedTuple):
    """A kill point and whether the killed run had already sent finalize (so the rerun must not)."""

    point: Callable[[Fleet], KillPoint]
    finalized: bool


# The deploy module renames cert, chain, fullchain and key into place: the second rename is
# "after the first", the fourth "before the last".
KILL_CASES = {
    'after-order': KillCase(lambda fleet: KillPoint('after the order', after_task='certforge.acme.acme_order'), False),
    'after-provisioning': KillCase(lambda fleet: KillPoint('after the http-01 files were written', after_task='certforge.acme.acme_http01_files'), False),
    'after-validation': KillCase(lambda fleet: KillPoint('after validation', after_task='certforge.acme.acme_challenge'), False),
    'after-finalize': KillCase(lambda fleet: KillPoint('after finalize', after_task='certforge.acme.acme_finalize'), True),
    'deploy-after-first-rename': KillCase(
        lambda fleet: KillPoint('in the deploy, after its first rename', module=DEPLOY_MODULE, rename_number=2, rename_dir=fleet.cert_dir(HOST, NAME)), True
    ),
    'deploy-before-last-rename': KillCase(
        lambda fleet: KillPoint('in the deploy, before its last rename', module=DEPLOY_MODULE, rename_number=4, rename_dir=fleet.cert_dir(HOST, NAME)), True
    ),
}


class Crash(t.NamedTuple):
    """The killed run, what the switch recorded, the two runs after it and what pebble did meanwhile."""

    fleet: Fleet
    case: KillCase
    killed: Step
    kill_notes: list[str]
    rerun: Step | None  # None when the run failed: see errors
    second_rerun: Step | None
    ledger: Ledger  # from the start of the killed run to the end of the rerun
    errors: dict[str, str]  # label -> why that run failed

    def step(self, label: str) -> Step:
        """The rerun ('rerun') or the second rerun ('second rerun'); fails the test when that run failed."""
        step = self.rerun if label == 'rerun' else self.second_rerun
        if step is None:
            pytest.fail(f'the {label} failed: {self.errors[label][-4000:]}')
        return step


def step_or_error(fleet: Fleet, label: str, errors: dict[str, str]) -> Step | None:
    """Run the fleet's playbook; a failed run is kept in ``errors`` so the tests can report it."""
    try:
        return fleet.step(label)
    except AssertionError as error:
        errors[label] = str(error)
        return None


def one_host_fleet(
    root: pathlib.Path,
    switch: KillSwitch,
    *,
    pebble: PebbleServer,
    bind9: Bind9Server,
    webroot: WebrootServer,
    challenge_ports: ChallengePorts,
    collections_path: pathlib.Path,
) -> Fleet:
    """The fleet with web1's www as its only certificate, web1's modules run by the kill interpreter."""
    fleet = create_fleet(root, pebble=pebble, bind9=bind9, webroot=webroot, challenge_ports=challenge_ports, collections_path=collections_path)
    runner = KillablePlaybookRunner(work_dir=root / 'ansible', collections_path=collections_path, switch=switch)
    runner.inventory_path = fleet.inventory
    fleet.runner = runner
    for host in ('dns1', 'tls1'):
        fleet.set_host_var(host, 'acme_certificate_certificates', [])
    host_vars = fleet.host_vars(HOST)
    host_vars['acme_certificate_certificates'] = [entry for entry in host_vars['acme_certificate_certificates'] if entry['name'] == NAME]
    host_vars['ansible_python_interpreter'] = str(switch.interpreter)
    fleet.set_host_vars(HOST, host_vars)
    return fleet


@pytest.fixture(scope='module', params=list(KILL_CASES), ids=list(KILL_CASES))
def crash(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pebble: PebbleServer,
    bind9: Bind9Server,
    webroot: WebrootServer,
    challenge_ports: ChallengePorts,
    collections_path: pathlib.Path,
) -> Crash:
    """A fresh one-host fleet, its run killed at the case's point, then run twice more."""
    case = KILL_CASES[request.param]
    root = tmp_path_factory.mktemp(f'crash-{request.param}')
    switch = KillSwitch(root / 'kill-switch', python=host_python())  # web1's Python has only cryptography, as a host's may
    fleet = one_host_fleet(root, switch, pebble=pebble, bind9=bind9, webroot=webroot, challenge_ports=challenge_ports, collections_path=collections_path)
    ledger = PebbleLedger(pebble)
    killed = switch.arm(case.point(fleet), fleet.step, f'killed {request.param}', expect_failure=True)
    kill_notes = switch.killed(killed.run)
    errors: dict[str, str] = {}
    rerun = step_or_error(fleet, 'rerun', errors)
    ledger_after_rerun = ledger.since_mark()
    second_rerun = step_or_error(fleet, 'second rerun', errors)
    return Crash(fleet, case, killed, kill_notes, rerun, second_rerun, ledger_after_rerun, errors)


def test_the_run_died_at_the_kill_point(crash: Crash) -> None:
    assert len(crash.kill_notes) == 1, f'the run was not killed where intended (rc {crash.killed.run.rc}): {crash.killed.run.stdout[-3000:]}'
    assert crash.killed.run.rc < 0


def test_rerun_completes_without_a_second_order_or_certificate(crash: Crash) -> None:
    rerun = crash.step('rerun')
    assert rerun.results[HOST][NAME]['name'] == NAME
    # Pebble created one order and issued one certificate over the killed run and its rerun.
    assert len(crash.ledger.orders) == 1, f'orders created: {crash.ledger.orders}'
    assert len(crash.ledger.issued) == 1, f'certificates issued: {crash.ledger.issued}'
    assert rerun.new_order_requests() == 0
    finalize_posts = [request for request in rerun.requests if request.method == 'POST' and request.path.startswith(FINALIZE_PATH)]
    if crash.case.finalized:
        assert finalize_posts == []


def test_rerun_deploys_the_issued_certificate_with_its_key_and_modes(crash: Crash) -> None:
    rerun = crash.step('rerun')
    directory = crash.fleet.cert_dir(HOST, NAME)
    cert, chain, fullchain, key = (rerun.content(directory / name) for name in ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem'))
    assert public_key_of_private_key(key) == public_key_of_certificate(cert)
    assert fullchain == cert + chain
    verify_fullchain(fullchain, root_pem=crash.fleet.pebble.root_pem(), names=rerun.results[HOST][NAME]['identifiers'])
    assert [int(serial, 16) for serial in crash.ledger.issued] == [int(serial_of(cert), 16)]
    assert {name: rerun.after[str(directory / name)].mode for name in MODES} == MODES
    leftovers = sorted(path for path in rerun.after if path.startswith(f'{directory}/') and path.endswith(('.pending', '.tmp')))
    assert leftovers == []


def test_no_challenge_file_is_left_behind(crash: Crash) -> None:
    assert sorted(set(challenge_files(crash.step('rerun').after)) - set(challenge_files(crash.killed.before))) == []


def test_second_rerun_changes_nothing(crash: Crash) -> None:
    step = crash.step('second rerun')
    assert step.run.recap[HOST]['changed'] == 0
    assert step.requests == []
    assert step.changed_paths() == set()
    assert (step.results[HOST][NAME]['action'], step.results[HOST][NAME]['changed']) == ('none', False)
