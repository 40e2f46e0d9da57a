# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_certificate_deploy's metrics_file: a deployed certificate records its own expiry, one that could not be
deployed records a failure and keeps the expiry of the certificate still in place."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certforge.acme.plugins.modules.acme_certificate_deploy import record_metrics
from testbed.prometheus_text import by_label


class WarningsKept:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)


def self_signed(days: int) -> tuple[str, float]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'www.example.com')])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode('ascii'), (start + datetime.timedelta(days=days)).timestamp()


def test_deployed_and_undeployed_certificates_are_recorded_with_the_expiry_in_place(tmp_path):
    new_pem, new_expiry = self_signed(90)
    old_pem, old_expiry = self_signed(30)
    in_place = tmp_path / 'api-cert.pem'
    in_place.write_text(old_pem, encoding='ascii')
    metrics_file = tmp_path / 'acme.prom'
    entries = [{'name': 'www', 'cert': new_pem, 'cert_path': str(tmp_path / 'www-cert.pem')}, {'name': 'api', 'cert': new_pem, 'cert_path': str(in_place)}]
    outcomes = [{'failed': False}, {'failed': True}]
    module = WarningsKept()

    assert record_metrics(module, str(metrics_file), entries, outcomes)

    found = by_label(metrics_file.read_text(encoding='utf-8'), 'certificate')
    assert found['www']['certforge_acme_certificate_expiry_timestamp_seconds'] == new_expiry
    assert found['www']['certforge_acme_certificate_last_attempt_failed'] == 0
    assert found['api']['certforge_acme_certificate_expiry_timestamp_seconds'] == old_expiry
    assert found['api']['certforge_acme_certificate_last_attempt_failed'] == 1
    assert 'certforge_acme_certificate_last_renewal_timestamp_seconds' not in found['api']
    assert module.warnings == []


def test_a_metrics_file_that_cannot_be_written_is_a_warning(tmp_path):
    pem, _expiry = self_signed(90)
    taken = tmp_path / 'acme.prom'
    taken.mkdir()  # something made a directory of that name since the module checked the path (root ignores modes)
    module = WarningsKept()
    changed = record_metrics(module, str(taken), [{'name': 'www', 'cert': pem, 'cert_path': None}], [{'failed': False}])
    assert not changed
    assert module.warnings and module.warnings[0].startswith('metrics_file: cannot write ')
