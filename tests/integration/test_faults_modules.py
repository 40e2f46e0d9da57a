"""The module flow through the fault-injecting proxy, one playbook run per row.

Transient faults (each kind on the first request of every resource) must end in the certificate a
clean run gives, with one order and one finalize processed by pebble, and retries reported.
Persistent faults (each kind on every request of one resource) must fail the play with one line that
names the CA URL, the status or problem, how many tries over how long, and what to do.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

from test_faults_support import (
    CA_TASKS,
    FAULTS_WITHOUT_RETRY,
    FLOW_PLAYBOOK,
    PERSISTENT_FAULTS,
    TRANSIENT_FAULTS,
    TRIES,
    PersistentFault,
    check_certificate_files,
    check_failure_message,
    failed_task,
    new_flow,
    retries_reported,
)
from testbed import faults
from testbed.ansible import PlaybookRun
from testbed.bind9 import Bind9Server
from testbed.fault_proxy import FaultProxy
from testbed.faults import Fault
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

# A fault that ends the connection for good is counted by attempts the proxy cannot see.
UNCOUNTABLE_KINDS = frozenset({faults.DOWN, faults.SILENT})


@pytest.mark.parametrize('fault', TRANSIENT_FAULTS, ids=lambda fault: fault.label)
def test_a_transient_fault_on_every_resource_ends_in_one_certificate(
        fault: Fault, fault_proxy: FaultProxy, pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server,
        run_playbook: Callable[..., PlaybookRun], tmp_path: pathlib.Path) -> None:
    flow = new_flow(tmp_path, proxy=fault_proxy, webroot=webroot, bind9=bind9, persistent=False)
    fault_proxy.plan(faults.first(fault))
    run = _run_to_success(run_playbook, flow.variables, fault_proxy)
    log = fault_proxy.describe()
    check_certificate_files(flow.certificate_dir, names=flow.domains, pebble=pebble)
    assert fault_proxy.count('newOrder', processed=True) == 1, log
    assert fault_proxy.count('finalize', processed=True) == 1, log
    hit = {record.resource for record in fault_proxy.faulted()}
    assert {'directory', 'newAccount', 'newOrder', 'authz', 'challenge', 'finalize', 'certificate'} <= hit, log
    if fault.kind not in FAULTS_WITHOUT_RETRY:
        retries = retries_reported(run)
        assert retries > 0, 'no task reports its retries in the results'


def test_a_transient_truncated_certificate_download_never_leaves_a_leaf_without_its_chain(
        fault_proxy: FaultProxy, pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server,
        run_playbook: Callable[..., PlaybookRun], tmp_path: pathlib.Path) -> None:
    flow = new_flow(tmp_path, proxy=fault_proxy, webroot=webroot, bind9=bind9, persistent=False)
    fault_proxy.plan(faults.first(Fault(faults.TRUNCATE), ['certificate']))
    _run_to_success(run_playbook, flow.variables, fault_proxy)
    assert fault_proxy.faulted(), 'the certificate download was not truncated'
    check_certificate_files(flow.certificate_dir, names=flow.domains, pebble=pebble)
    assert fault_proxy.count('certificate', reached_ca=True) >= 2, 'the truncated download was not retried'


@pytest.mark.parametrize('row', PERSISTENT_FAULTS, ids=lambda row: row.id)
def test_a_persistent_fault_fails_the_play_with_one_line_that_says_what_to_do(
        row: PersistentFault, fault_proxy: FaultProxy, webroot: WebrootServer, bind9: Bind9Server,
        run_playbook: Callable[..., PlaybookRun], tmp_path: pathlib.Path) -> None:
    flow = new_flow(tmp_path, proxy=fault_proxy, webroot=webroot, bind9=bind9, persistent=True)
    fault_proxy.plan(faults.always(row.fault, [row.resource]))
    run = run_playbook(FLOW_PLAYBOOK, extra_vars=flow.variables, expect_failure=True)
    task = failed_task(run)
    assert task in CA_TASKS
    message = run.failure_message(task)
    check_failure_message(message, proxy=fault_proxy, row=row)
    faulted = [record for record in fault_proxy.faulted() if record.resource == row.resource]
    assert faulted, 'the fault was never applied'
    tries = TRIES.search(message)
    if row.fault.kind not in UNCOUNTABLE_KINDS and tries:
        # The tries of the request that gave up: reads back of a POST whose answer was lost are counted apart.
        same_kind = [record for record in faulted if record.is_read == faulted[-1].is_read]
        assert int(tries.group(1)) == len(same_kind), \
            f'the message counts {tries.group(1)} tries, the proxy saw {len(same_kind)}\n{fault_proxy.describe()}'
    assert not (flow.certificate_dir / 'cert.pem').exists()


def _run_to_success(run_playbook: Callable[..., PlaybookRun], variables: dict[str, object], proxy: FaultProxy) -> PlaybookRun:
    """Run the flow; if it fails, say so with the failed task's message first and the proxy's log last."""
    try:
        return run_playbook(FLOW_PLAYBOOK, extra_vars=variables)
    except AssertionError as failure:
        fatal = [line for line in str(failure).splitlines() if line.startswith('fatal: ')]
        raise AssertionError(f'{fatal[-1] if fatal else "the run failed"}\n{failure}\n--- proxy log ---\n{proxy.describe()}') from None
