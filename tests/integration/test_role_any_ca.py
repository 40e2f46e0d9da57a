"""The acme_certificate role end to end on every CA of the testbed (pebble, acme2certifier).

One host (``site``: a local host whose Python has only cryptography, as a real host's may) gets one certificate by http-01 from the CA under test: the first
run issues it, the second changes nothing, a check mode run with one more certificate shows it as
needed and writes nothing. On a CA with renewal information (ARI, RFC 9773):
- the role renews a certificate the CA's window says is due although the role's own rule says it is
  fine: the controller's ``acme_renewal_info`` runs under a clock moved to the end of that window
  (testbed/moved_clock.py), on an acme2certifier issuing 6-day certificates, so the server's own TLS
  certificate is still valid then;
- a deployed certificate the CA never issued (the CA answers 404 about it) is reported, and the play
  goes on by the role's own schedule.
Pebble 2.4.0 has no ARI: those scenarios skip it, with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test_role_support import certificate, serial_of, verify_fullchain
from testbed.acme2certifier import DEFAULT_PROFILE, DEFAULT_PROFILE_VALIDITY_DAYS, Acme2certifierSettings
from testbed.acme_ca import AcmeCA
from testbed.ansible import PlaybookRun, PlaybookRunner
from testbed.fixtures import Acme2certifierFactory
from testbed.host_python import host_python
from testbed.moved_clock import moved_clock_interpreter

PLAYBOOK = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'role_any_ca.yml'
RESULTS_TASK = 'Show what the role did'
ARI_TASK = "certforge.acme.acme_certificate : Ask the CA's renewal information (ARI)"
ARI_REASON = "the CA's renewal information (ARI) asks for renewal now"
SHORT_LIFETIME_DAYS = 6
HOST = 'site'


@dataclasses.dataclass
class Site:
    """One host's certificates from one CA, and the runs of the role on it."""

    ca: AcmeCA
    directory_url: str
    runner: PlaybookRunner
    root: pathlib.Path
    certificates: list[dict[str, Any]]

    def cert_dir(self, name: str) -> pathlib.Path:
        """Where certificate ``name`` is deployed."""
        return self.root / 'host' / 'etc' / 'ssl' / 'acme' / name

    @property
    def state_dir(self) -> pathlib.Path:
        """acme_certificate_state_dir on the controller."""
        return self.root / 'controller' / 'acme'

    def variables(self) -> dict[str, Any]:
        """The role's variables for this CA, as a user would set them."""
        return {
            'acme_certificate_directory': self.directory_url,
            'acme_certificate_ca_path': str(self.ca.ca_path),
            'acme_certificate_state_dir': str(self.state_dir),
            'acme_certificate_terms_agreed': True,
            'acme_certificate_account_email': 'hostmaster@acme.test',
            'acme_certificate_dir': str(self.root / 'host' / 'etc' / 'ssl' / 'acme'),
            'acme_certificate_webroot': str(self.ca.webroot.path),
            'acme_certificate_certificates': self.certificates,
        }

    def run(self, *, check: bool = False, expect_failure: bool = False, **extra: Any) -> PlaybookRun:
        """Run the role once, on the host HOST."""
        variables = {**self.variables(), 'acme_test_hosts': HOST, **extra}
        return self.runner.run(PLAYBOOK, extra_vars=variables, check=check, expect_failure=expect_failure)

    def use_controller_python(self, python: pathlib.Path) -> None:
        """Run the controller's steps (delegated to localhost) with ``python``; the host keeps its own."""
        self.runner.inventory_path.write_text(
            f'localhost ansible_connection=local ansible_python_interpreter={python}\n'
            f'{HOST} ansible_connection=local ansible_python_interpreter={host_python()}\n',
            encoding='utf-8',
        )


def results(run: PlaybookRun) -> dict[str, dict[str, Any]]:
    """certificate name -> its record in acme_certificate_results."""
    return {record['name']: record for record in run.outcome(RESULTS_TASK).result['acme_certificate_results']}


def new_site(ca: AcmeCA, root: pathlib.Path, collections_path: pathlib.Path, *, directory_url: str | None = None) -> Site:
    """A site with one certificate (a fresh name, so no authorization is reused)."""
    runner = PlaybookRunner(work_dir=root / 'ansible', collections_path=collections_path)
    site = Site(
        ca=ca, directory_url=directory_url or ca.directory_url, runner=runner, root=root, certificates=[{'name': 'www', 'identifiers': [ca.unique_name('www')]}]
    )
    site.use_controller_python(pathlib.Path(sys.executable))
    return site


@pytest.fixture(scope='module')
def site(acme_ca: AcmeCA, tmp_path_factory: pytest.TempPathFactory, collections_path: pathlib.Path) -> Site:
    """The site on the CA under test."""
    return new_site(acme_ca, tmp_path_factory.mktemp(f'role-{acme_ca.name}'), collections_path)


@pytest.fixture(scope='module')
def runs(site: Site) -> dict[str, PlaybookRun]:
    """First run, second run, then check mode with one more certificate."""
    done = {'first': site.run(), 'second': site.run()}
    site.certificates.append({'name': 'api', 'identifiers': [site.ca.unique_name('api')]})
    try:
        done['check'] = site.run(check=True)
    finally:
        site.certificates.pop()
    return done


def test_first_run_issues_and_deploys_a_certificate_the_ca_signed(site: Site, runs: dict[str, PlaybookRun]) -> None:
    record = results(runs['first'])['www']
    assert (record['action'], record['changed']) == ('new', True), record
    fullchain = (site.cert_dir('www') / 'fullchain.pem').read_bytes()
    verify_fullchain(fullchain, root_pem=site.ca.root_pem, names=site.certificates[0]['identifiers'])
    assert (site.cert_dir('www') / 'privkey.pem').stat().st_mode & 0o777 == 0o600


def test_second_run_changes_nothing(site: Site, runs: dict[str, PlaybookRun]) -> None:
    record = results(runs['second'])['www']
    assert (record['action'], record['changed']) == ('none', False), record
    assert runs['second'].recap[HOST]['changed'] == 0, runs['second'].changed_tasks()
    assert record['serial'] == results(runs['first'])['www']['serial']


def test_check_mode_shows_the_needed_certificate_and_writes_nothing(site: Site, runs: dict[str, PlaybookRun]) -> None:
    records = results(runs['check'])
    assert records['api']['action'] == 'new' and records['www']['action'] == 'none'
    assert runs['check'].recap[HOST]['changed'] >= 1
    assert not site.cert_dir('api').exists()
    assert not (site.state_dir / 'orders' / f'{HOST}-api.uri').exists()


# -- renewal information (ARI) --------------------------------------------------------------------------


@pytest.fixture(scope='module')
def short_lived_site(
    acme_ca: AcmeCA, acme2certifier_factory: Acme2certifierFactory, tmp_path_factory: pytest.TempPathFactory, collections_path: pathlib.Path
) -> Iterator[Site]:
    """A site on an acme2certifier of 6-day certificates that validates like ``acme_ca`` (same DNS and web root)."""
    if not acme_ca.has('ari'):
        pytest.skip(f'{acme_ca.name} lacks ari: {acme_ca.lacks["ari"]}')
    # Orders without a profile (the role's default) get DEFAULT_PROFILE's lifetime.
    settings = Acme2certifierSettings(validity_days={**DEFAULT_PROFILE_VALIDITY_DAYS, DEFAULT_PROFILE: SHORT_LIFETIME_DAYS})
    server = acme2certifier_factory(settings, name='acme2certifier-shortlived')
    try:
        yield new_site(acme_ca, tmp_path_factory.mktemp('role-ari'), collections_path, directory_url=server.directory_url)
    finally:
        server.stop()


@pytest.mark.acme_ca_needs('ari')
def test_the_role_renews_when_the_cas_window_says_so(short_lived_site: Site) -> None:
    site = short_lived_site
    first = results(site.run())['www']
    assert first['action'] == 'new'
    issued = certificate((site.cert_dir('www') / 'cert.pem').read_bytes())
    # By the role's own rule the certificate is fine for days; the CA's window ends at its expiry.
    at_window_end = moved_clock_interpreter(site.root / 'python-at-window-end', at=issued.not_valid_after_utc, modules=('acme_renewal_info',))
    # The clock is moved in the controller's interpreter: a Python of its own, so the ARI step runs there as a
    # module process (plugin_utils/in_process.py), not in the controller's process.
    site.use_controller_python(at_window_end)
    try:
        renewal = site.run()
    finally:
        site.use_controller_python(pathlib.Path(sys.executable))
    ari = renewal[ARI_TASK]
    assert ari['supported'] is True and len(ari['due']) == 1, ari
    record = results(renewal)['www']
    assert (record['action'], record['reason'], record['changed']) == ('renew', ARI_REASON, True), record
    renewed = (site.cert_dir('www') / 'cert.pem').read_bytes()
    assert serial_of(renewed) != format(issued.serial_number, 'x')
    assert not renewal.contains('ordered without replaces'), 'the CA took the renewal as the replacement (RFC 9773 section 5)'
    # The renewed certificate is not due by the real clock: the next run leaves it.
    assert results(site.run())['www']['action'] == 'none'


def foreign_certificate(name: str) -> tuple[bytes, bytes, bytes]:
    """(certificate, its key, the chain) of a certificate for ``name`` that no CA of the testbed issued."""
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'Somebody Else Root')])
    now = datetime.datetime.now(datetime.timezone.utc)
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return leaf.public_bytes(serialization.Encoding.PEM), key_pem, root.public_bytes(serialization.Encoding.PEM)


@pytest.mark.acme_ca_needs('ari')
def test_a_certificate_the_ca_does_not_know_keeps_the_roles_own_schedule(site: Site, runs: dict[str, PlaybookRun]) -> None:
    del runs  # the first run recorded that the CA offers ARI
    name = site.ca.unique_name('other')
    cert_pem, key_pem, chain_pem = foreign_certificate(name)
    directory = site.cert_dir('other')
    directory.mkdir(parents=True)
    for file_name, content in (('cert.pem', cert_pem), ('privkey.pem', key_pem), ('chain.pem', chain_pem), ('fullchain.pem', cert_pem + chain_pem)):
        (directory / file_name).write_bytes(content)
    (directory / 'privkey.pem').chmod(0o600)
    site.certificates.append({'name': 'other', 'identifiers': [name]})
    try:
        run = site.run()
    finally:
        site.certificates.pop()
    ari = run[ARI_TASK]
    unknown = next(entry for entry in ari['renewal_info'].values() if entry['error'])
    assert 'certificate not found' in unknown['error'] and unknown['due'] is False, ari
    assert run.contains('its renewal follows the client\'s own schedule')
    record = results(run)['other']
    assert (record['action'], record['changed']) == ('none', False), record
    assert 'the CA could not tell when to renew it' in record['reason'] and 'so the expiry rule applies' in record['reason']
    assert results(run)['www']['action'] == 'none'
    assert (directory / 'cert.pem').read_bytes() == cert_pem
