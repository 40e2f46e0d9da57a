"""The module flow through the fault-injecting proxy: every row of a table is one host of one playbook run.

Transient faults (each kind on the first request of every resource) must end in the certificate a
clean run gives, with one order and one finalize processed by pebble, and retries reported.
Persistent faults (each kind on every request of one resource) must fail the row with one line that
names the CA URL, the status or problem, how many tries over how long, and what to do.
Each row has its own proxy, account, names and files, so rows running side by side cannot meet.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import pytest

from test_faults_support import (
    CA_TASKS,
    FAULTS_WITHOUT_RETRY,
    PERSISTENT_FAULTS,
    TRANSIENT_FAULTS,
    TRIES,
    PersistentFault,
    RowRun,
    check_certificate_files,
    check_failure_message,
    failed_task,
    retries_reported,
    run_rows,
)
from testbed import faults
from testbed.bind9 import Bind9Server
from testbed.faults import Fault, Rule
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

# A fault that ends the connection for good is counted by attempts the proxy cannot see.
UNCOUNTABLE_KINDS = frozenset({faults.DOWN, faults.SILENT})
TRUNCATED_DOWNLOAD = 'truncate@certificate'
EVERY_RESOURCE = frozenset({'directory', 'newAccount', 'newOrder', 'authz', 'challenge', 'finalize', 'certificate'})
# A fault that removes a header reaches only the answers that carry it: pebble's directory sends no
# Replay-Nonce, and only new accounts, new orders and finalized orders come with a Location.
RESOURCES_HIT = {faults.NO_NONCE: EVERY_RESOURCE - {'directory'}, faults.NO_LOCATION: frozenset({'newAccount', 'newOrder', 'finalize'})}


@pytest.fixture(scope='module')
def transient_rows(
    pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, RowRun]:
    """Every transient row, run once for the tests that check them."""
    rows: dict[str, Sequence[Rule]] = {fault.label: [faults.first(fault)] for fault in TRANSIENT_FAULTS}
    rows[TRUNCATED_DOWNLOAD] = [faults.first(Fault(faults.TRUNCATE), ['certificate'])]
    return run_rows(
        rows, persistent=False, root=tmp_path_factory.mktemp('transient-faults'), pebble=pebble, webroot=webroot, bind9=bind9, collections_path=collections_path
    )


@pytest.fixture(scope='module')
def persistent_rows(
    pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, RowRun]:
    """Every persistent row, run once for the tests that check them."""
    rows: dict[str, Sequence[Rule]] = {row.id: [faults.always(row.fault, [row.resource])] for row in PERSISTENT_FAULTS}
    return run_rows(
        rows, persistent=True, root=tmp_path_factory.mktemp('persistent-faults'), pebble=pebble, webroot=webroot, bind9=bind9, collections_path=collections_path
    )


@pytest.mark.parametrize('fault', TRANSIENT_FAULTS, ids=lambda fault: fault.label)
def test_a_transient_fault_on_every_resource_ends_in_one_certificate(fault: Fault, transient_rows: dict[str, RowRun], pebble: PebbleServer) -> None:
    row = transient_rows[fault.label]
    _check_succeeded(row)
    log = row.proxy.describe()
    check_certificate_files(row.flow.certificate_dir, names=row.flow.domains, pebble=pebble)
    assert row.proxy.count('newOrder', processed=True) == 1, log
    assert row.proxy.count('finalize', processed=True) == 1, log
    hit = {record.resource for record in row.proxy.faulted()}
    assert RESOURCES_HIT.get(fault.kind, EVERY_RESOURCE) <= hit, log
    if fault.kind not in FAULTS_WITHOUT_RETRY:
        retries = retries_reported(row.run)
        assert retries > 0, 'no task reports its retries in the results'


def test_a_transient_truncated_certificate_download_never_leaves_a_leaf_without_its_chain(transient_rows: dict[str, RowRun], pebble: PebbleServer) -> None:
    row = transient_rows[TRUNCATED_DOWNLOAD]
    _check_succeeded(row)
    assert row.proxy.faulted(), 'the certificate download was not truncated'
    check_certificate_files(row.flow.certificate_dir, names=row.flow.domains, pebble=pebble)
    assert row.proxy.count('certificate', reached_ca=True) >= 2, 'the truncated download was not retried'


@pytest.mark.parametrize('fault_row', PERSISTENT_FAULTS, ids=lambda fault_row: fault_row.id)
def test_a_persistent_fault_fails_the_play_with_one_line_that_says_what_to_do(fault_row: PersistentFault, persistent_rows: dict[str, RowRun]) -> None:
    row = persistent_rows[fault_row.id]
    task = failed_task(row.run)
    assert task in CA_TASKS
    message = row.run.failure_message(task)
    check_failure_message(message, proxy=row.proxy, row=fault_row)
    faulted = [record for record in row.proxy.faulted() if record.resource == fault_row.resource]
    assert faulted, 'the fault was never applied'
    tries = TRIES.search(message)
    if fault_row.fault.kind not in UNCOUNTABLE_KINDS and tries:
        # The tries of the request that gave up: reads back of a POST whose answer was lost are counted apart.
        same_kind = [record for record in faulted if record.is_read == faulted[-1].is_read]
        assert int(tries.group(1)) == len(same_kind), f'the message counts {tries.group(1)} tries, the proxy saw {len(same_kind)}\n{row.proxy.describe()}'
    assert not (row.flow.certificate_dir / 'cert.pem').exists()


def _check_succeeded(row: RowRun) -> None:
    """The row's host ran every task; if not, say so with the failed task's message first and the proxy's log last."""
    failure = row.failure()
    assert row.run.outcomes, f'{row.host} ran no task\n{row.run.stdout[-4000:]}'
    assert failure is None, f'{row.host} failed: {failure}\n--- proxy log ---\n{row.proxy.describe()}'
