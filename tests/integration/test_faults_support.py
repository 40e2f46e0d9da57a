"""What the fault tables share: the faults, the module flow through the proxy, and checks on its outcome.

This file holds no tests (pytest collects nothing from it); it is named like the tests it serves.
The rows of a table run in one ansible-playbook run, one inventory host per row, each host talking to
its own proxy with its own plan, so that rows wait out their faults side by side. Timeouts are short
so that a table takes a minute or two; no test asserts how long anything took.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from test_issuance_support import subject_alternative_names, unique_name, verify_chain, write_csr
from testbed.ansible import PlaybookRun, PlaybookRunner
from testbed.bind9 import Bind9Server
from testbed.fault_proxy import FaultProxy
from testbed.faults import (
    BROKEN_PEM,
    DOWN,
    NO_LOCATION,
    NO_NONCE,
    NON_JSON,
    NON_PEM,
    RESET_AFTER,
    RESET_BEFORE,
    SILENT,
    STALL,
    TRUNCATE,
    TRUNCATE_CLOSE,
    Fault,
    Rule,
)
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'faults'
FLOW_PLAYBOOK = PLAYBOOKS / 'issue.yml'
ROLE_PLAYBOOK = PLAYBOOKS / 'role.yml'
# Far above what a normal answer takes on a loaded machine; a stalled request costs this much.
REQUEST_TIMEOUT_SECONDS = 3
# Long enough for a Retry-After of a few seconds and a few backoffs; short enough that a persistent fault ends the run soon
# (under 16 s the client starts its backoff lower, so that all its tries fit).
TRANSIENT_RETRY_TIMEOUT_SECONDS = 30
PERSISTENT_RETRY_TIMEOUT_SECONDS = 6
# Rows of a table run side by side; most of their time is spent waiting on faults, not computing.
MAX_PARALLEL_ROWS = 20
CA_TASKS = ('Register the account', 'Order the certificate', 'Ask the CA to validate', 'Finalize the order and write the certificate files')

# One of each kind of fault a CA or the network between can produce, with short Retry-After values.
TRANSIENT_FAULTS = (
    Fault.status(503, retry_after=1),
    Fault.status(503, retry_after=1, as_date=True),
    Fault.rate_limited(retry_after=1),
    Fault.status(500),
    Fault.status(502),
    Fault.status(504),
    Fault(RESET_BEFORE),
    Fault(RESET_AFTER),
    Fault(STALL),
    Fault(TRUNCATE),
    Fault(TRUNCATE_CLOSE),
    Fault(NON_JSON),
    Fault(NON_PEM),
    Fault(BROKEN_PEM),
    Fault(NO_NONCE),
    Fault(NO_LOCATION),
)
# Faults after which the client must send something again (a missing nonce only costs a newNonce).
FAULTS_WITHOUT_RETRY = frozenset({NO_NONCE})


@dataclasses.dataclass(frozen=True)
class PersistentFault:
    """A fault on every request of one resource, and what the failure message must name besides URL, tries and time."""

    fault: Fault
    resource: str
    names: str  # a regular expression for the HTTP status, problem type or kind of failure

    @property
    def id(self) -> str:
        """The test id, e.g. ``503-retry-after@directory``."""
        return f'{self.fault.label}@{self.resource}'


PERSISTENT_FAULTS = (
    PersistentFault(Fault.status(503, retry_after=1), 'directory', r'\b503\b'),
    PersistentFault(Fault.status(504), 'directory', r'\b504\b'),
    PersistentFault(Fault(TRUNCATE_CLOSE), 'directory', r'(?i)truncat|incomplete|broken|ended early'),
    PersistentFault(Fault(DOWN), 'directory', r'(?i)refused'),
    PersistentFault(Fault(NO_NONCE), 'newNonce', r'Replay-Nonce'),
    PersistentFault(Fault.status(503, retry_after=2, as_date=True), 'newOrder', r'\b503\b'),
    # Python's TLS layer reports a reset (after TLS 1.3 session tickets) as the peer closing the connection.
    PersistentFault(Fault(RESET_BEFORE), 'newOrder', r'(?i)reset|closed|aborted|disconnected|no answer'),
    # A newOrder answer without a body or a Location is survivable (the account's orders list finds the order).
    PersistentFault(Fault(NON_JSON), 'authz', r'JSON'),
    PersistentFault(Fault(NO_LOCATION), 'newAccount', r'Location'),
    PersistentFault(Fault.status(500), 'challenge', r'\b500\b|serverInternal'),
    PersistentFault(Fault(STALL), 'challenge', r'(?i)timed out|time-?out|no answer'),
    PersistentFault(Fault.rate_limited(retry_after=1), 'finalize', r'rateLimited|\b429\b'),
    # A finalize whose answer is lost is survivable (the order is read back); a download that is always lost is not.
    PersistentFault(Fault(RESET_AFTER), 'certificate', r'(?i)reset|closed|aborted|disconnected|no answer|lost'),
    PersistentFault(Fault(SILENT), 'finalize', r'(?i)timed out|time-?out|no answer'),
    PersistentFault(Fault.status(502), 'certificate', r'\b502\b'),
    # pebble answers 5 % of tries badNonce: the last try may have been a problem document cut short instead.
    PersistentFault(Fault(TRUNCATE), 'certificate', r'(?i)truncat|incomplete|PEM|chain|cut short'),
    # A badNonce answer is replaced too, so the last try may have seen a problem document that does not parse.
    PersistentFault(Fault(NON_PEM), 'certificate', r'(?i)PEM|does not parse'),
    PersistentFault(Fault(BROKEN_PEM), 'certificate', r'(?i)PEM|cut off'),
)
# A count of tries and a duration, e.g. "5 tries over 8 s" (any wording with both numbers).
TRIES = re.compile(r'\b(\d+) (?:tries|attempts|requests)\b')
DURATION = re.compile(r'\b\d+(?:\.\d+)? ?(?:s|seconds)\b')
# What to do next: the message must give advice, not only a diagnosis.
ADVICE = re.compile(r'(?i)\b(try again|retry|check|increase|raise|wait|later|contact|make sure|verify)\b')


@dataclasses.dataclass(frozen=True)
class Flow:
    """The files and variables of one run of the module flow."""

    domains: list[str]
    variables: dict[str, Any]
    certificate_dir: pathlib.Path


def new_flow(tmp_path: pathlib.Path, *, proxy: FaultProxy, webroot: WebrootServer, bind9: Bind9Server, persistent: bool) -> Flow:
    """Fresh names, CSR, state and certificate directories for one run through ``proxy``."""
    domains = [unique_name('fault', bind9.zone), unique_name('alt', bind9.zone)]
    certificate_dir = tmp_path / 'certs'
    variables = {
        'acme_directory': proxy.directory_url,
        'acme_ca_path': str(proxy.ca_path),
        'request_timeout': REQUEST_TIMEOUT_SECONDS,
        'retry_timeout': PERSISTENT_RETRY_TIMEOUT_SECONDS if persistent else TRANSIENT_RETRY_TIMEOUT_SECONDS,
        'domains': domains,
        'csr_path': str(write_csr(tmp_path / 'csr' / 'fault.csr', domains)),
        'webroot': str(webroot.path),
        'certificate_dir': str(certificate_dir),
        'state_dir': str(tmp_path / 'state'),
    }
    return Flow(domains=domains, variables=variables, certificate_dir=certificate_dir)


@dataclasses.dataclass(frozen=True)
class RowRun:
    """What one row of a table did: its host's part of the playbook run, its proxy (stopped, log kept) and its files."""

    host: str
    run: PlaybookRun  # the outcomes of this row's host only
    proxy: FaultProxy
    flow: Flow

    def failure(self) -> str | None:
        """The message of the task that failed this row's host, or None when every task succeeded."""
        failed = [outcome for outcome in self.run.outcomes if outcome.failed and not outcome.ignored]
        return str(failed[-1].result.get('msg')) if failed else None


class _RowsRunner(PlaybookRunner):
    """A runner whose ansible-playbook serves every row's host at once."""

    def __init__(self, *, work_dir: pathlib.Path, collections_path: pathlib.Path, forks: int) -> None:
        super().__init__(work_dir=work_dir, collections_path=collections_path)
        self.forks = forks

    def environment(self) -> dict[str, str]:
        return {**super().environment(), 'ANSIBLE_FORKS': str(self.forks)}


def run_rows(
    rows: Mapping[str, Sequence[Rule]],
    *,
    persistent: bool,
    root: pathlib.Path,
    pebble: PebbleServer,
    webroot: WebrootServer,
    bind9: Bind9Server,
    collections_path: pathlib.Path,
) -> dict[str, RowRun]:
    """Run the module flow once for every row (row id -> the rules of its proxy's plan); return each row's part."""
    proxies: dict[str, FaultProxy] = {}
    flows: dict[str, Flow] = {}
    hosts: dict[str, dict[str, Any]] = {}
    names = {row_id: f'row{index}' for index, row_id in enumerate(rows)}
    try:
        for row_id, rules in rows.items():
            row_dir = root / names[row_id]
            row_dir.mkdir(parents=True)
            proxy = FaultProxy(upstream_port=pebble.listen_port, tls=pebble.tls, log_path=row_dir / 'fault-proxy.log')
            proxies[row_id] = proxy
            proxy.start()
            proxy.plan(*rules)
            flows[row_id] = new_flow(row_dir, proxy=proxy, webroot=webroot, bind9=bind9, persistent=persistent)
            hosts[names[row_id]] = {**flows[row_id].variables, 'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
        runner = _RowsRunner(work_dir=root / 'ansible', collections_path=collections_path, forks=min(len(rows), MAX_PARALLEL_ROWS))
        runner.inventory_path = root / 'inventory.yml'
        runner.inventory_path.write_text(yaml.safe_dump({'all': {'hosts': hosts}}), encoding='utf-8')
        run = runner.run(FLOW_PLAYBOOK, expect_failure=None)
    finally:
        for proxy in proxies.values():
            proxy.stop()  # ends what a stalled or silent row still holds
    return {
        row_id: RowRun(
            host=host,
            run=dataclasses.replace(run, outcomes=[outcome for outcome in run.outcomes if outcome.host == host]),
            proxy=proxies[row_id],
            flow=flows[row_id],
        )
        for row_id, host in names.items()
    }


def check_certificate_files(
    certificate_dir: pathlib.Path, *, names: list[str], pebble: PebbleServer, cert: str = 'cert.pem', chain: str = 'chain.pem', fullchain: str = 'fullchain.pem'
) -> None:
    """The files hold a whole certificate for ``names`` whose chain verifies to pebble's root."""
    cert_pem = (certificate_dir / cert).read_text(encoding='ascii')
    chain_pem = (certificate_dir / chain).read_text(encoding='ascii')
    fullchain_pem = (certificate_dir / fullchain).read_text(encoding='ascii')
    assert 'BEGIN CERTIFICATE' in chain_pem, f'{chain} holds no certificate: {chain_pem!r}'
    assert fullchain_pem == cert_pem + chain_pem or fullchain_pem == cert_pem.rstrip('\n') + '\n' + chain_pem, f'{fullchain} is not {cert} followed by {chain}'
    assert sorted(subject_alternative_names(cert_pem)) == sorted(names)
    for name in names:
        verify_chain(fullchain_pem, root_pem=pebble.root_pem(0), subject=name)


def retries_reported(run: PlaybookRun) -> int:
    """The retries the CA-facing tasks report in their results (``retries``, a count or counts by cause)."""
    total = 0
    for outcome in run.outcomes:
        value = outcome.result.get('retries', 0)
        if isinstance(value, dict):
            total += sum(number for number in value.values() if isinstance(number, int))
        elif isinstance(value, int):
            total += value
    return total


def failed_task(run: PlaybookRun) -> str:
    """The name of the task that failed the play (the last failed one: a rescue may fail again with the reason)."""
    failed = [outcome.task for outcome in run.outcomes if outcome.failed and not outcome.ignored]
    assert failed, 'no task failed'
    return failed[-1]


def check_failure_message(message: str, *, proxy: FaultProxy, row: PersistentFault) -> None:
    """One line (checked by failure_message) naming the CA URL, the status or problem, tries over time, and advice."""
    assert proxy.base_url in message, f'the CA URL is not named: {message}'
    assert re.search(row.names, message), f'{row.names!r} (status, problem type or failure) is not named: {message}'
    assert TRIES.search(message), f'the number of tries is not named: {message}'
    assert DURATION.search(message), f'how long it tried is not named: {message}'
    assert ADVICE.search(message), f'no advice on what to do: {message}'
