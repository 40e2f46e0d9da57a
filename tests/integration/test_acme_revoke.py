"""acme_revoke against each CA of the testbed: the "acme_revoke" issue's done-when list.

Certificates to revoke are issued once per module and CA by a playbook as a user would run it;
the twenty more that the reason matrix needs come from the testbed's own ACME client for the same
account, because twenty orders through Ansible would cost most of a minute. Revocation with the
account key runs on every CA; with the certificate's key only where the CA accepts it; the
tests that read pebble's request log and wording stay pebble-only.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from testbed.acme_ca import AcmeCA
from testbed.acme_probe import AcmeProbe
from testbed.ansible import TRACEBACK, PlaybookRun
from testbed.pebble import PebbleServer

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'revoke'
# RFC 5280 section 5.3.1 CRLReason by name; 7 is not assigned.
REASONS = {
    'unspecified': 0,
    'keyCompromise': 1,
    'cACompromise': 2,
    'affiliationChanged': 3,
    'superseded': 4,
    'cessationOfOperation': 5,
    'certificateHold': 6,
    'removeFromCRL': 8,
    'privilegeWithdrawn': 9,
    'aACompromise': 10,
}

# Reasons each CA refuses with badRevocationReason (RFC 8555 §7.6 lets it choose).
REFUSED_REASONS = {'pebble': set(), 'acme2certifier': {2, 8, 9, 10}}

RunPlaybook = Callable[..., PlaybookRun]


def _recorded(acme_ca: AcmeCA, code: int) -> int:
    """The reason ``acme_ca`` shows for a revocation for ``code``: 0 where its records carry none."""
    return code if acme_ca.has('records_revocation_reason') else 0


@dataclasses.dataclass(frozen=True)
class Issued:
    """A certificate issued for the tests, with the key its CSR was made with."""

    name: str
    certificate: pathlib.Path
    private_key: pathlib.Path

    @property
    def serial(self) -> str:
        """The serial number in lower-case hex, as acme_revoke returns it."""
        return format(x509.load_pem_x509_certificate(self.certificate.read_bytes()).serial_number, 'x')


@dataclasses.dataclass(frozen=True)
class Issuance:
    """What the issuance playbook left behind: the account key and the certificates by role."""

    account_key: pathlib.Path
    certificates: dict[str, Issued]


def _new_name(acme_ca: AcmeCA) -> str:
    return acme_ca.unique_name('revoke')


def _write_csr(work_dir: pathlib.Path, name: str) -> tuple[pathlib.Path, pathlib.Path]:
    """A P-256 key and a CSR for ``name`` in ``work_dir``; returns (csr path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path = work_dir / f'{name}.key'
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)
    csr_path = work_dir / f'{name}.csr'
    csr_path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return csr_path, key_path


def _acme_vars(server: AcmeCA | PebbleServer, **more: object) -> dict[str, object]:
    """Extra vars that point a playbook at ``server``."""
    return {'acme_directory': server.directory_url, 'ca_path': str(server.ca_path), **more}


def _summary(result: dict[str, object]) -> dict[str, object]:
    """What acme_revoke returns, without the echo of its arguments."""
    return {key: result[key] for key in ('changed', 'revoked', 'serial', 'reason', 'signed_with')}


@pytest.fixture(scope='module')
def issuance(run_playbook: RunPlaybook, acme_ca: AcmeCA, tmp_path_factory: pytest.TempPathFactory) -> Issuance:
    """Certificates issued by issue.yml: one to revoke with the account key, one with its own key, one kept valid."""
    work_dir = tmp_path_factory.mktemp('revoke')
    roles = ('by_account', 'by_certificate_key', 'kept_valid')
    certificates, specs = {}, []
    for role in roles:
        name = _new_name(acme_ca)
        csr_path, key_path = _write_csr(work_dir, name)
        certificates[role] = Issued(name=name, certificate=work_dir / f'{name}.crt', private_key=key_path)
        specs.append({'name': name, 'csr': str(csr_path), 'dest': str(certificates[role].certificate)})
    account_key = work_dir / 'account.key'
    run = run_playbook(
        PLAYBOOKS / 'issue.yml', extra_vars=_acme_vars(acme_ca, account_key_path=str(account_key), webroot=str(acme_ca.webroot.path), certificates=specs)
    )
    for result in run['Get the certificates']['results']:
        assert result['finalized'], result
    for issued in certificates.values():
        assert acme_ca.revocation_reason(issued.certificate.read_text(encoding='ascii')) is None
    return Issuance(account_key=account_key, certificates=certificates)


def test_revoke_with_account_key(run_playbook: RunPlaybook, acme_ca: AcmeCA, issuance: Issuance) -> None:
    by_account = issuance.certificates['by_account']
    extra_vars = _acme_vars(acme_ca, account_key_path=str(issuance.account_key), by_account=str(by_account.certificate))
    task = 'Revoke with the account key'
    certificate_pem = by_account.certificate.read_text(encoding='ascii')

    check = run_playbook(PLAYBOOKS / 'revoke.yml', extra_vars=extra_vars, check=True)
    assert check.changed_tasks == [task]
    assert check[task]['revoked'] is False
    assert acme_ca.revocation_reason(certificate_pem) is None

    applied = run_playbook(PLAYBOOKS / 'revoke.yml', extra_vars=extra_vars)
    again = run_playbook(PLAYBOOKS / 'revoke.yml', extra_vars=extra_vars)

    assert applied.changed_tasks == [task]
    assert _summary(applied[task]) == {'changed': True, 'revoked': True, 'serial': by_account.serial, 'reason': 4, 'signed_with': 'account_key'}
    # Already revoked: no change, and no failure either.
    assert again.changed_tasks == []
    assert again[task]['revoked'] is False
    assert acme_ca.revocation_reason(certificate_pem) == _recorded(acme_ca, 4)


@pytest.mark.acme_ca_needs('revokes_with_certificate_key')
def test_revoke_with_certificate_key(run_playbook: RunPlaybook, acme_ca: AcmeCA, issuance: Issuance) -> None:
    by_certificate_key = issuance.certificates['by_certificate_key']
    extra_vars = _acme_vars(
        acme_ca,
        account_key_path=str(issuance.account_key),
        by_account=str(issuance.certificates['by_account'].certificate),
        by_certificate_key={
            'certificate': str(by_certificate_key.certificate),
            'private_key': str(by_certificate_key.private_key),
        },
    )
    task = "Revoke with the certificate's private key"
    certificate_pem = by_certificate_key.certificate.read_text(encoding='ascii')

    check = run_playbook(PLAYBOOKS / 'revoke.yml', extra_vars=extra_vars, check=True)
    assert task in check.changed_tasks
    assert check[task]['revoked'] is False
    assert acme_ca.revocation_reason(certificate_pem) is None

    applied = run_playbook(PLAYBOOKS / 'revoke.yml', extra_vars=extra_vars)
    again = run_playbook(PLAYBOOKS / 'revoke.yml', extra_vars=extra_vars)

    assert task in applied.changed_tasks
    assert _summary(applied[task]) == {'changed': True, 'revoked': True, 'serial': by_certificate_key.serial, 'reason': 1, 'signed_with': 'certificate_key'}
    assert again.changed_tasks == []
    assert again[task]['revoked'] is False
    assert acme_ca.revocation_reason(certificate_pem) == _recorded(acme_ca, 1)


def test_revoke_with_certificate_key_refused_gives_advice_for_that_key(run_playbook: RunPlaybook, acme_ca: AcmeCA, issuance: Issuance) -> None:
    if acme_ca.has('revokes_with_certificate_key'):
        pytest.skip(f'{acme_ca.name} accepts revocations signed by the certificate key (test_revoke_with_certificate_key)')
    by_certificate_key = issuance.certificates['by_certificate_key']
    extra_vars = _acme_vars(
        acme_ca,
        account_key_path=str(issuance.account_key),
        by_account=str(issuance.certificates['by_account'].certificate),
        by_certificate_key={
            'certificate': str(by_certificate_key.certificate),
            'private_key': str(by_certificate_key.private_key),
        },
    )

    run = run_playbook(PLAYBOOKS / 'revoke.yml', extra_vars=extra_vars, expect_failure=True)

    message = run.failure_message("Revoke with the certificate's private key")
    # acme2certifier looks the signing key up as an account and answers accountDoesNotExist.
    assert message.startswith('revoking the certificate: CA error accountDoesNotExist (HTTP 403)')
    # The key that signed is the certificate's: registering an account for it is no advice.
    assert 'acme_account' not in message and 'register' not in message, message
    assert 'account_key_src' in message, message
    assert acme_ca.revocation_reason(by_certificate_key.certificate.read_text(encoding='ascii')) is None


def _issue_with_probe(acme_ca: AcmeCA, account_key: pathlib.Path, work_dir: pathlib.Path, count: int) -> list[pathlib.Path]:
    """Issue ``count`` certificates for the account of ``account_key`` (P-256) with the testbed's own client.

    Returns the certificate files. Their private keys stay inside the client: these certificates
    are for revoking with the account key only.
    """
    probe = AcmeProbe(acme_ca.directory_url, ca_path=acme_ca.ca_path)
    probe.key = serialization.load_pem_private_key(account_key.read_bytes(), password=None)
    probe.register()  # finds the existing account of the key
    paths = []
    for _number in range(count):
        name = _new_name(acme_ca)
        order_url, order = probe.new_order([name])
        for authorization_url in order['authorizations']:
            challenge = probe.challenge(authorization_url, 'http-01')
            assert challenge is not None
            key_authorization = probe.key_authorization(challenge['token'])
            challenge_file = acme_ca.webroot.challenge_path / challenge['token']
            challenge_file.write_text(key_authorization, encoding='ascii')
            try:
                assert probe.answer(challenge, authorization_url)['status'] == 'valid'
            finally:
                challenge_file.unlink()  # the webroot is shared by the whole session
        leaf, *_chain = probe.finalize(order_url, order, [name])
        path = work_dir / f'{name}.crt'
        path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        paths.append(path)
    return paths


def test_revoke_for_every_reason_by_name_and_number(run_playbook: RunPlaybook, acme_ca: AcmeCA, issuance: Issuance, tmp_path: pathlib.Path) -> None:
    forms: list[str | int] = [*REASONS, *REASONS.values()]
    certificates = _issue_with_probe(acme_ca, issuance.account_key, tmp_path, len(forms))
    revocations = [{'certificate': str(path), 'reason': form} for path, form in zip(certificates, forms)]

    run = run_playbook(PLAYBOOKS / 'reasons.yml', extra_vars=_acme_vars(acme_ca, account_key_path=str(issuance.account_key), revocations=revocations))

    results = run['Revoke for the given reason']['results']
    assert len(results) == len(forms)
    refused = REFUSED_REASONS[acme_ca.name]
    for result, form, path in zip(results, forms, certificates):
        code = form if isinstance(form, int) else REASONS[form]
        if code in refused:
            assert result['msg'] == ('revoking the certificate: CA error badRevocationReason (HTTP 400) (the CA does not accept this revocation reason)'), form
            assert acme_ca.revocation_reason(path.read_text(encoding='ascii')) is None, form
            continue
        assert result['revoked'] and result['reason'] == code, form
        # Pebble 2.4.0 accepts every reason RFC 5280 defines, certificateHold and aACompromise included.
        assert acme_ca.revocation_reason(path.read_text(encoding='ascii')) == _recorded(acme_ca, code), form


@pytest.mark.acme_ca_needs('management_api')  # counts requests in pebble's log
def test_revoke_refuses_unknown_reasons_before_contacting_the_ca(run_playbook: RunPlaybook, pebble: PebbleServer, issuance: Issuance) -> None:
    kept_valid = issuance.certificates['kept_valid']
    unknown_reasons = ['fraud', 7, '11', -1]
    requests_before = pebble.count_requests()

    run = run_playbook(
        PLAYBOOKS / 'unknown_reasons.yml',
        extra_vars=_acme_vars(pebble, certificate=str(kept_valid.certificate), private_key=str(kept_valid.private_key), unknown_reasons=unknown_reasons),
    )

    assert pebble.count_requests() == requests_before
    assert pebble.cert_status(kept_valid.serial)['Status'] == 'Valid'
    valid = ', '.join(f'{name} ({code})' for name, code in REASONS.items())
    results = run['Revoke for an unknown reason']['results']
    assert [result['msg'] for result in results] == [
        f"reason: unknown revocation reason 'fraud'; use one of {valid}",
        f'reason: unknown revocation reason 7; use one of {valid}',
        f"reason: unknown revocation reason '11'; use one of {valid}",
        f'reason: unknown revocation reason -1; use one of {valid}',
    ]
    assert TRACEBACK not in run.stdout + run.stderr


@pytest.mark.acme_ca_needs('management_api')  # pebble's wording and records
def test_revoke_mistakes(run_playbook: RunPlaybook, pebble: PebbleServer, issuance: Issuance, tmp_path: pathlib.Path) -> None:
    kept_valid = issuance.certificates['kept_valid']
    run = run_playbook(
        PLAYBOOKS / 'mistakes.yml',
        extra_vars=_acme_vars(
            pebble, work_dir=str(tmp_path), certificate=str(kept_valid.certificate), unrelated_key=str(issuance.certificates['by_account'].private_key)
        ),
    )

    other_account = run['Register another account']['account_uri'].rsplit('/', 1)[1]
    assert run.failure_message('Revoke with the key of an account that did not order the certificate') == (
        'revoking the certificate: CA error unauthorized (HTTP 403): The certificate being revoked is not associated '
        f'with account "{other_account}" (the CA refused the request)'
    )
    # Caught before anything is sent: the key cannot sign for this certificate.
    assert run.failure_message('Revoke with a private key of another certificate') == ('private_key_src: this private key does not belong to the certificate')
    assert pebble.cert_status(kept_valid.serial)['Status'] == 'Valid'
    assert TRACEBACK not in run.stdout + run.stderr
