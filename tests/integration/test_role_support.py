"""What the role tests share: a fleet of three hosts on loopback, its runs, and checks on its files.

This file holds no tests (pytest collects nothing from it); it is named like the tests it serves.

The inventory is ``playbooks/role/inventory`` as a user would keep it (hosts, group and host vars);
each fleet copies it and adds ``group_vars/all/testbed.yml`` with what only the running testbed
knows: the CA's URL, the ports, the root directory under which every host gets a directory of
its own that stands in for its file system, and the hosts' Python: a virtualenv with only
``cryptography`` (testbed/host_python.py), never the controller's, whose steps (``delegate_to:
localhost``) keep the controller's Python, as Ansible's implicit localhost has it. Tests change the inventory by editing the copy's
host_vars, as a user would.

Every run is a ``Step`` that keeps what the tests look at, taken right after the run: the results,
the requests the CA received, and the state of every file the role could have touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store

from testbed.ansible import PlaybookRun, PlaybookRunner
from testbed.bind9 import Bind9Server
from testbed.fixtures import ChallengePorts
from testbed.host_python import host_python, modules_run_by, recording_host_python
from testbed.pebble import LoggedRequest, PebbleServer
from testbed.webserver import WebrootServer

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'role'
HOSTS = ('web1', 'dns1', 'tls1')
ZONE = 'acme.test'
RESULTS_TASK = 'Show what the role did'
CHALLENGE_DIRECTORY = os.path.join('.well-known', 'acme-challenge')
NEW_ORDER_PATH = '/order-plz'  # pebble's newOrder URL
ORDER_TASK = 'certforge.acme.acme_certificate : Order the certificates, resuming the orders of an interrupted run'


@dataclasses.dataclass(frozen=True)
class FileState:
    """One file system entry as the role left it; equal states mean it was not touched."""

    kind: str  # 'file', 'dir' or 'link'
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    content: bytes = b''  # a file's bytes, a link's target


@dataclasses.dataclass
class Step:  # pylint: disable=too-many-instance-attributes  # everything one run left behind
    """One run of the fleet's playbook and what it left behind."""

    run: PlaybookRun
    seconds: float
    requests: list[LoggedRequest]
    before: dict[str, FileState]
    after: dict[str, FileState]
    results: dict[str, dict[str, dict[str, Any]]]  # host -> certificate name -> acme_certificate_results record
    txt_records: dict[str, list[str]]  # record name -> values BIND serves right after the run
    tls_port_answers: bool  # whether anything still listens on the tls-alpn-01 port after the run

    def changed_paths(self) -> set[str]:
        """Paths whose state differs between before and after (created, changed or removed)."""
        return {path for path in self.before.keys() | self.after.keys() if self.before.get(path) != self.after.get(path)}

    def content(self, path: pathlib.Path) -> bytes:
        """A file's content right after the run."""
        return self.after[str(path)].content

    def new_order_requests(self) -> int:
        """How many newOrder requests the CA received during the run (a retry after badNonce counts twice)."""
        return sum(1 for request in self.requests if request.method == 'POST' and request.path == NEW_ORDER_PATH)

    def orders_created(self) -> dict[str, list[str]]:
        """host -> the certificates the role created a new order for (not resumed ones)."""
        created: dict[str, list[str]] = {}
        for outcome in self.run.outcomes_of(ORDER_TASK):
            for item in outcome.result.get('results', []):
                if item.get('changed'):
                    created.setdefault(outcome.host, []).append(item['__acme_certificate_cert']['name'])
        return created


@dataclasses.dataclass
class Fleet:  # pylint: disable=too-many-instance-attributes  # one testbed, seen from every side
    """The three hosts, their inventory and the servers they talk to."""

    root: pathlib.Path
    pebble: PebbleServer
    bind9: Bind9Server
    webroot: WebrootServer
    challenge_ports: ChallengePorts
    runner: PlaybookRunner
    token: str
    timings: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def inventory(self) -> pathlib.Path:
        """The fleet's copy of the inventory directory."""
        return self.root / 'inventory'

    @property
    def state_dir(self) -> pathlib.Path:
        """acme_certificate_state_dir on the controller."""
        return self.root / 'controller' / 'acme'

    @property
    def host_interpreter(self) -> pathlib.Path:
        """The hosts' ansible_python_interpreter: a wrapper of a host virtualenv that notes the modules it runs."""
        return self.root / 'host-python' / 'python'

    def host_modules_run(self) -> list[str]:
        """The modules the hosts' interpreter ran so far (names without the collection), in order."""
        return modules_run_by(self.host_interpreter)

    def host_root(self, host: str) -> pathlib.Path:
        """The directory standing in for the file system of ``host``."""
        return self.root / host

    def cert_dir(self, host: str, name: str) -> pathlib.Path:
        """Where certificate ``name`` of ``host`` is deployed by default."""
        return self.host_root(host) / 'etc' / 'ssl' / 'acme' / name

    def webroot_of(self, host: str) -> pathlib.Path:
        """The document root ``host`` has in the inventory (web1's is the served one, through a link)."""
        return self.host_root(host) / 'var' / 'www' / 'html'

    def order_file(self, host: str, name: str) -> pathlib.Path:
        """The controller's record of the order in flight for certificate ``name`` of ``host``."""
        return self.state_dir / 'orders' / f'{host}-{name}.uri'

    def deployments_log(self, host: str) -> pathlib.Path:
        """The file the play's handler appends a line to each time it runs on ``host``."""
        return self.host_root(host) / 'deployments.log'

    def name(self, label: str) -> str:
        """The DNS name the inventory writes as ``<label>-{{ testbed_token }}.acme.test``."""
        return f'{label}-{self.token}.{ZONE}'

    # The inventory, edited as a user would.

    def host_vars(self, host: str) -> dict[str, Any]:
        """The parsed host_vars file of ``host``."""
        return yaml.safe_load((self.inventory / 'host_vars' / f'{host}.yml').read_text(encoding='utf-8'))

    def set_host_vars(self, host: str, host_vars: dict[str, Any]) -> None:
        """Replace the host_vars file of ``host``."""
        text = '---\n' + yaml.safe_dump(host_vars, sort_keys=False)
        (self.inventory / 'host_vars' / f'{host}.yml').write_text(text, encoding='utf-8')

    def set_host_var(self, host: str, name: str, value: Any) -> None:
        """Set one variable in the host_vars file of ``host``."""
        host_vars = self.host_vars(host)
        host_vars[name] = value
        self.set_host_vars(host, host_vars)

    def edit_certificate(self, host: str, name: str, **changes: Any) -> None:
        """Set (or with ``None`` remove) fields of one entry of the host's ``acme_certificate_certificates``."""
        host_vars = self.host_vars(host)
        entry = next(entry for entry in host_vars['acme_certificate_certificates'] if entry['name'] == name)
        for field, value in changes.items():
            if value is None:
                entry.pop(field, None)
            else:
                entry[field] = value
        self.set_host_vars(host, host_vars)

    def add_certificate(self, host: str, entry: dict[str, Any]) -> None:
        """Append an entry to the host's ``acme_certificate_certificates``."""
        host_vars = self.host_vars(host)
        host_vars['acme_certificate_certificates'].append(entry)
        self.set_host_vars(host, host_vars)

    def identifiers(self, host: str, name: str) -> list[str]:
        """The identifiers of one entry, as the inventory writes them (templates included)."""
        entry = next(entry for entry in self.host_vars(host)['acme_certificate_certificates'] if entry['name'] == name)
        return list(entry['identifiers'])

    @contextlib.contextmanager
    def inventory_changes(self) -> Iterator[None]:
        """Edits made inside are undone afterwards, so each step starts from the same inventory."""
        saved = {path: path.read_bytes() for path in (self.inventory / 'host_vars').iterdir()}
        try:
            yield
        finally:
            for path, content in saved.items():
                path.write_bytes(content)

    # Runs.

    def step(
        self, label: str, *, check: bool = False, expect_failure: bool = False, extra_vars: dict[str, Any] | None = None, txt_names: tuple[str, ...] = ()
    ) -> Step:
        """Run site.yml on the fleet and keep what the tests look at; the wall time is kept under ``label``."""
        requests_before = len(self.pebble.logged_requests())
        before = self.snapshot()
        started = time.monotonic()
        run = self.runner.run(PLAYBOOKS / 'site.yml', check=check, expect_failure=expect_failure, extra_vars=extra_vars)
        seconds = time.monotonic() - started
        self.timings[label] = seconds
        return Step(
            run=run,
            seconds=seconds,
            requests=self.pebble.logged_requests()[requests_before:],
            before=before,
            after=self.snapshot(),
            results=results_of(run),
            txt_records={name: self.bind9.query_txt(f'_acme-challenge.{name}') for name in txt_names},
            tls_port_answers=port_answers(self.challenge_ports.tls),
        )

    def snapshot(self) -> dict[str, FileState]:
        """Every host root, the controller's state directory and the served challenge directory."""
        snapshot = {}
        for top in [*(self.host_root(host) for host in HOSTS), self.state_dir, self.webroot.challenge_path]:
            for directory, subdirectories, files in os.walk(top):
                for name in subdirectories + files:
                    path = pathlib.Path(directory) / name
                    status = path.lstat()
                    if path.is_symlink():
                        kind, content = 'link', os.readlink(path).encode()
                    elif path.is_dir():
                        kind, content = 'dir', b''
                    else:
                        kind, content = 'file', path.read_bytes()
                    snapshot[str(path)] = FileState(kind, status.st_mode & 0o7777, status.st_uid, status.st_gid, status.st_mtime_ns, content)
        return snapshot


def create_fleet(
    root: pathlib.Path,
    *,
    pebble: PebbleServer,
    bind9: Bind9Server,
    webroot: WebrootServer,
    challenge_ports: ChallengePorts,
    collections_path: pathlib.Path,
    host_venv_python: pathlib.Path | None = None,
) -> Fleet:
    """Copy the inventory below ``root`` and give each host its directory; web1 serves the test web root.

    The hosts' modules run with ``host_venv_python`` (by default .venv-host's).
    """
    shutil.copytree(PLAYBOOKS / 'inventory', root / 'inventory')
    runner = PlaybookRunner(work_dir=root / 'ansible', collections_path=collections_path)
    runner.inventory_path = root / 'inventory'
    fleet = Fleet(root=root, pebble=pebble, bind9=bind9, webroot=webroot, challenge_ports=challenge_ports, runner=runner, token=secrets.token_hex(4))
    for host in HOSTS:
        fleet.webroot_of(host).mkdir(parents=True)
    # web1's document root is the one the web server on the CA's http-01 port serves.
    fleet.webroot_of('web1').rmdir()
    fleet.webroot_of('web1').symlink_to(webroot.path, target_is_directory=True)
    recording_host_python(fleet.host_interpreter, python=host_venv_python or host_python())
    testbed_vars = {
        # Every inventory host's; the implicit localhost the controller's steps are delegated to keeps its own.
        'ansible_python_interpreter': str(fleet.host_interpreter),
        'testbed_root': str(root),
        'testbed_token': fleet.token,
        'testbed_dns_port': bind9.port,
        'testbed_tsig_name': bind9.tsig_key_name,
        'testbed_tsig_secret': bind9.tsig_secret,
        'testbed_tsig_algorithm': bind9.tsig_algorithm,
        'testbed_tls_alpn_port': challenge_ports.tls,
        'acme_certificate_directory': pebble.directory_url,
        'acme_certificate_ca_path': str(pebble.ca_path),
        'acme_certificate_state_dir': str(fleet.state_dir),
    }
    text = '---\n# Written by the tests: what only the running testbed knows.\n' + yaml.safe_dump(testbed_vars)
    (fleet.inventory / 'group_vars' / 'all' / 'testbed.yml').write_text(text, encoding='utf-8')
    return fleet


def results_of(run: PlaybookRun) -> dict[str, dict[str, dict[str, Any]]]:
    """host -> certificate name -> its record in ``acme_certificate_results`` (hosts that got that far)."""
    records = {}
    for outcome in run.outcomes_of(RESULTS_TASK):
        if outcome.status == 'ok':
            records[outcome.host] = {item['name']: item for item in outcome.result['acme_certificate_results']}
    return records


def port_answers(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5):
            return True
    except OSError:
        return False


def verify_fullchain(fullchain: bytes, *, root_pem: str, names: list[str]) -> list[x509.Certificate]:
    """Verify a PEM full chain up to ``root_pem`` for every name (a wildcard for a name below it)."""
    leaf, *intermediates = x509.load_pem_x509_certificates(fullchain)
    store = Store([x509.load_pem_x509_certificate(root_pem.encode('ascii'))])
    path: list[x509.Certificate] = []
    for name in names:
        subject = x509.DNSName(name.replace('*', 'any', 1))
        path = PolicyBuilder().store(store).build_server_verifier(subject).verify(leaf, intermediates)
    return path


def certificate(pem: bytes) -> x509.Certificate:
    """The first certificate in ``pem``."""
    return x509.load_pem_x509_certificate(pem)


def dns_names(pem: bytes) -> list[str]:
    """The DNS names of the first certificate in ``pem``, sorted."""
    names = certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(names.get_values_for_type(x509.DNSName))


def serial_of(pem: bytes) -> str:
    """Serial number of the first certificate in ``pem``, lower-case hex as the role reports it."""
    return format(certificate(pem).serial_number, 'x')


def public_key_of_private_key(pem: bytes) -> bytes:
    """The public key (SubjectPublicKeyInfo DER) of a PEM private key."""
    key = serialization.load_pem_private_key(pem, password=None)
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_of_certificate(pem: bytes) -> bytes:
    """The public key (SubjectPublicKeyInfo DER) of the first certificate in ``pem``."""
    return certificate(pem).public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def challenge_files(snapshot: dict[str, FileState]) -> list[str]:
    """Files below any ``.well-known/acme-challenge`` directory in ``snapshot``."""
    return sorted(path for path, state in snapshot.items() if state.kind == 'file' and os.path.basename(os.path.dirname(path)) == 'acme-challenge')


def wait_until(moment: float) -> None:
    """Sleep until the wall clock (``time.time()``) reaches ``moment``."""
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)
