"""Session-scoped pytest fixtures for the real test servers; tests/conftest.py imports them.

Servers start on first use and stop when the session ends, also after failures. All pebbles
share one pair of challenge ports, so the single ``webroot`` server answers http-01 for each.
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
from collections.abc import Callable, Iterator

import pytest

from .ansible import PlaybookRun, PlaybookRunner
from .bind9 import Bind9Server
from .fault_proxy import FaultProxy
from .pebble import PebbleServer, PebbleSettings, new_eab_credentials
from .ports import free_port
from .tls import ServerTLS, create_server_tls
from .webserver import WebrootServer


@dataclasses.dataclass(frozen=True)
class ChallengePorts:
    """Where pebble's validation authority connects: ``http`` for http-01, ``tls`` for tls-alpn-01."""

    http: int
    tls: int


class PebbleFactory:
    """Starts extra pebbles with chosen settings; all of them stop at the end of the session."""

    def __init__(self, *, work_dir: pathlib.Path, tls: ServerTLS, bind9: Bind9Server, ports: ChallengePorts) -> None:
        self._work_dir = work_dir
        self._tls = tls
        self._bind9 = bind9
        self._ports = ports
        self._numbers = itertools.count(1)
        self._started: list[PebbleServer] = []

    def __call__(self, settings: PebbleSettings | None = None, *, name: str = 'pebble') -> PebbleServer:
        """Start a pebble, e.g. ``pebble_factory(PebbleSettings(chain_length=3), name='long-chain')``."""
        server = PebbleServer(
            self._work_dir / f'{name}-{next(self._numbers)}',
            tls=self._tls,
            dns_server=self._bind9.nameserver,
            http_port=self._ports.http,
            tls_port=self._ports.tls,
            settings=settings,
        )
        self._started.append(server)
        server.start()
        return server

    def stop_all(self) -> None:
        """Stop every pebble this factory started, newest first."""
        while self._started:
            self._started.pop().stop()


@pytest.fixture(scope='session')
def testbed_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The session's directory for server configs, state and logs (kept by pytest for debugging)."""
    return tmp_path_factory.mktemp('testbed')


@pytest.fixture(scope='session')
def server_tls(testbed_dir: pathlib.Path) -> ServerTLS:
    """CA and loopback certificate for pebble's HTTPS listeners; ``ca_path`` is what clients trust."""
    return create_server_tls(testbed_dir / 'tls')


@pytest.fixture(scope='session')
def challenge_ports() -> ChallengePorts:
    """The http-01 and tls-alpn-01 ports every pebble of the session validates against."""
    return ChallengePorts(http=free_port(), tls=free_port())


@pytest.fixture(scope='session')
def bind9(testbed_dir: pathlib.Path) -> Iterator[Bind9Server]:
    """BIND 9 serving the test zone (``acme.test``) with a wildcard A 127.0.0.1 and TSIG updates."""
    server = Bind9Server(testbed_dir / 'bind9')
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope='session')
def pebble_factory(testbed_dir: pathlib.Path, server_tls: ServerTLS, bind9: Bind9Server,
                   challenge_ports: ChallengePorts) -> Iterator[PebbleFactory]:
    """Start pebbles with custom settings (chain length, alternate roots, validity, EAB...)."""
    factory = PebbleFactory(work_dir=testbed_dir, tls=server_tls, bind9=bind9, ports=challenge_ports)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope='session')
def pebble(pebble_factory: PebbleFactory) -> PebbleServer:
    """Pebble with default settings, resolving names through ``bind9``."""
    return pebble_factory(name='pebble')


@pytest.fixture(scope='session')
def pebble_eab(pebble_factory: PebbleFactory) -> PebbleServer:
    """Pebble that requires External Account Binding; see ``eab_kid`` and ``eab_hmac_key``."""
    return pebble_factory(PebbleSettings(eab_mac_keys=new_eab_credentials()), name='pebble-eab')


@pytest.fixture(scope='session')
def webroot(testbed_dir: pathlib.Path, challenge_ports: ChallengePorts) -> Iterator[WebrootServer]:
    """A web server on the pebbles' http-01 port serving ``webroot.path``."""
    server = WebrootServer(path=testbed_dir / 'webroot', port=challenge_ports.http, log_path=testbed_dir / 'webroot.log')
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope='session')
def playbook_runner(testbed_dir: pathlib.Path, collections_path: pathlib.Path) -> PlaybookRunner:
    """Runs ansible-playbook on localhost with this checkout as certforge.acme."""
    return PlaybookRunner(work_dir=testbed_dir / 'ansible', collections_path=collections_path)


@pytest.fixture(scope='session')
def run_playbook(playbook_runner: PlaybookRunner) -> Callable[..., PlaybookRun]:
    """``run_playbook(path_or_yaml, extra_vars=None, check=False, diff=False, verbosity=0, expect_failure=False)``."""
    return playbook_runner.run


@pytest.fixture
def fault_proxy(pebble: PebbleServer, tmp_path: pathlib.Path) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of ``pebble`` for one test; ``fault_proxy.plan(...)`` says what to break.

    It stops when the test ends, which also ends any stall or silent connection it holds.
    """
    proxy = FaultProxy(upstream_port=pebble.listen_port, tls=pebble.tls, log_path=tmp_path / 'fault-proxy.log')
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
