"""Measure certforge.acme against community.crypto: wall seconds, CPU-seconds and ACME requests per playbook run.

    .venv/bin/python bench/run.py [--runs 5] [--only modules,role,community.crypto,cc-split] [--keep-work-dir]
    .venv/bin/python bench/run.py --fleet 1 10 50 | --settings [KEY,...] | --importtime | --all [--markdown FILE]

Starts pebble 2.4.0 (PEBBLE_VA_NOSLEEP=1, no nonce rejection, no authorization reuse), BIND 9
(every name of its zone resolves to 127.0.0.1) and the http-01 web server, all on loopback, with the
testbed of tests/testbed. Then, one warm-up round and ``--runs`` measured rounds, each round running
every case of every client side by side (the machine's speed drifts between runs), every issuance
with new names and directories and the client's existing account (made in the warm-up round).
Fleets, settings and import times: see fleet.py, importtime.py and bench/README.md. It prints the medians with their
ratios to community.crypto and writes every raw number to bench/results/<timestamp>-<pid>.json.

No timing is asserted anywhere: this is a measuring tool. What it does check is that every issuing
run produced a certificate for exactly its names and that a no-op run replaced nothing.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import grp
import importlib.metadata
import json
import os
import pathlib
import platform
import pwd
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

BENCH_DIR = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
REPO_ROOT = BENCH_DIR.parent
# The test bed is reused as it is, not copied.
sys.path.insert(0, str(REPO_ROOT / 'tests'))

# pylint: disable=wrong-import-position
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from testbed.ansible import PlaybookRunner  # noqa: E402
from testbed.bind9 import Bind9Server  # noqa: E402
from testbed.pebble import LoggedRequest, PebbleServer, PebbleSettings  # noqa: E402
from testbed.ports import free_port  # noqa: E402
from testbed.tls import create_server_tls  # noqa: E402
from testbed.webserver import WebrootServer  # noqa: E402
import testbed.ansible  # noqa: E402
from fleet import FLEET_SETTING, SETTING_KEYS, SETTINGS, FleetBench, FleetError, FleetMeasurement  # noqa: E402
from fleet_webserver import FleetWebServer  # noqa: E402
from importtime import measure as measure_import_times  # noqa: E402
from process_tree import current_children, measured_cpu  # noqa: E402
from report import fleet_table, import_table, markdown_report, merge_results, settings_table  # noqa: E402
from sshd import SshdError, find_sshd  # noqa: E402
# pylint: enable=wrong-import-position

PLAYBOOKS = BENCH_DIR / 'playbooks'
CALLBACK_PLUGINS = BENCH_DIR / 'callback_plugins'
TIMING_CALLBACK = 'bench_timing'
RESULTS_DIR = BENCH_DIR / 'results'
PEERS_VENV = BENCH_DIR / '.venv-peers'
PEERS_PACKAGE, PEERS_VERSION = 'ansible', '12.3.0'

# PEBBLE_VA_NOSLEEP=1 comes from the testbed itself. No authorization reuse, so every run validates.
PEBBLE_SETTINGS = PebbleSettings(nonce_reject_percent=0, extra_environment={'PEBBLE_AUTHZREUSE': '0'})

ONE, TEN, NOOP = '1 name', '10 names', 'no-op re-run'
SCENARIOS = (ONE, TEN, NOOP)
NAME_COUNTS = {ONE: 1, TEN: 10}


@dataclasses.dataclass(frozen=True)
class Client:
    """One way to get a certificate, with the playbook that does it."""

    key: str  # for --only
    label: str
    playbook: str
    peer: bool  # runs from the community package's venv
    has_noop: bool  # the no-op re-run is measured for it
    csr_beforehand: bool  # the harness writes key and CSR before the measured run
    cert_file: str  # the issued certificate, relative to the case's certificate directory


CLIENTS = (
    Client('community.crypto', 'community.crypto two-step', 'community_crypto.playbook', peer=True, has_noop=True, csr_beforehand=False, cert_file='cert.pem'),
    Client(
        'cc-split', 'community.crypto split modules', 'community_crypto_split.playbook', peer=True, has_noop=False, csr_beforehand=True, cert_file='cert.pem'
    ),
    Client('modules', 'certforge modules', 'certforge_modules.yml', peer=False, has_noop=False, csr_beforehand=True, cert_file='cert.pem'),
    Client('role', 'certforge role', 'certforge_role.yml', peer=False, has_noop=True, csr_beforehand=False, cert_file='bench/cert.pem'),
)
CLIENT_KEYS = {client.key: client for client in CLIENTS} | {'cc': CLIENTS[0]}
BASELINE, SPLIT_BASELINE = CLIENTS[0], CLIENTS[1]


@dataclasses.dataclass
class Measurement:
    """One measured ansible-playbook run."""

    client: str
    scenario: str
    round: int  # 0 is the warm-up
    seconds: float
    cpu_seconds: float  # user + system of ansible-playbook and every process it started
    requests: int
    requests_by_endpoint: dict[str, int]
    module_runs: int  # host_module_runs + controller_module_runs
    host_module_runs: int
    controller_module_runs: int  # delegated to localhost
    controller_only_executions: int  # skipped tasks and set_fact, debug, include_tasks... one per host
    controller_peak_rss_kib: int | None  # VmHWM of the ansible-playbook process itself
    changed_tasks: int
    startup_seconds: float  # process start until the first task starts
    seconds_by_action: dict[str, float]  # task durations summed per action
    tasks: list[dict[str, Any]]  # every task in order: name, action, seconds
    load_average: float  # the machine's 1-minute load average when the run started

    @property
    def warm_up(self) -> bool:
        """Whether this run only warmed the caches up."""
        return self.round == 0


class BenchRunner(PlaybookRunner):
    """The testbed's playbook runner, with a chosen venv and the timing callback next to the results one."""

    def __init__(
        self,
        *,
        work_dir: pathlib.Path,
        collections_path: pathlib.Path,
        python: pathlib.Path,
        scan_sys_path: bool,
        extra_environment: dict[str, str] | None = None,
        record_results: bool = True,
    ) -> None:
        super().__init__(work_dir=work_dir, collections_path=collections_path)
        # The results callback keeps every result in the controller's memory: fleets leave it out.
        self.record_results = record_results
        self.ansible_playbook = python.with_name('ansible-playbook')
        # Modules must run with this venv's interpreter (ENVIRONMENT.md).
        self.inventory_path.write_text(f'localhost ansible_connection=local ansible_python_interpreter={python}\n', encoding='utf-8')
        self.scan_sys_path = scan_sys_path
        self.extra_environment = dict(extra_environment or {})
        self.timing_path: pathlib.Path | None = None

    def environment(self) -> dict[str, str]:
        environment = super().environment()
        environment['ANSIBLE_CALLBACK_PLUGINS'] = os.pathsep.join((environment['ANSIBLE_CALLBACK_PLUGINS'], str(CALLBACK_PLUGINS)))
        environment['ANSIBLE_CALLBACKS_ENABLED'] = f'{environment["ANSIBLE_CALLBACKS_ENABLED"]},{TIMING_CALLBACK}' if self.record_results else TIMING_CALLBACK
        # The community package keeps its collections in its site-packages.
        environment['ANSIBLE_COLLECTIONS_SCAN_SYS_PATH'] = 'true' if self.scan_sys_path else 'false'
        environment.update(self.extra_environment)
        if self.timing_path is not None:
            environment['BENCH_TIMING_PATH'] = str(self.timing_path)
        return environment


class Bench:  # pylint: disable=too-many-instance-attributes  # the servers and both runners
    """The servers on loopback, both Ansible installations and the measurements taken so far."""

    def __init__(self, work_dir: pathlib.Path, clients: Sequence[Client]) -> None:
        self.work_dir = work_dir
        self.clients = list(clients)
        self.tls = create_server_tls(work_dir / 'tls')
        self.bind9 = Bind9Server(work_dir / 'bind9')
        self.webroot: WebrootServer | None = None
        self.fleet_web: FleetWebServer | None = None
        self.pebble: PebbleServer | None = None
        self.runners: dict[bool, BenchRunner] = {}
        self.measurements: list[Measurement] = []
        self._case_numbers = iter(range(1, 1_000_000))

    # --- servers ---------------------------------------------------------------------------------

    def start_servers(self, *, fleet: bool = False) -> None:
        """Start BIND, the web server (one web root per host for fleets) and pebble, all on 127.0.0.1."""
        self.bind9.start()
        http_port, tls_port = free_port(), free_port()
        if fleet:
            self.fleet_web = FleetWebServer(port=http_port)
            self.fleet_web.start()
        else:
            self.webroot = WebrootServer(path=self.work_dir / 'webroot', port=http_port, log_path=self.work_dir / 'webroot.log')
            self.webroot.start()
        self.pebble = PebbleServer(
            self.work_dir / 'pebble', tls=self.tls, dns_server=self.bind9.nameserver, http_port=http_port, tls_port=tls_port, settings=PEBBLE_SETTINGS
        )
        self.pebble.start()

    def stop_servers(self) -> None:
        """Stop whatever was started, newest first."""
        for server in (self.pebble, self.webroot, self.fleet_web, self.bind9):
            if server is not None:
                server.stop()

    def fleet_bench(self, *, sshd: str | None) -> FleetBench:
        """Fleet runs with this bench's servers; ``start_servers(fleet=True)`` first."""
        assert self.pebble is not None and self.fleet_web is not None
        ours = self.work_dir / 'collections'
        link = ours / 'ansible_collections' / 'certforge' / 'acme'
        link.parent.mkdir(parents=True)
        link.symlink_to(REPO_ROOT, target_is_directory=True)
        runner = BenchRunner(
            work_dir=self.work_dir / 'ansible-fleet', collections_path=ours, python=pathlib.Path(sys.executable), scan_sys_path=False, record_results=False
        )
        return FleetBench(
            work_dir=self.work_dir,
            runner=runner,
            pebble=self.pebble,
            web=self.fleet_web,
            zone=self.bind9.zone,
            check_certificate=check_certificate,
            requests_by_endpoint=requests_by_endpoint,
            playbook=PLAYBOOKS / 'certforge_fleet.yml',
            sshd_binary=find_sshd(sshd),
            keep_pids=current_children(),
        )

    # --- Ansible ---------------------------------------------------------------------------------

    def prepare_runners(self, peers_python: pathlib.Path | None) -> None:
        """Ours from this venv with the checkout linked as certforge.acme; the peer's from its own venv."""
        ours = self.work_dir / 'collections'
        link = ours / 'ansible_collections' / 'certforge' / 'acme'
        link.parent.mkdir(parents=True)
        link.symlink_to(REPO_ROOT, target_is_directory=True)
        self.runners[False] = BenchRunner(
            work_dir=self.work_dir / 'ansible-certforge', collections_path=ours, python=pathlib.Path(sys.executable), scan_sys_path=False
        )
        if peers_python is not None:
            # An empty collections path: certforge.acme must not be visible to the peer's Ansible.
            nothing = self.work_dir / 'no-collections'
            nothing.mkdir()
            assert self.pebble is not None
            self.runners[True] = BenchRunner(
                work_dir=self.work_dir / 'ansible-peers',
                collections_path=nothing,
                python=peers_python,
                scan_sys_path=True,
                # community.crypto's ACME modules have no ca_path option; Ansible's URL code builds its
                # TLS context with Python's defaults, which trust SSL_CERT_FILE. Verification stays on.
                extra_environment={'SSL_CERT_FILE': str(self.pebble.ca_path)},
            )

    # --- one round -------------------------------------------------------------------------------

    def run_round(self, round_number: int, total_rounds: int) -> None:
        """Every case of every client once, in an order that rotates from round to round."""
        shift = round_number % len(self.clients)
        for client in self.clients[shift:] + self.clients[:shift]:
            case = self._new_case(client, NAME_COUNTS[ONE])
            serial = self._measure(client, ONE, case, round_number, total_rounds)
            if client.has_noop:
                self._measure(client, NOOP, case, round_number, total_rounds, expected_serial=serial)
            self._measure(client, TEN, self._new_case(client, NAME_COUNTS[TEN]), round_number, total_rounds)

    def _new_case(self, client: Client, name_count: int) -> dict[str, Any]:
        """Fresh directories and names never used before; a key and CSR when the client takes one."""
        assert self.pebble is not None and self.webroot is not None
        number = next(self._case_numbers)
        case_dir = self.work_dir / 'cases' / f'{number:03d}-{client.key}'
        # One account per client, created in the warm-up round: the measured runs use an existing account.
        state_dir, certificate_dir = self.work_dir / 'accounts' / client.key, case_dir / 'certs'
        state_dir.mkdir(parents=True, exist_ok=True)
        certificate_dir.mkdir(parents=True)
        token = secrets.token_hex(3)
        domains = [f'n{index}-{number}-{token}.{self.bind9.zone}' for index in range(name_count)]
        extra_vars: dict[str, Any] = {
            'acme_directory': self.pebble.directory_url,
            'acme_ca_path': str(self.pebble.ca_path),
            'domains': domains,
            'webroot': str(self.webroot.path),
            'state_dir': str(state_dir),
            'certificate_dir': str(certificate_dir),
            'owner': pwd.getpwuid(os.getuid()).pw_name,
            'group': grp.getgrgid(os.getgid()).gr_name,
        }
        if client.csr_beforehand:
            extra_vars['csr_path'] = str(write_key_and_csr(certificate_dir, domains))
        return extra_vars

    def _measure(
        self, client: Client, scenario: str, extra_vars: dict[str, Any], round_number: int, total_rounds: int, *, expected_serial: int | None = None
    ) -> int:
        """Run the client's playbook once, record what it cost, check its certificate; return the serial."""
        assert self.pebble is not None
        runner = self.runners[client.peer]
        timing_path = pathlib.Path(extra_vars['certificate_dir']).parent / f'timing-{len(self.measurements)}.json'
        runner.timing_path = timing_path
        requests_before = self.pebble.count_requests()
        load_average = os.getloadavg()[0]
        started_wall = time.time()
        started = time.perf_counter()
        with measured_cpu() as cpu:
            run = runner.run(PLAYBOOKS / client.playbook, extra_vars=extra_vars)
        seconds = time.perf_counter() - started
        logged = self.pebble.logged_requests()[requests_before:]
        timing = json.loads(timing_path.read_text(encoding='utf-8'))
        startup, tasks = task_seconds(timing, started_wall)
        counts = timing['counts']
        measurement = Measurement(
            client=client.key,
            scenario=scenario,
            round=round_number,
            seconds=seconds,
            cpu_seconds=cpu.total,
            requests=len(logged),
            requests_by_endpoint=requests_by_endpoint(logged),
            module_runs=counts['host_module_runs'] + counts['controller_module_runs'],
            host_module_runs=counts['host_module_runs'],
            controller_module_runs=counts['controller_module_runs'],
            controller_only_executions=counts['controller_only_executions'],
            controller_peak_rss_kib=timing['controller_peak_rss_kib'],
            changed_tasks=len(run.changed_tasks),
            startup_seconds=startup,
            seconds_by_action=seconds_by_action(tasks),
            tasks=tasks,
            load_average=load_average,
        )
        self.measurements.append(measurement)
        serial = check_certificate(pathlib.Path(extra_vars['certificate_dir']) / client.cert_file, extra_vars['domains'])
        if expected_serial is not None and serial != expected_serial:
            raise BenchError(f'{client.label}, {scenario}: the certificate was replaced although nothing was due')
        what = 'warm-up' if round_number == 0 else f'run {round_number}/{total_rounds}'
        print(
            f'[{what}] {client.label}, {scenario}: {seconds:.2f} s, {cpu.total:.2f} CPU-s, {measurement.requests} requests, '
            f'{measurement.module_runs} module runs',
            file=sys.stderr,
            flush=True,
        )
        return serial


class BenchError(RuntimeError):
    """A run did not do what it must for its numbers to mean anything."""


# --- helpers ---------------------------------------------------------------------------------------


def write_key_and_csr(directory: pathlib.Path, domains: Sequence[str]) -> pathlib.Path:
    """An EC P-256 key (``privkey.pem``) and a CSR for ``domains`` (``cert.csr``); return the CSR's path."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in domains]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path = directory / 'privkey.pem'
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)
    csr_path = directory / 'cert.csr'
    csr_path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return csr_path


def check_certificate(path: pathlib.Path, domains: Sequence[str]) -> int:
    """The serial of the certificate at ``path``; fail unless it names exactly ``domains``."""
    if not path.is_file():
        raise BenchError(f'no certificate at {path} after the run')
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    if sorted(names) != sorted(domains):
        raise BenchError(f'{path} names {sorted(names)}, expected {sorted(domains)}')
    return certificate.serial_number


def requests_by_endpoint(logged: Sequence[LoggedRequest]) -> dict[str, int]:
    """``{'POST /my-order/': 3, 'HEAD /nonce-plz': 11, ...}``: the resource kind, without its id."""
    counts: collections.Counter[str] = collections.Counter()
    for request in logged:
        kind = request.path.split('/')[1] if request.path.count('/') > 1 else request.path.lstrip('/')
        suffix = '/' if request.path.count('/') > 1 else ''
        counts[f'{request.method} /{kind}{suffix}'] += 1
    return dict(sorted(counts.items()))


def full_action(action: str) -> str:
    """``set_fact`` -> ``ansible.builtin.set_fact``; collection names stay as they are."""
    return action if '.' in action else f'ansible.builtin.{action}'


def task_seconds(timing: dict[str, Any], started_wall: float) -> tuple[float, list[dict[str, Any]]]:
    """Start-up (process start to first task) and every task with its duration, in order.

    With one host and the linear strategy a task lasts until the next one starts.
    """
    started = timing['tasks']
    ends = [task['started'] for task in started[1:]] + [timing['playbook_ended']]
    tasks = [{'task': task['task'], 'action': full_action(task['action']), 'seconds': round(ended - task['started'], 4)} for task, ended in zip(started, ends)]
    first = started[0]['started'] if started else timing['playbook_ended']
    return first - started_wall, tasks


def seconds_by_action(tasks: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Task durations summed per action."""
    by_action: collections.Counter[str] = collections.Counter()
    for task in tasks:
        by_action[task['action']] += task['seconds']
    return {action: round(seconds, 4) for action, seconds in by_action.items()}


def peers_versions(python: pathlib.Path) -> dict[str, str]:
    """Versions of ansible, ansible-core and community.crypto in the peers' venv."""
    script = (
        'import importlib.metadata as m, json, pathlib, ansible_collections as c\n'
        'manifest = pathlib.Path(c.__path__[0], "community", "crypto", "MANIFEST.json")\n'
        'print(json.dumps({"ansible": m.version("ansible"), "ansible-core": m.version("ansible-core"),\n'
        '    "community.crypto": json.loads(manifest.read_text())["collection_info"]["version"]}))\n'
    )
    completed = subprocess.run([str(python), '-c', script], capture_output=True, text=True, check=False)
    return json.loads(completed.stdout) if completed.returncode == 0 else {}


def ensure_peers_venv() -> pathlib.Path:
    """``bench/.venv-peers`` with the community package installed; created the first time (~40 MB)."""
    python = PEERS_VENV / 'bin' / 'python'
    if python.exists() and peers_versions(python).get('ansible') == PEERS_VERSION:
        return python
    print(f'Installing {PEERS_PACKAGE} {PEERS_VERSION} into {PEERS_VENV} (once; about half a minute)...', file=sys.stderr, flush=True)
    if not python.exists():
        subprocess.run([sys.executable, '-m', 'venv', str(PEERS_VENV)], check=True)
    completed = subprocess.run(
        [str(python), '-m', 'pip', 'install', '--quiet', f'{PEERS_PACKAGE}=={PEERS_VERSION}'],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f'pip could not install {PEERS_PACKAGE}=={PEERS_VERSION}:\n{completed.stdout}{completed.stderr}')
    return python


def pebble_version() -> str:
    """The Debian package version of pebble."""
    completed = subprocess.run(['dpkg-query', '-W', '-f', '${Version}', 'pebble'], capture_output=True, text=True, check=False)
    return completed.stdout.strip() or 'unknown'


# --- the report ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Summary:
    """Medians of the measured (not warm-up) runs of one client and scenario."""

    client: str
    scenario: str
    runs: int
    seconds: float
    seconds_min: float
    seconds_max: float
    cpu_seconds: float
    requests: float
    module_runs: float
    controller_only_executions: float
    startup_seconds: float
    seconds_by_action: dict[str, float]


def summarize(measurements: Sequence[Measurement]) -> list[Summary]:
    """One summary per client and scenario, in the order of CLIENTS and SCENARIOS."""
    groups: dict[tuple[str, str], list[Measurement]] = collections.defaultdict(list)
    for measurement in measurements:
        if not measurement.warm_up:
            groups[measurement.client, measurement.scenario].append(measurement)
    summaries = []
    for scenario in SCENARIOS:
        for client in CLIENTS:
            group = groups.get((client.key, scenario))
            if not group:
                continue
            actions = sorted({action for measurement in group for action in measurement.seconds_by_action})
            summaries.append(
                Summary(
                    client=client.key,
                    scenario=scenario,
                    runs=len(group),
                    seconds=statistics.median(m.seconds for m in group),
                    seconds_min=min(m.seconds for m in group),
                    seconds_max=max(m.seconds for m in group),
                    cpu_seconds=statistics.median(m.cpu_seconds for m in group),
                    requests=statistics.median(m.requests for m in group),
                    module_runs=statistics.median(m.module_runs for m in group),
                    controller_only_executions=statistics.median(m.controller_only_executions for m in group),
                    startup_seconds=statistics.median(m.startup_seconds for m in group),
                    seconds_by_action={action: round(statistics.median(m.seconds_by_action.get(action, 0.0) for m in group), 3) for action in actions},
                )
            )
    return summaries


def ratio(ours: float, theirs: float | None, digits: int) -> str:
    """``ours / theirs`` for the table; ``-`` when there is nothing to divide by."""
    if theirs is None:
        return '-'
    if theirs == 0:
        return '0/0' if ours == 0 else '-'
    return f'{ours / theirs:.{digits}f}'


def number(value: float) -> str:
    """A median count: whole when it is whole."""
    return f'{value:.0f}' if value == int(value) else f'{value:.1f}'


def table(summaries: Sequence[Summary]) -> str:
    """The medians, one row per scenario and client, with ratios to community.crypto."""
    labels = {client.key: client.label for client in CLIENTS}
    baseline = {summary.scenario: summary for summary in summaries if summary.client == BASELINE.key}
    split = {summary.scenario: summary for summary in summaries if summary.client == SPLIT_BASELINE.key}
    header = (
        'scenario',
        'client',
        'median s',
        'min-max s',
        'CPU-s',
        'requests',
        'module runs',
        'controller-only',
        's / c.c',
        'CPU-s / c.c',
        'requests / c.c',
        'CPU-s / split',
    )
    rows = [header]
    for summary in summaries:
        theirs = baseline.get(summary.scenario)
        theirs_split = split.get(summary.scenario)
        rows.append(
            (
                summary.scenario,
                labels[summary.client],
                f'{summary.seconds:.2f}',
                f'{summary.seconds_min:.2f}-{summary.seconds_max:.2f}',
                f'{summary.cpu_seconds:.2f}',
                number(summary.requests),
                number(summary.module_runs),
                number(summary.controller_only_executions),
                ratio(summary.seconds, theirs.seconds if theirs else None, 2),
                ratio(summary.cpu_seconds, theirs.cpu_seconds if theirs else None, 2),
                ratio(summary.requests, theirs.requests if theirs else None, 2),
                ratio(summary.cpu_seconds, theirs_split.cpu_seconds if theirs_split else None, 2),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ['| ' + ' | '.join(cell.ljust(width) for cell, width in zip(row, widths)) + ' |' for row in rows]
    lines.insert(1, '|' + '|'.join('-' * (width + 2) for width in widths) + '|')
    return '\n'.join(lines)


def breakdown(summaries: Sequence[Summary], measurements: Sequence[Measurement]) -> str:
    """Where the time goes (median seconds per action) and which requests each case sent (last run)."""
    labels = {client.key: client.label for client in CLIENTS}
    last: dict[tuple[str, str], Measurement] = {}
    for measurement in measurements:
        last[measurement.client, measurement.scenario] = measurement
    lines = []
    for summary in summaries:
        actions = sorted(summary.seconds_by_action.items(), key=lambda item: -item[1])
        spent = ', '.join(f'{action.removeprefix("ansible.builtin.")} {seconds:.2f}' for action, seconds in actions if seconds >= 0.05)
        requests = last[summary.client, summary.scenario].requests_by_endpoint
        lines.append(f'{labels[summary.client]}, {summary.scenario}: start-up {summary.startup_seconds:.2f} s; {spent}')
        if requests:
            lines.append('    requests: ' + ', '.join(f'{endpoint} {count}' for endpoint, count in requests.items()))
    return '\n'.join(lines)


# --- main ------------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=5, help='measured rounds of the cases after the warm-up (default 5)')
    parser.add_argument(
        '--only',
        action='append',
        default=[],
        metavar='CLIENT[,CLIENT]',
        help='measure only these clients: modules, role, community.crypto (or cc), cc-split; repeatable',
    )
    parser.add_argument('--cases', action='store_true', help='the cases (the default when no other section is asked for)')
    parser.add_argument(
        '--fleet', type=int, nargs='+', default=[], metavar='N', help='fleets of N local-connection hosts, first and no-op run each (e.g. --fleet 1 10 50)'
    )
    parser.add_argument(
        '--settings',
        nargs='?',
        const='all',
        default=None,
        metavar='KEY[,KEY]',
        help=f'Ansible settings on a fleet of --settings-hosts: all, or some of {", ".join(SETTING_KEYS)}',
    )
    parser.add_argument('--settings-hosts', type=int, default=10, metavar='N', help='fleet size for --settings (default 10)')
    parser.add_argument('--fleet-rounds', type=int, default=1, metavar='N', help='rounds of the fleet and settings runs, medians over them (default 1)')
    parser.add_argument('--sshd', metavar='PATH', help='the sshd binary for the SSH settings (default: the installed one)')
    parser.add_argument('--importtime', action='store_true', help='import time of the host-side modules beyond ansible.module_utils.basic')
    parser.add_argument('--all', action='store_true', help='everything of bench/RESULTS.md: the cases, --fleet 1 10 50, --settings, --importtime')
    parser.add_argument('--markdown', type=pathlib.Path, metavar='FILE', help='also write the report as Markdown to FILE')
    parser.add_argument(
        '--before', type=pathlib.Path, metavar='JSON', help='raw numbers of an earlier run (bench/RESULTS-before.json): the Markdown shows them as BEFORE'
    )
    parser.add_argument(
        '--merge',
        type=pathlib.Path,
        nargs='+',
        default=[],
        metavar='JSON',
        help='measure nothing: merge the raw numbers of runs of separate sections into one file (--merged-json) and report them (--markdown)',
    )
    parser.add_argument('--merged-json', type=pathlib.Path, metavar='FILE', help='where --merge writes the merged raw numbers')
    parser.add_argument('--keep-work-dir', action='store_true', help='keep the temporary directory with server logs, playbook outputs and certificates')
    arguments = parser.parse_args(argv)
    if arguments.runs < 1 or arguments.fleet_rounds < 1:
        parser.error('--runs and --fleet-rounds must be at least 1')
    wanted = [name.strip() for value in arguments.only for name in value.split(',') if name.strip()]
    unknown = [name for name in wanted if name not in CLIENT_KEYS]
    if unknown:
        parser.error(f'unknown client(s) {", ".join(unknown)}; choose from modules, role, community.crypto, cc-split')
    arguments.clients = [client for client in CLIENTS if not wanted or client in {CLIENT_KEYS[name] for name in wanted}]
    if arguments.all:
        arguments.cases = arguments.importtime = True
        arguments.fleet = arguments.fleet or [1, 10, 50]
        arguments.settings = arguments.settings or 'all'
    elif not (arguments.fleet or arguments.settings or arguments.importtime):
        arguments.cases = True
    if arguments.settings is None:
        arguments.setting_list = []
    elif arguments.settings == 'all':
        arguments.setting_list = list(SETTINGS)
    else:
        keys = [key.strip() for key in arguments.settings.split(',') if key.strip()]
        unknown = [key for key in keys if key not in SETTING_KEYS]
        if unknown:
            parser.error(f'unknown setting(s) {", ".join(unknown)}; choose from {", ".join(SETTING_KEYS)}')
        arguments.setting_list = [SETTING_KEYS[key] for key in keys]
    if arguments.setting_list and FLEET_SETTING not in arguments.setting_list:
        arguments.setting_list.insert(0, FLEET_SETTING)  # the row the others are compared with
    if any(size < 1 for size in arguments.fleet) or arguments.settings_hosts < 1:
        parser.error('fleet sizes must be at least 1')
    return arguments


@dataclasses.dataclass
class WorkDir:
    """A temporary directory that is removed at the end unless it is to be kept."""

    keep: bool
    path: pathlib.Path = dataclasses.field(init=False)

    def __enter__(self) -> pathlib.Path:
        self.path = pathlib.Path(tempfile.mkdtemp(prefix='certforge-bench-'))
        return self.path

    def __exit__(self, *exc_info: object) -> None:
        if self.keep:
            print(f'Work directory kept: {self.path}', file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def versions(peers_python: pathlib.Path | None) -> dict[str, Any]:
    """What was measured with."""
    mitogen = next(iter(BENCH_DIR.glob('.venv-mitogen/lib/python*/site-packages/mitogen-*.dist-info')), None)
    return {
        'python': platform.python_version(),
        'mitogen': mitogen.name.removesuffix('.dist-info').split('-')[1] if mitogen else None,
        'ansible-core (certforge)': importlib.metadata.version('ansible-core'),
        'peers': peers_versions(peers_python) if peers_python is not None else None,
        'pebble': pebble_version(),
        'certforge.acme commit': subprocess.run(
            ['git', '-C', str(REPO_ROOT), 'describe', '--always', '--dirty'], capture_output=True, text=True, check=False
        ).stdout.strip(),
    }


def run_cases(arguments: argparse.Namespace, work_dir: pathlib.Path, peers_python: pathlib.Path | None) -> list[Measurement]:
    """The cases of every client, warm-up and --runs rounds."""
    bench = Bench(work_dir / 'cases', arguments.clients)
    try:
        bench.start_servers()
        bench.prepare_runners(peers_python)
        for round_number in range(arguments.runs + 1):  # 0 is the warm-up
            bench.run_round(round_number, arguments.runs)
    finally:
        bench.stop_servers()
    return bench.measurements


def run_fleets(arguments: argparse.Namespace, work_dir: pathlib.Path) -> tuple[list[FleetMeasurement], dict[str, str]]:
    """The fleet sizes, then the settings; rounds alternate the order. A setting that cannot run here is noted, not fatal."""
    bench = Bench(work_dir / 'fleet', [])
    notes: dict[str, str] = {}
    try:
        bench.start_servers(fleet=True)
        fleets = bench.fleet_bench(sshd=arguments.sshd)
        for round_number in range(1, arguments.fleet_rounds + 1):
            sizes = arguments.fleet if round_number % 2 else list(reversed(arguments.fleet))
            for size in sizes:
                fleets.measure(size, FLEET_SETTING, round_number)
            for setting in arguments.setting_list:
                if setting is FLEET_SETTING and arguments.settings_hosts in arguments.fleet:
                    continue  # measured above
                if setting.key in notes:
                    continue
                try:
                    fleets.measure(arguments.settings_hosts, setting, round_number)
                except (AssertionError, FleetError, SshdError, OSError, subprocess.CalledProcessError) as error:
                    notes[setting.key] = ' '.join(str(error).split())[:600]
                    print(f'[fleet {setting.key}] not measured: {notes[setting.key]}', file=sys.stderr, flush=True)
    finally:
        bench.stop_servers()
    return fleets.measurements, notes


def main(argv: Sequence[str] | None = None) -> int:  # pylint: disable=too-many-locals,too-many-statements
    """Measure, print the tables and write the raw numbers (and the Markdown report when asked)."""
    arguments = parse_arguments(argv)
    if arguments.merge:
        return merge(arguments)
    if not pathlib.Path(sys.executable).with_name('ansible-playbook').exists():
        print(f'{sys.executable} has no ansible-playbook beside it: run .venv/bin/python bench/run.py (make setup first)', file=sys.stderr)
        return 2
    # A first run of 50 hosts on a busy machine may take longer than the tests' limit per playbook.
    testbed.ansible.PLAYBOOK_TIMEOUT_SECONDS = 3600
    peers_python = ensure_peers_venv() if arguments.cases and any(client.peer for client in arguments.clients) else None
    started = datetime.datetime.now(datetime.timezone.utc)
    measurements: list[Measurement] = []
    fleet_measurements: list[FleetMeasurement] = []
    setting_notes: dict[str, str] = {}
    import_rows: list[dict[str, Any]] = []
    loads = [os.getloadavg()[0]]
    work = WorkDir(keep=arguments.keep_work_dir)
    with work as work_dir:
        try:
            if arguments.importtime:
                collections = work_dir / 'importtime'
                (collections / 'ansible_collections' / 'certforge').mkdir(parents=True)
                (collections / 'ansible_collections' / 'certforge' / 'acme').symlink_to(REPO_ROOT, target_is_directory=True)
                import_rows = measure_import_times(collections)
            if arguments.cases:
                measurements = run_cases(arguments, work_dir, peers_python)
            if arguments.fleet or arguments.setting_list:
                fleet_measurements, setting_notes = run_fleets(arguments, work_dir)
        except (AssertionError, BenchError, FleetError) as error:
            # A failed playbook run: PlaybookRunner describes it with the tails of its output.
            print(f'\nbench failed: {error}', file=sys.stderr)
            work.keep = True
            return 1
    finished = datetime.datetime.now(datetime.timezone.utc)
    loads += [m.load_average for m in measurements] + [m.load_average for m in fleet_measurements] + [os.getloadavg()[0]]
    summaries = summarize(measurements)

    results = {
        'started': started.isoformat(),
        'finished': finished.isoformat(),
        'command': ' '.join(['bench/run.py', *(argv if argv is not None else sys.argv[1:])]),
        'runs': arguments.runs,
        'clients': [client.key for client in arguments.clients] if arguments.cases else [],
        'machine': machine(loads),
        'versions': versions(peers_python),
        'pebble_settings': dataclasses.asdict(PEBBLE_SETTINGS) | {'PEBBLE_VA_NOSLEEP': '1'},
        'medians': [dataclasses.asdict(summary) for summary in summaries],
        'measurements': [dataclasses.asdict(measurement) for measurement in measurements],
        'fleet_measurements': [dataclasses.asdict(measurement) for measurement in fleet_measurements],
        'settings_hosts': arguments.settings_hosts,
        'setting_labels': {setting.key: setting.label for setting in SETTINGS},
        'setting_notes': setting_notes,
        'import_times': import_rows,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    # The pid keeps runs started in the same second (sections side by side) from overwriting each other.
    results_path = RESULTS_DIR / f'{started.strftime("%Y%m%dT%H%M%SZ")}-{os.getpid()}.json'
    results_path.write_text(json.dumps(results, indent=1) + '\n', encoding='utf-8')
    if measurements:
        print()
        print(
            f'Medians of {arguments.runs} runs after a warm-up, {finished - started} in all '
            f'(pebble on loopback, PEBBLE_VA_NOSLEEP=1, no nonce rejection, no authorization reuse):'
        )
        print(table(summaries))
        print('\nWhere the time goes (median seconds per action, >= 0.05 s) and the requests of the last run:')
        print(breakdown(summaries, measurements))
    if fleet_measurements:
        print(f'\nFleets (medians of {arguments.fleet_rounds} round(s)):')
        print(fleet_table([dataclasses.asdict(m) for m in fleet_measurements], FLEET_SETTING.key))
    if arguments.setting_list:
        print(f'\nSettings, on a fleet of {arguments.settings_hosts} hosts:')
        print(settings_table([dataclasses.asdict(m) for m in fleet_measurements], arguments.setting_list, arguments.settings_hosts, setting_notes))
    if import_rows:
        print('\nImport time of the host-side modules beyond ansible.module_utils.basic (least of 9 runs):')
        print(import_table(import_rows))
    print(f'\n1-minute load average during the runs: {min(loads):.1f} to {max(loads):.1f} (median {statistics.median(loads):.1f}) on {os.cpu_count()} CPUs')

    print(f'\nRaw numbers: {results_path.relative_to(REPO_ROOT)}')
    if arguments.markdown:
        before = json.loads(arguments.before.read_text(encoding='utf-8')) if arguments.before else None
        arguments.markdown.write_text(markdown_report(results, before=before), encoding='utf-8')
        print(f'Markdown: {arguments.markdown}')
    return 0


def merge(arguments: argparse.Namespace) -> int:
    """--merge: one results file and report from several."""
    merged = merge_results([json.loads(path.read_text(encoding='utf-8')) for path in arguments.merge])
    target = arguments.merged_json or RESULTS_DIR / f'{merged["started"][:19].replace("-", "").replace(":", "")}Z-merged.json'
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(merged, indent=1) + '\n', encoding='utf-8')
    print(f'Merged raw numbers: {target}')
    if arguments.markdown:
        before = json.loads(arguments.before.read_text(encoding='utf-8')) if arguments.before else None
        arguments.markdown.write_text(markdown_report(merged, before=before), encoding='utf-8')
        print(f'Markdown: {arguments.markdown}')
    return 0


def machine(loads: Sequence[float]) -> dict[str, Any]:
    """Cores, memory and how busy the machine was."""
    memory_kib = 0
    with open('/proc/meminfo', encoding='ascii') as meminfo:
        for line in meminfo:
            if line.startswith('MemTotal:'):
                memory_kib = int(line.split()[1])
    return {
        'cpus': os.cpu_count(),
        'memory_gib': round(memory_kib / 1024 / 1024, 1),
        'platform': platform.platform(),
        'load_min': min(loads),
        'load_median': statistics.median(loads),
        'load_max': max(loads),
    }


if __name__ == '__main__':
    sys.exit(main())
