"""Fleets: N local-connection hosts, one certificate each, http-01, the role's first and no-op runs.

Every host has its own root directory (certificates and keys below ``certs/``, its web root below
``webroot/``); the role's controller state (account key, orders) is one directory per fleet, as the
role keeps it. Each measured run reports wall seconds, the CPU-seconds of the whole process tree,
pebble's requests, the ansible-playbook process's peak memory and the task executions by kind; the
same runs measured under other Ansible settings are the ``--settings`` table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import yaml

from fleet_webserver import FleetWebServer
from process_tree import become_subreaper, measured_cpu, reap_orphans
from sshd import LoopbackSshd

FIRST, NOOP = 'first run', 'no-op run'
CERTIFICATE_NAME = 'bench'  # the role's certificate entry: <root>/certs/bench/cert.pem
MITOGEN_VENV = pathlib.Path(__file__).resolve().parent / '.venv-mitogen'
MITOGEN_VERSION = '0.3.54'


@dataclasses.dataclass(frozen=True)
class Setting:  # pylint: disable=too-many-instance-attributes  # one field per Ansible setting
    """The Ansible settings one fleet run uses; the defaults are the fleet rows' settings."""

    key: str
    label: str
    forks: int = 10
    strategy: str = 'linear'
    gather_facts: bool = False
    ssh: bool = False  # ansible_connection=ssh to our own sshd on 127.0.0.1 instead of local
    pipelining: bool = False
    control_persist: bool = False
    mitogen: bool = False

    def environment(self, run_dir: pathlib.Path) -> dict[str, str]:
        """The ANSIBLE_* variables that select this setting."""
        environment = {'ANSIBLE_FORKS': str(self.forks), 'ANSIBLE_PIPELINING': str(self.pipelining).lower()}
        if self.ssh:
            # Ansible's default ssh_args are '-C -o ControlMaster=auto -o ControlPersist=60s'.
            environment['ANSIBLE_SSH_ARGS'] = (
                '-o ControlMaster=auto -o ControlPersist=60s' if self.control_persist else '-o ControlMaster=no -o ControlPath=none'
            )
            environment['ANSIBLE_SSH_CONTROL_PATH_DIR'] = str(run_dir / 'cp')
        if self.mitogen:
            environment['ANSIBLE_STRATEGY_PLUGINS'] = str(mitogen_strategy_plugins())
        return environment

    def extra_vars(self) -> dict[str, Any]:
        """The play keywords the fleet playbook takes from extra vars."""
        return {'bench_strategy': self.strategy, 'bench_gather_facts': self.gather_facts}


FLEET_SETTING = Setting('fleet', 'forks 10, linear, no facts, local connection')
SETTINGS = (
    FLEET_SETTING,
    Setting('forks2', 'forks 2 (= cores)', forks=2),
    Setting('forks5', 'forks 5', forks=5),
    Setting('free', 'strategy: free', strategy='free'),
    Setting('facts', 'gather_facts: true', gather_facts=True),
    Setting('mitogen', f'Mitogen {MITOGEN_VERSION}, strategy mitogen_linear', strategy='mitogen_linear', mitogen=True),
    Setting('ssh', 'SSH, no pipelining, no ControlPersist', ssh=True),
    Setting('ssh-persist', 'SSH + ControlPersist', ssh=True, control_persist=True),
    Setting('ssh-pipelining', 'SSH + pipelining', ssh=True, pipelining=True),
    Setting('ssh-both', 'SSH + pipelining + ControlPersist', ssh=True, pipelining=True, control_persist=True),
)
SETTING_KEYS = {setting.key: setting for setting in SETTINGS}


def mitogen_strategy_plugins() -> pathlib.Path:
    """Mitogen's strategy plugins from bench/.venv-mitogen, created on first use (pip install mitogen)."""
    python = MITOGEN_VENV / 'bin' / 'python'
    if not python.exists():
        subprocess.run([sys.executable, '-m', 'venv', str(MITOGEN_VENV)], check=True)
    found = list(MITOGEN_VENV.glob('lib/python*/site-packages/ansible_mitogen/plugins/strategy'))
    if not found:
        subprocess.run([str(python), '-m', 'pip', 'install', '--quiet', f'mitogen=={MITOGEN_VERSION}'], check=True)
        found = list(MITOGEN_VENV.glob('lib/python*/site-packages/ansible_mitogen/plugins/strategy'))
    return found[0]


@dataclasses.dataclass
class FleetMeasurement:  # pylint: disable=too-many-instance-attributes  # one field per number
    """One measured run of the fleet playbook."""

    setting: str
    hosts: int
    run: str  # FIRST or NOOP
    round: int
    seconds: float
    cpu_seconds: float
    requests: int
    requests_by_endpoint: dict[str, int]
    host_module_runs: int
    controller_module_runs: int
    controller_only_executions: int
    controller_peak_rss_kib: int | None
    load_average: float
    orphans_reaped: int = 0  # processes that left the tree and were reaped by the harness (counted in cpu_seconds)


def per_unit(measurement: FleetMeasurement) -> dict[str, float]:
    """The ratios the targets of issue 10 state; one certificate per host, so per host = per host-certificate."""
    hosts = measurement.hosts
    return {
        'cpu_seconds_per_host_certificate': measurement.cpu_seconds / hosts,
        'requests_per_certificate': measurement.requests / hosts,
        'host_module_runs_per_host': measurement.host_module_runs / hosts,
        'controller_only_executions_per_host': measurement.controller_only_executions / hosts,
    }


def fleet_inventory(
    hosts: Sequence[str], roots: dict[str, pathlib.Path], domains: dict[str, str], *, python: str, sshd: LoopbackSshd | None, control_dir: pathlib.Path
) -> dict[str, Any]:
    """The YAML inventory: group ``fleet``, each host with its root and domain, local or SSH connection."""
    group_vars: dict[str, Any] = {'ansible_python_interpreter': python}
    if sshd is None:
        group_vars['ansible_connection'] = 'local'
    else:
        group_vars.update(
            {
                'ansible_connection': 'ssh',
                'ansible_host': '127.0.0.1',
                'ansible_port': sshd.port,
                'ansible_user': os.environ.get('USER') or 'root',
                'ansible_ssh_private_key_file': str(sshd.client_key),
                'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR',
            }
        )
    host_vars: dict[str, dict[str, Any]] = {}
    for host in hosts:
        host_vars[host] = {'bench_host_root': str(roots[host]), 'bench_domain': domains[host]}
        if sshd is not None:
            # Every host its own master connection, as on a real fleet (they would share one: same address).
            host_vars[host]['ansible_control_path'] = str(control_dir / f'{host}.sock')
    return {'fleet': {'hosts': host_vars, 'vars': group_vars}}


class FleetBench:
    """Runs the fleet playbook on fresh fleets with the servers and runner of a ``Bench``."""

    def __init__(
        self,
        *,
        work_dir: pathlib.Path,
        runner: Any,
        pebble: Any,
        web: FleetWebServer,
        zone: str,
        check_certificate: Any,
        requests_by_endpoint: Any,
        playbook: pathlib.Path,
        sshd_binary: pathlib.Path | None = None,
        keep_pids: Sequence[int] = (),
    ) -> None:
        self.work_dir = work_dir
        self.runner = runner
        self.pebble = pebble
        self.web = web
        self.zone = zone
        self.check_certificate = check_certificate
        self.requests_by_endpoint = requests_by_endpoint
        self.playbook = playbook
        self.sshd_binary = sshd_binary
        self.keep_pids = set(keep_pids)
        self.measurements: list[FleetMeasurement] = []
        self._fleet_numbers = iter(range(1, 1_000_000))
        # Processes that leave the tree (ssh's ControlPersist masters, Mitogen's contexts if a parent does not
        # wait for them) become our children: reaped after each run, their CPU counts.
        self._subreaper = become_subreaper()

    def measure(self, hosts: int, setting: Setting, round_number: int) -> list[FleetMeasurement]:
        """A new fleet of ``hosts``: its first run, then its no-op run; both checked."""
        number = next(self._fleet_numbers)
        fleet_dir = self.work_dir / 'fleets' / f'{number:03d}-{setting.key}-{hosts}'
        token = secrets.token_hex(3)
        names = [f'h{index:03d}' for index in range(1, hosts + 1)]
        roots = {host: fleet_dir / host for host in names}
        domains = {host: f'{host}-{number}-{token}.{self.zone}' for host in names}
        for host in names:
            (roots[host] / 'certs').mkdir(parents=True)
            (roots[host] / 'webroot').mkdir()
            self.web.webroots[domains[host]] = roots[host] / 'webroot'
        state_dir = fleet_dir / 'controller-state'
        state_dir.mkdir()
        sshd = None
        if setting.ssh:
            if self.sshd_binary is None:
                raise FleetError('no sshd binary: install openssh-server or pass --sshd (see bench/README.md)')
            sshd = LoopbackSshd(self.work_dir / 'sshd', binary=self.sshd_binary)
        control_dir = fleet_dir / 'cp'
        control_dir.mkdir()
        inventory = fleet_dir / 'inventory.yml'
        inventory.write_text(
            yaml.safe_dump(fleet_inventory(names, roots, domains, python=sys.executable, sshd=sshd, control_dir=control_dir)), encoding='utf-8'
        )
        extra_vars = {
            'acme_directory': self.pebble.directory_url,
            'acme_ca_path': str(self.pebble.ca_path),
            'state_dir': str(state_dir),
            'owner': _user(),
            'group': _group(),
            **setting.extra_vars(),
        }
        measured = []
        serials: dict[str, int] = {}
        for run in (FIRST, NOOP):
            measurement = self._run(
                fleet_dir, inventory, extra_vars, setting=setting, hosts=hosts, run=run, round_number=round_number, sshd=sshd, control_dir=control_dir
            )
            for host in names:
                serial = self.check_certificate(roots[host] / 'certs' / CERTIFICATE_NAME / 'cert.pem', [domains[host]])
                if run == NOOP and serials[host] != serial:
                    raise FleetError(f'{setting.label}, {hosts} hosts: {host} got a new certificate in the no-op run')
                serials[host] = serial
            measured.append(measurement)
        return measured

    def _run(
        self,
        fleet_dir: pathlib.Path,
        inventory: pathlib.Path,
        extra_vars: dict[str, Any],
        *,
        setting: Setting,
        hosts: int,
        run: str,
        round_number: int,
        sshd: LoopbackSshd | None,
        control_dir: pathlib.Path,
    ) -> FleetMeasurement:
        timing_path = fleet_dir / f'timing-{run.replace(" ", "-")}.json'
        self.runner.timing_path = timing_path
        self.runner.inventory_path = inventory
        self.runner.extra_environment = setting.environment(fleet_dir)
        requests_before = self.pebble.count_requests()
        load_average = os.getloadavg()[0]
        if sshd is not None:
            sshd.start()
        started = time.perf_counter()
        orphans = 0
        with measured_cpu() as cpu:
            try:
                self.runner.run(self.playbook, extra_vars=extra_vars)
            finally:
                seconds = time.perf_counter() - started
                if sshd is not None:
                    _end_masters(control_dir)
                    sshd.stop()
                if self._subreaper:
                    orphans = reap_orphans(self.keep_pids)
        logged = self.pebble.logged_requests()[requests_before:]
        timing = json.loads(timing_path.read_text(encoding='utf-8'))
        counts = timing['counts']
        measurement = FleetMeasurement(
            setting=setting.key,
            hosts=hosts,
            run=run,
            round=round_number,
            seconds=seconds,
            cpu_seconds=cpu.total,
            requests=len(logged),
            requests_by_endpoint=self.requests_by_endpoint(logged),
            host_module_runs=counts['host_module_runs'],
            controller_module_runs=counts['controller_module_runs'],
            controller_only_executions=counts['controller_only_executions'],
            controller_peak_rss_kib=timing['controller_peak_rss_kib'],
            load_average=load_average,
            orphans_reaped=orphans,
        )
        self.measurements.append(measurement)
        ratios = per_unit(measurement)
        print(
            f'[fleet {setting.key}, round {round_number}] {hosts} hosts, {run}: {seconds:.1f} s, {cpu.total:.1f} CPU-s '
            f'({ratios["cpu_seconds_per_host_certificate"]:.2f}/host), {measurement.requests} requests, '
            f'{measurement.host_module_runs} host module runs, peak RSS {(measurement.controller_peak_rss_kib or 0) / 1024:.0f} MiB, '
            f'load {load_average:.1f}, {orphans} orphans reaped',
            file=sys.stderr,
            flush=True,
        )
        return measurement


class FleetError(RuntimeError):
    """A fleet run did not do what it must for its numbers to mean anything."""


def _end_masters(control_dir: pathlib.Path) -> None:
    """Tell every ControlPersist master of the run to exit (they would linger 60 s)."""
    for socket_path in control_dir.glob('*.sock'):
        subprocess.run(['ssh', '-o', f'ControlPath={socket_path}', '-O', 'exit', 'bench'], capture_output=True, check=False, timeout=10)
    deadline = time.monotonic() + 5
    while any(control_dir.glob('*.sock')) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in _children_named('ssh'):
        os.kill(pid, signal.SIGTERM)


def _children_named(name: str) -> list[int]:
    """Pids of this process's children whose command is ``name``."""
    found = []
    for stat in pathlib.Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text(encoding='ascii', errors='replace')
        except OSError:
            continue
        command = fields[fields.index('(') + 1 : fields.rindex(')')]
        ppid = int(fields[fields.rindex(')') + 2 :].split()[1])
        if command == name and ppid == os.getpid():
            found.append(int(stat.parent.name))
    return found


def _user() -> str:
    import pwd  # pylint: disable=import-outside-toplevel

    return pwd.getpwuid(os.getuid()).pw_name


def _group() -> str:
    import grp  # pylint: disable=import-outside-toplevel

    return grp.getgrgid(os.getgid()).gr_name
