"""What the issuance tests share: accounts, CSRs, challenge provisioning, chain checks, request counts.

This file holds no tests (pytest collects nothing from it); it is named like the tests it serves.
Setup steps that are not what a test is about (an account, an order made ready for finalizing)
drive the collection's ACME core directly, which costs milliseconds; the behaviour under test
runs through real module runs in playbooks.
"""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import pathlib
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dns.name
import dns.query
import dns.rcode
import dns.update
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store

from ansible_collections.certforge.acme.plugins.module_utils._acme.account import AccountClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import AuthorizationClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.challenges import authorization_data
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import SigningKey
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import Order, OrderClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.transport import AcmeSession
from testbed.acme_ca import AcmeCA, AcmeServer
from testbed.bind9 import Bind9Server
from testbed.pebble import REQUEST_LOG_LINE, PebbleServer
from testbed.tls_alpn import TlsAlpnResponders
from testbed.webserver import WebrootServer

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'issuance'
WAIT_SECONDS = 30
DNS_TIMEOUT_SECONDS = 5.0
ACCOUNT_CONTACT = 'mailto:hostmaster@acme.test'
# Pebble 2.4.0 logs, e.g.: Pebble 2026/11/23 22:35:06 Added order "2pZ6ygFd3C07fGLjOcI2YJgSM_YTmzmT-eTBK5pB9zQ" to the db
ORDER_ADDED_LOG_LINE = re.compile(r'^Pebble \S+ \S+ Added order "[^"]+" to the db$', re.MULTILINE)


def unique_name(label: str, zone: str) -> str:
    """A DNS name under the test zone that no earlier test has used (so no authorization is reused)."""
    return f'{label}-{secrets.token_hex(4)}.{zone}'


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@dataclasses.dataclass
class TestAccount:
    """An account at one CA, with its key on disk for the modules and a session for the core."""

    __test__ = False  # not a test class, despite the name

    server: AcmeServer | AcmeCA
    key_path: pathlib.Path
    key: SigningKey
    uri: str
    session: AcmeSession

    @property
    def orders(self) -> OrderClient:
        """Order operations over this account's session."""
        return OrderClient(self.session, self.key, self.uri)

    @property
    def authorizations(self) -> AuthorizationClient:
        """Authorization operations over this account's session."""
        return AuthorizationClient(self.session, self.key, self.uri)

    def module_defaults(self) -> dict[str, str]:
        """The shared module options for ``module_defaults: group/certforge.acme.acme``."""
        return {
            'acme_directory': self.server.directory_url,
            'ca_path': str(self.server.ca_path),
            'account_key_src': str(self.key_path),
            'account_uri': self.uri,
        }


def new_session(server: AcmeServer | AcmeCA) -> AcmeSession:
    """A core session to ``server`` (a pebble, an acme2certifier or an ``acme_ca``), trusting the testbed CA."""
    return AcmeSession(directory_url=server.directory_url, ca_path=str(server.ca_path))


def create_account(server: AcmeServer | AcmeCA, directory: pathlib.Path) -> TestAccount:
    """Register a new EC P-256 account at ``server`` and keep its key in ``directory/account.key``.

    With a contact, since some CAs (acme2certifier by default) refuse accounts without one.
    """
    directory.mkdir(parents=True, exist_ok=True)
    private_key = ec.generate_private_key(ec.SECP256R1())
    key_path = directory / 'account.key'
    key_path.write_bytes(private_key_pem(private_key))
    key_path.chmod(0o600)
    key = SigningKey(private_key)
    session = new_session(server)
    account, _created = AccountClient(session, key).create(contact=[ACCOUNT_CONTACT], terms_agreed=True)
    return TestAccount(server=server, key_path=key_path, key=key, uri=account.uri, session=session)


def write_csr(path: pathlib.Path, identifiers: Iterable[str]) -> pathlib.Path:
    """Write a key (``<path>.key``) and a CSR for ``identifiers`` (names or IP addresses) to ``path``."""
    alternative_names: list[x509.GeneralName] = []
    for value in identifiers:
        try:
            alternative_names.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            alternative_names.append(x509.DNSName(value))
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix('.key').write_bytes(private_key_pem(key))
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def verify_chain(fullchain: str | bytes, *, root_pem: str, subject: str, san_critical_if_no_subject: bool = True) -> list[x509.Certificate]:
    """Verify a PEM full chain for ``subject`` (a DNS name or an IP address) up to ``root_pem``.

    ``san_critical_if_no_subject=False`` accepts a leaf with an empty subject whose
    subjectAltName is not critical (RFC 5280 §4.2.1.6 says it must be), as acme2certifier
    issues them: pass ``acme_ca.marks_san_critical``.
    Returns the verified path, leaf first and the root last; raises ``VerificationError`` otherwise.
    """
    data = fullchain.encode('ascii') if isinstance(fullchain, str) else fullchain
    leaf, *intermediates = x509.load_pem_x509_certificates(data)
    root = x509.load_pem_x509_certificate(root_pem.encode('ascii'))
    try:
        name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(subject))
    except ValueError:
        name = x509.DNSName(subject)
    builder = PolicyBuilder().store(Store([root]))
    if not san_critical_if_no_subject:
        builder = builder.extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=ExtensionPolicy.webpki_defaults_ee().require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None),
        )
    verifier = builder.build_server_verifier(name)
    return verifier.verify(leaf, intermediates)


def common_name(pem: str | bytes) -> str:
    """The subject common name of the first certificate in ``pem``."""
    data = pem.encode('ascii') if isinstance(pem, str) else pem
    certificate = x509.load_pem_x509_certificate(data)
    return str(certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def subject_alternative_names(pem: str | bytes) -> list[str]:
    """The DNS names and IP addresses the first certificate in ``pem`` is for."""
    data = pem.encode('ascii') if isinstance(pem, str) else pem
    certificate = x509.load_pem_x509_certificate(data)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [*names.get_values_for_type(x509.DNSName), *(str(ip) for ip in names.get_values_for_type(x509.IPAddress))]


class PebbleLog:
    """What pebble logs from now on: the ACME requests it receives, and the orders it creates.

    A request pebble rejects with badNonce is logged like any other, and the client sends it
    again; so ``requests()`` may count a new-order request twice, while ``orders_created()`` counts
    the orders that came of it.
    """

    def __init__(self, pebble: PebbleServer) -> None:
        self.path = pebble.log_path
        self.offset = self.path.stat().st_size

    def _text(self) -> str:
        with self.path.open('rb') as log:
            log.seek(self.offset)
            return log.read().decode('utf-8', errors='replace')

    def requests(self) -> collections.Counter[str]:
        """``{'POST /order-plz': 1, ...}``: requests by method and path."""
        return collections.Counter(f'{match["method"]} {match["path"]}' for match in REQUEST_LOG_LINE.finditer(self._text()))

    def orders_created(self) -> int:
        """How many orders pebble added to its database."""
        return len(ORDER_ADDED_LOG_LINE.findall(self._text()))


ChallengeChoice = Callable[[str], str]


def challenge_choice(default: str, overrides: Mapping[str, str] | None = None) -> ChallengeChoice:
    """Identifier -> challenge type, as acme_challenge's ``challenge`` and ``challenge_overrides`` choose it."""
    chosen = dict(overrides or {})
    return lambda identifier: chosen.get(identifier, default)


class ChallengeProvisioner:
    """Puts challenge responses where pebble looks for them, and removes them again.

    http-01: files below the web root; dns-01: TXT records added to BIND with TSIG-signed RFC 2136
    updates; tls-alpn-01: the collection's responder on the tls-alpn-01 port. Only the chosen
    type is provisioned per identifier: a stray ``_acme-challenge`` TXT record would hide the
    zone's wildcard A record from its parent name (see testbed/bind9.py).
    """

    def __init__(self, *, webroot: WebrootServer, bind9: Bind9Server, tls_alpn: TlsAlpnResponders) -> None:
        self.webroot = webroot
        self.bind9 = bind9
        self.tls_alpn = tls_alpn
        self.files: list[pathlib.Path] = []
        self.records: set[str] = set()
        self.tls_alpn_entries: list[dict[str, str]] = []

    @classmethod
    def for_ca(cls, acme_ca: AcmeCA, tls_alpn: TlsAlpnResponders) -> ChallengeProvisioner:
        """A provisioner for the web root and DNS server ``acme_ca`` validates against."""
        return cls(webroot=acme_ca.webroot, bind9=acme_ca.dns, tls_alpn=tls_alpn)

    def __enter__(self) -> ChallengeProvisioner:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.cleanup()

    def provision(self, challenge_data: Mapping[str, Mapping[str, Any]], choose: ChallengeChoice) -> None:
        """Provision the chosen challenge of every identifier in acme_order's ``challenge_data``."""
        new_tls_alpn_entries = []
        for identifier, offered in challenge_data.items():
            challenge_type = choose(identifier)
            data = offered[challenge_type]
            if challenge_type == 'http-01':
                path = self.webroot.path / data['resource']
                path.write_text(data['resource_value'], encoding='ascii')
                self.files.append(path)
            elif challenge_type == 'dns-01':
                self.add_txt(data['record'], data['record_value'])
            else:
                new_tls_alpn_entries.append(data)
        if new_tls_alpn_entries:
            self.tls_alpn_entries += new_tls_alpn_entries
            self.tls_alpn.serve(self.tls_alpn_entries)

    def add_txt(self, record: str, value: str) -> None:
        """Add one TXT value to ``record`` (further values for the same record are added beside it)."""
        update = dns.update.UpdateMessage(self.bind9.zone, keyring=self.bind9.keyring, keyalgorithm=self.bind9.tsig_algorithm)
        update.add(dns.name.from_text(record), 1, 'TXT', f'"{value}"')
        self._send(update, record)
        self.records.add(record)

    def cleanup(self) -> None:
        """Remove every file and record this provisioner added and stop its responder."""
        for path in self.files:
            path.unlink(missing_ok=True)
        self.files.clear()
        for record in sorted(self.records):
            update = dns.update.UpdateMessage(self.bind9.zone, keyring=self.bind9.keyring, keyalgorithm=self.bind9.tsig_algorithm)
            update.delete(dns.name.from_text(record), 'TXT')
            self._send(update, record)
        self.records.clear()
        self.tls_alpn_entries.clear()
        self.tls_alpn.stop()

    def _send(self, update: dns.update.UpdateMessage, record: str) -> None:
        response = dns.query.tcp(update, self.bind9.address, port=self.bind9.port, timeout=DNS_TIMEOUT_SECONDS)
        if response.rcode() != dns.rcode.NOERROR:
            raise AssertionError(f'BIND refused the update of {record}: {dns.rcode.to_text(response.rcode())}')


def pending_challenge_data(account: TestAccount, order: Order) -> dict[str, dict[str, Any]]:
    """acme_order's ``challenge_data`` for ``order``, computed by the core: pending authorizations only."""
    return {
        authorization.identifier.value: authorization_data(authorization, account.key.thumbprint)
        for authorization in account.authorizations.get_all(order.authorizations)
        if authorization.status == 'pending'
    }


def ready_order(
    account: TestAccount, identifiers: list[str], provisioner: ChallengeProvisioner, choose: ChallengeChoice = challenge_choice('http-01')
) -> Order:
    """An order for ``identifiers`` whose authorizations are all valid (status ``ready``), made with the core.

    Authorizations pebble reuses are already valid and need nothing; the others are provisioned,
    answered and waited for.
    """
    orders, authorizations = account.orders, account.authorizations
    order = orders.create(parse_identifiers(identifiers))
    provisioner.provision(pending_challenge_data(account, order), choose)
    for authorization in authorizations.get_all(order.authorizations):
        if authorization.status == 'pending':
            challenge = authorization.challenge(choose(authorization.identifier.value))
            assert challenge is not None
            authorizations.respond(challenge)
    order = orders.wait(order, pending=('pending',), timeout=WAIT_SECONDS, what='validation')
    assert order.status == 'ready', f'order {order.uri} is {order.status}, not ready'
    return order
