"""What the role costs per host, counted (never timed): module runs on the host, task executions that
only the controller does, and requests the CA receives.

Every module run is a process of its own and every task execution forks a worker per host, skipped
or not; fleets multiply both. The fleet of test_role_support runs first with one certificate on one
host (web1's ``static``, http-01), then with all of its certificates; each time again as a no-op.
"""

from __future__ import annotations

import collections
import pathlib
import re
import typing as t
from collections.abc import Iterator

import pytest

from test_role_support import HOSTS, Fleet, Step, create_fleet
from testbed.ansible import PlaybookRun, TaskOutcome
from testbed.bind9 import Bind9Server
from testbed.fixtures import ChallengePorts
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

# Tasks that never start a module process: Ansible does them in the controller's worker.
CONTROLLER_ACTIONS = frozenset(
    {
        'ansible.builtin.set_fact',
        'ansible.builtin.debug',
        'ansible.builtin.assert',
        'ansible.builtin.fail',
        'ansible.builtin.include_tasks',
        'ansible.builtin.import_tasks',
        'ansible.builtin.meta',
        'ansible.builtin.include_vars',
        'ansible.builtin.validate_argument_spec',
    }
)
# What the role's controller steps did before: a task of its own each time.
BOOKKEEPING_ACTIONS = frozenset(
    {
        'ansible.builtin.file',
        'ansible.builtin.stat',
        'ansible.builtin.copy',
        'certforge.acme.acme_account_key',
    }
)
ROLE_TASK_PREFIX = 'certforge.acme.acme_certificate : '
ONE_CERTIFICATE = ('web1', 'static')
# A certificate of one name costs about 8 requests (a nonce, newOrder, its authorization, the answer, the order
# read ready, finalize, the order read valid, the download); each further name adds its authorization's read, the
# answer and a poll; the account step's 3 are shared by the play. pebble rejects 5 % of the nonces.
CA_REQUESTS_PER_CERTIFICATE = 10
CA_REQUESTS_PER_FURTHER_NAME = 3
ACCOUNT_STEP_REQUESTS = 3


class Costs(t.NamedTuple):
    """What one run cost one host."""

    host_module_runs: int  # module processes on the host (each item of a loop is one)
    controller_only: int  # task executions that start no module on the host, skipped ones included


def on_controller(outcome: TaskOutcome) -> bool:
    return outcome.delegated_to == 'localhost'


def module_runs(outcome: TaskOutcome) -> int:
    """How many module processes a task outcome started (0 when skipped)."""
    if outcome.status == 'skipped':
        return 0
    if 'results' in outcome.result:
        return sum(1 for item in outcome.result['results'] if not item.get('skipped'))
    return 1


def costs(run: PlaybookRun, host: str) -> Costs:
    """The role's cost on ``host`` in ``run`` (the playbook's own tasks left out)."""
    outcomes = [outcome for outcome in run.outcomes if outcome.host == host and outcome.task.startswith(ROLE_TASK_PREFIX)]
    on_host = [outcome for outcome in outcomes if outcome.action not in CONTROLLER_ACTIONS and not on_controller(outcome)]
    controller_only = [outcome for outcome in outcomes if outcome.action in CONTROLLER_ACTIONS or (outcome.status == 'skipped' and not on_controller(outcome))]
    return Costs(sum(module_runs(outcome) for outcome in on_host), len(controller_only))


def describe(run: PlaybookRun, host: str) -> list[str]:
    """The role's task outcomes on ``host``, for assertion messages."""
    return [
        f'{outcome.task.removeprefix(ROLE_TASK_PREFIX)} [{outcome.status}, {outcome.action}, {outcome.delegated_to}]'
        for outcome in run.outcomes
        if outcome.host == host and outcome.task.startswith(ROLE_TASK_PREFIX)
    ]


@pytest.fixture(scope='module')
def fleet(
    tmp_path_factory: pytest.TempPathFactory,
    pebble: PebbleServer,
    bind9: Bind9Server,
    webroot: WebrootServer,
    challenge_ports: ChallengePorts,
    collections_path: pathlib.Path,
) -> Iterator[Fleet]:
    yield create_fleet(
        tmp_path_factory.mktemp('hotpath'), pebble=pebble, bind9=bind9, webroot=webroot, challenge_ports=challenge_ports, collections_path=collections_path
    )


class OneCertificateRuns(t.NamedTuple):
    first: Step
    again: Step


@pytest.fixture(scope='module')
def one_certificate(fleet: Fleet) -> OneCertificateRuns:
    """web1 with its one-name http-01 certificate only; the other hosts with none."""
    host, name = ONE_CERTIFICATE
    with fleet.inventory_changes():
        for other in HOSTS:
            entries = fleet.host_vars(other)['acme_certificate_certificates']
            fleet.set_host_var(other, 'acme_certificate_certificates', [entry for entry in entries if (other, entry['name']) == (host, name)])
        first = fleet.step('one certificate')
        again = fleet.step('one certificate again')
    return OneCertificateRuns(first, again)


class FleetRuns(t.NamedTuple):
    first: Step
    again: Step


@pytest.fixture(scope='module')
def whole_fleet(fleet: Fleet, one_certificate: OneCertificateRuns) -> FleetRuns:  # pylint: disable=unused-argument  # runs after it
    """Every certificate of the inventory (all but web1's static are new), then the same again."""
    return FleetRuns(fleet.step('whole fleet'), fleet.step('whole fleet again'))


def test_first_run_of_one_certificate_runs_three_modules_on_the_host(one_certificate: OneCertificateRuns) -> None:
    run = one_certificate.first.run
    assert one_certificate.first.results['web1']['static']['changed']
    assert costs(run, "web1").host_module_runs <= 3, "\n".join(describe(run, "web1"))


def test_first_run_sets_up_the_account_in_one_step(one_certificate: OneCertificateRuns) -> None:
    run = one_certificate.first.run
    bookkeeping = [outcome.task for outcome in run.outcomes if outcome.action in BOOKKEEPING_ACTIONS]
    assert bookkeeping == []
    accounts = [outcome for outcome in run.outcomes if outcome.action == 'certforge.acme.acme_account']
    assert len(accounts) == 1


@pytest.mark.parametrize('runs', ['one_certificate', 'whole_fleet'])
def test_no_op_run_costs_one_module_run_and_three_controller_tasks_per_host(runs: str, request: pytest.FixtureRequest) -> None:
    again: Step = request.getfixturevalue(runs).again
    assert again.requests == []
    assert {host: again.run.recap[host]['changed'] for host in HOSTS} == dict.fromkeys(HOSTS, 0)
    for host in HOSTS:
        spent = costs(again.run, host)
        assert spent.host_module_runs == 1, (host, describe(again.run, host))
        assert spent.controller_only <= 3, (host, describe(again.run, host))


def test_first_certificate_costs_at_most_ten_ca_requests_besides_the_account(one_certificate: OneCertificateRuns) -> None:
    requests = one_certificate.first.requests
    allowance = ACCOUNT_STEP_REQUESTS + CA_REQUESTS_PER_CERTIFICATE + retried_requests(one_certificate.first.run)
    assert len(requests) <= allowance, request_kinds(requests)


def test_fleet_costs_at_most_ten_ca_requests_per_certificate(fleet: Fleet, whole_fleet: FleetRuns) -> None:
    issued = [(host, name) for host, records in whole_fleet.first.results.items() for name, record in records.items() if record['changed']]
    assert len(issued) == 6, whole_fleet.first.results
    further_names = sum(len(whole_fleet.first.results[host][name]['identifiers']) - 1 for host, name in issued)
    requests = whole_fleet.first.requests
    allowance = CA_REQUESTS_PER_CERTIFICATE * len(issued) + CA_REQUESTS_PER_FURTHER_NAME * further_names + retried_requests(whole_fleet.first.run)
    assert len(requests) <= allowance, request_kinds(requests)
    for host in HOSTS:
        assert whole_fleet.first.run.recap[host]['failures'] == 0, fleet.name(host)


def retried_requests(run: PlaybookRun) -> int:
    """Requests the steps sent again, as their results report them: pebble rejects 5 % of the nonces at random."""
    total = 0
    for outcome in run.outcomes:
        items = outcome.result.get('results')
        for result in items if isinstance(items, list) else [outcome.result]:
            retries = result.get('retries') if isinstance(result, dict) else None
            if isinstance(retries, dict):
                total += sum(number for number in retries.values() if isinstance(number, int))
    return total


def request_kinds(requests: list[t.Any]) -> list[tuple[str, int]]:
    """How many requests of each kind (method and path, ids left out), most first."""
    return collections.Counter(f'{request.method} {re.sub("/[A-Za-z0-9_-]{16,}", "/*", request.path)}' for request in requests).most_common()
