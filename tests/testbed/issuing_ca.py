"""A root and an intermediate CA for a test ACME server that signs with a CA it is given.

acme2certifier's ``openssl_ca_handler`` signs leaves with the intermediate's key and sends
leaf + intermediate; tests verify chains up to ``root_pem``. EC P-256 keys cost nothing to make.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Backdating tolerates clock skew; ten years outlive any certificate a test asks for, even
# one moved forward in time by faketime.
NOT_BEFORE_SKEW = datetime.timedelta(hours=1)
LIFETIME = datetime.timedelta(days=3650)
CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@dataclasses.dataclass(frozen=True)
class IssuingCA:
    """The files of a root -> intermediate pair; the intermediate's key signs."""

    root_path: pathlib.Path
    intermediate_path: pathlib.Path
    intermediate_key_path: pathlib.Path

    @property
    def root_pem(self) -> str:
        """The root certificate in PEM."""
        return self.root_path.read_text(encoding='ascii')

    @property
    def intermediate_pem(self) -> str:
        """The intermediate certificate in PEM."""
        return self.intermediate_path.read_text(encoding='ascii')


def _ca_certificate(
    *, common_name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey, path_length: int | None
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - NOT_BEFORE_SKEW)
        .not_valid_after(now + LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def create_issuing_ca(directory: pathlib.Path, *, name: str) -> IssuingCA:
    """Write ``root.pem``, ``intermediate.pem`` and ``intermediate.key`` (0600) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f'{name} root')])
    root = _ca_certificate(common_name=f'{name} root', key=root_key, issuer=root_name, issuer_key=root_key, path_length=None)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _ca_certificate(common_name=f'{name} intermediate', key=intermediate_key, issuer=root.subject, issuer_key=root_key, path_length=0)
    issuing_ca = IssuingCA(
        root_path=directory / 'root.pem',
        intermediate_path=directory / 'intermediate.pem',
        intermediate_key_path=directory / 'intermediate.key',
    )
    issuing_ca.root_path.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    issuing_ca.intermediate_path.write_bytes(intermediate.public_bytes(serialization.Encoding.PEM))
    issuing_ca.intermediate_key_path.touch(mode=0o600)
    issuing_ca.intermediate_key_path.write_bytes(
        intermediate_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return issuing_ca
