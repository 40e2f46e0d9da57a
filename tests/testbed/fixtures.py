"""Session-scoped pytest fixtures for the real test servers; tests/conftest.py imports them.

Servers start on first use and stop when the session ends, also after failures. All pebbles
share one pair of challenge ports, so the single ``webroot`` server answers http-01 for each.
acme2certifier needs ports 80 and 53: it gets a loopback address of the session's own, with
its own BIND (zone ``a2c.test``) and a web server there serving the same web root directory.
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
from collections.abc import Callable, Iterator

import pytest

from .acme2certifier import Acme2certifierServer, Acme2certifierSettings
from .acme_ca import CA_NAMES, AcmeCA, serial_of
from .ansible import PlaybookRun, PlaybookRunner
from .bind9 import Bind9Server, DnsRelay
from .fault_proxy import FaultProxy
from .loopback_address import pick_loopback_address
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


class Acme2certifierFactory:
    """Starts acme2certifier instances that validate against one BIND and web root; all stop at the end."""

    def __init__(self, *, work_dir: pathlib.Path, tls: ServerTLS, bind9: Bind9Server) -> None:
        self._work_dir = work_dir
        self._tls = tls
        self._bind9 = bind9
        self._numbers = itertools.count(1)
        self._started: list[Acme2certifierServer] = []

    def __call__(self, settings: Acme2certifierSettings | None = None, *, name: str = 'acme2certifier') -> Acme2certifierServer:
        """Start an instance, e.g. ``acme2certifier_factory(Acme2certifierSettings(certificate_validity_days=6))``."""
        server = Acme2certifierServer(
            self._work_dir / f'{name}-{next(self._numbers)}', tls=self._tls, dns_servers=[self._bind9.answer_address], settings=settings
        )
        self._started.append(server)
        server.start()
        return server

    def stop_all(self) -> None:
        """Stop every instance this factory started, newest first."""
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
def pebble_factory(testbed_dir: pathlib.Path, server_tls: ServerTLS, bind9: Bind9Server, challenge_ports: ChallengePorts) -> Iterator[PebbleFactory]:
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


@pytest.fixture(scope='session')
def session_loopback_address() -> str:
    """127.0.0.N of this session alone, where ports 80 and 53 were free (for acme2certifier)."""
    return pick_loopback_address()


@pytest.fixture(scope='session')
def a2c_bind9(testbed_dir: pathlib.Path, session_loopback_address: str) -> Iterator[Bind9Server]:
    """BIND 9 serving ``a2c.test``, every name resolving to the session address, reachable there on port 53.

    BIND itself listens on 127.0.0.1:<high port> (``address``, ``port``: where RFC 2136 updates go);
    a relay passes <session address>:53, where acme2certifier asks, to it.
    """
    server = Bind9Server(testbed_dir / 'bind9-a2c', zone='a2c.test', answer_address=session_loopback_address)
    relay = DnsRelay(bind9=server, address=session_loopback_address, port=53, log_path=testbed_dir / 'dns-relay-a2c.log')
    try:
        server.start()
        relay.start()
        yield server
    finally:
        relay.stop()
        server.stop()


@pytest.fixture(scope='session')
def a2c_webroot(testbed_dir: pathlib.Path, session_loopback_address: str) -> Iterator[WebrootServer]:
    """A web server on <session address>:80 serving the same directory as ``webroot``."""
    server = WebrootServer(path=testbed_dir / 'webroot', port=80, address=session_loopback_address, log_path=testbed_dir / 'webroot-a2c.log')
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope='session')
def acme2certifier_factory(
    testbed_dir: pathlib.Path, server_tls: ServerTLS, a2c_bind9: Bind9Server, a2c_webroot: WebrootServer
) -> Iterator[Acme2certifierFactory]:
    """Start acme2certifier instances with custom settings (profiles, validity, EAB...)."""
    del a2c_webroot  # started for its side: acme2certifier fetches http-01 there
    factory = Acme2certifierFactory(work_dir=testbed_dir, tls=server_tls, bind9=a2c_bind9)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope='session')
def acme2certifier(acme2certifier_factory: Acme2certifierFactory) -> Acme2certifierServer:
    """acme2certifier 0.46.3 with profiles, ARI and dns-persist-01, EAB optional."""
    return acme2certifier_factory(name='acme2certifier')


@pytest.fixture(scope='session')
def acme2certifier_eab(acme2certifier_factory: Acme2certifierFactory) -> Acme2certifierServer:
    """acme2certifier that requires External Account Binding; see ``eab_kid`` and ``eab_hmac_key``."""
    return acme2certifier_factory(Acme2certifierSettings(eab_mac_keys=new_eab_credentials()), name='acme2certifier-eab')


PEBBLE_LACKS = {
    'ari': 'pebble 2.4.0 has no renewalInfo',
    'profiles': 'pebble 2.4.0 offers no profiles',
    'dns_persist': 'pebble 2.4.0 offers no dns-persist-01',
}
ACME2CERTIFIER_LACKS = {
    'revokes_with_certificate_key': 'acme2certifier 0.46.3 accepts only revocations signed by the account key',
    'tls_alpn': "acme2certifier validates tls-alpn-01 on port 443 only, where the testbed's responder does not listen",
    'management_api': 'acme2certifier has no management interface like pebble\'s',
    'records_revocation_reason': 'acme2certifier 0.46.3 writes CRL entries without a CRLReason',
}


def _pebble_revocation_reason(server: PebbleServer, certificate_pem: str) -> int | None:
    status = server.cert_status(format(serial_of(certificate_pem), 'x'))
    return int(status['Reason']) if status['Status'] == 'Revoked' else None


def _pebble_ca(request: pytest.FixtureRequest, server_fixture: str) -> AcmeCA:
    server: PebbleServer = request.getfixturevalue(server_fixture)
    return AcmeCA(
        name='pebble',
        server=server,
        dns=request.getfixturevalue('bind9'),
        webroot=request.getfixturevalue('webroot'),
        root_pem=server.root_pem(),
        intermediate_pem=server.intermediate_pem(),
        lacks=PEBBLE_LACKS,
        marks_san_critical=True,
        _revocation_reason=lambda pem: _pebble_revocation_reason(server, pem),
    )


def _acme2certifier_ca(request: pytest.FixtureRequest, server_fixture: str) -> AcmeCA:
    server: Acme2certifierServer = request.getfixturevalue(server_fixture)
    return AcmeCA(
        name='acme2certifier',
        server=server,
        dns=request.getfixturevalue('a2c_bind9'),
        webroot=request.getfixturevalue('a2c_webroot'),
        root_pem=server.root_pem(),
        intermediate_pem=server.intermediate_pem(),
        lacks=ACME2CERTIFIER_LACKS,
        marks_san_critical=False,
        _revocation_reason=lambda pem: server.revocation_reason(serial_of(pem)),
    )


@pytest.fixture(scope='module', params=CA_NAMES)
def acme_ca(request: pytest.FixtureRequest) -> AcmeCA:
    """Each CA in turn (test ids ``[pebble]``, ``[acme2certifier]``), started on first use.

    Module-scoped, so a module runs on one CA, then on the next; see testbed/acme_ca.py.
    """
    if request.param == 'pebble':
        return _pebble_ca(request, 'pebble')
    return _acme2certifier_ca(request, 'acme2certifier')


@pytest.fixture(scope='module', params=CA_NAMES)
def acme_ca_eab(request: pytest.FixtureRequest) -> AcmeCA:
    """Each CA in turn, in an instance that requires External Account Binding (``eab_kid``, ``eab_hmac_key``)."""
    if request.param == 'pebble':
        return _pebble_ca(request, 'pebble_eab')
    return _acme2certifier_ca(request, 'acme2certifier_eab')


@pytest.fixture(autouse=True)
def _skip_what_the_ca_lacks(request: pytest.FixtureRequest) -> None:
    """Honour ``@pytest.mark.acme_ca_needs(capability, ...)``: skip this CA's run, with the reason, if it lacks one."""
    marker = request.node.get_closest_marker('acme_ca_needs')
    if marker is None:
        return
    for fixture_name in ('acme_ca', 'acme_ca_eab'):
        if fixture_name in request.fixturenames:
            ca: AcmeCA = request.getfixturevalue(fixture_name)
            ca.require(*marker.args)
