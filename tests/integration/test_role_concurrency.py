"""Two runs of the acme_certificate role at once, for the same host and certificate, lose nothing.

Both ``ansible-playbook`` processes are started together (a barrier releases the two threads that
start them); which one gets ahead is left to the machine. Either both succeed one after the other,
or one waits or refuses with a clear "another run holds ..." line; either way the certificate
directory ends up with one valid deployment whose key and certificate belong together, no staged
leftovers, and the CA issued no more certificates than there were successful runs.
"""

from __future__ import annotations

import pathlib
import threading
import typing as t

import pytest

from test_role_support import (
    PLAYBOOKS,
    Fleet,
    create_fleet,
    public_key_of_certificate,
    public_key_of_private_key,
    serial_of,
    verify_fullchain,
)
from testbed.ansible import PlaybookRun
from testbed.bind9 import Bind9Server
from testbed.fixtures import ChallengePorts
from testbed.pebble import PebbleServer
from testbed.pebble_ledger import Ledger, PebbleLedger
from testbed.webserver import WebrootServer

HOST = 'web1'
NAME = 'www'
RUNS = 2
# What a run that meets the other's lock must say (the role's controller or host lock).
LOCK_MESSAGE = 'another run holds'


class TwoRuns(t.NamedTuple):
    """The fleet, both runs and what pebble did while they ran."""

    fleet: Fleet
    runs: list[PlaybookRun]
    ledger: Ledger


@pytest.fixture(scope='module')
def two_runs(
    tmp_path_factory: pytest.TempPathFactory,
    pebble: PebbleServer,
    bind9: Bind9Server,
    webroot: WebrootServer,
    challenge_ports: ChallengePorts,
    collections_path: pathlib.Path,
) -> TwoRuns:
    """web1's www wanted by two runs started at the same moment."""
    fleet = create_fleet(
        tmp_path_factory.mktemp('concurrency'), pebble=pebble, bind9=bind9, webroot=webroot, challenge_ports=challenge_ports, collections_path=collections_path
    )
    for host in ('dns1', 'tls1'):
        fleet.set_host_var(host, 'acme_certificate_certificates', [])
    host_vars = fleet.host_vars(HOST)
    host_vars['acme_certificate_certificates'] = [entry for entry in host_vars['acme_certificate_certificates'] if entry['name'] == NAME]
    fleet.set_host_vars(HOST, host_vars)
    ledger = PebbleLedger(pebble)
    barrier = threading.Barrier(RUNS)
    runs: list[PlaybookRun | None] = [None] * RUNS
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            runs[index] = fleet.runner.run(PLAYBOOKS / 'site.yml', expect_failure=None)
        except BaseException as error:  # pylint: disable=broad-exception-caught  # reported by the fixture below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(RUNS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return TwoRuns(fleet, [run for run in runs if run is not None], ledger.since_mark())


def failure_lines(run: PlaybookRun) -> list[str]:
    """The messages of the tasks that failed (not ignored) in ``run``."""
    return [str(outcome.result.get('msg', '')) for outcome in run.outcomes if outcome.failed and not outcome.ignored]


def test_one_run_succeeds_and_a_loser_says_another_run_holds_the_lock(two_runs: TwoRuns) -> None:
    succeeded = [run for run in two_runs.runs if run.rc == 0]
    assert succeeded, '\n'.join(line for run in two_runs.runs for line in failure_lines(run))
    for run in two_runs.runs:
        if run.rc != 0:
            lines = failure_lines(run)
            assert any(LOCK_MESSAGE in line for line in lines), lines or run.stdout[-3000:]
            assert all('\n' not in line and 'Traceback' not in line for line in lines)


def test_the_certificate_directory_holds_one_whole_deployment(two_runs: TwoRuns) -> None:
    directory = two_runs.fleet.cert_dir(HOST, NAME)
    cert, chain, fullchain, key = ((directory / name).read_bytes() for name in ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem'))
    assert public_key_of_private_key(key) == public_key_of_certificate(cert)
    assert fullchain == cert + chain
    verify_fullchain(fullchain, root_pem=two_runs.fleet.pebble.root_pem(), names=[f'www.{two_runs.fleet.name("site")}', two_runs.fleet.name('site')])
    assert two_runs.fleet.pebble.cert_status(serial_of(cert))['Status'] == 'Valid'
    assert sorted(path.name for path in directory.iterdir() if path.name.endswith(('.pending', '.tmp'))) == []
    assert (directory / 'privkey.pem').stat().st_mode & 0o777 == 0o600


def test_no_more_certificates_than_successful_runs(two_runs: TwoRuns) -> None:
    succeeded = sum(1 for run in two_runs.runs if run.rc == 0)
    assert 1 <= len(two_runs.ledger.issued) <= succeeded, two_runs.ledger
    deployed = serial_of((two_runs.fleet.cert_dir(HOST, NAME) / 'cert.pem').read_bytes())
    assert int(deployed, 16) in {int(serial, 16) for serial in two_runs.ledger.issued}
