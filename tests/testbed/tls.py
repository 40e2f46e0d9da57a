"""A throwaway CA and server certificate for the HTTPS listeners of the test servers.

Pebble only serves HTTPS, so it needs a certificate that clients can verify; clients get the
CA as ``ca_path``. Keys are ECDSA P-256 because generating them is nearly free.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_DNS_NAMES = ('localhost',)
SERVER_IP_ADDRESSES = ('127.0.0.1', '::1')
# Backdating tolerates clock skew; a week outlives any test session.
NOT_BEFORE_SKEW = datetime.timedelta(hours=1)
LIFETIME = datetime.timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class ServerTLS:
    """Files for a TLS listener on loopback and for the clients that talk to it."""

    ca_path: pathlib.Path
    certificate_path: pathlib.Path
    private_key_path: pathlib.Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def _certificate_builder(*, subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - NOT_BEFORE_SKEW)
        .not_valid_after(now + LIFETIME)
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = _name('certforge.acme testbed CA')
    return (
        _certificate_builder(subject=name, issuer=name, public_key=key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(*, ca_key: ec.EllipticCurvePrivateKey, ca_certificate: x509.Certificate, server_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    alternative_names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_DNS_NAMES]
    alternative_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in SERVER_IP_ADDRESSES]
    return (
        _certificate_builder(subject=_name('localhost'), issuer=ca_certificate.subject, public_key=server_key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def create_server_tls(directory: pathlib.Path) -> ServerTLS:
    """Write a new CA (``ca.pem``) and a server certificate and key for loopback into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_certificate = _ca_certificate(ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_certificate = _server_certificate(ca_key=ca_key, ca_certificate=ca_certificate, server_key=server_key)

    tls = ServerTLS(
        ca_path=directory / 'ca.pem',
        certificate_path=directory / 'server.pem',
        private_key_path=directory / 'server.key',
    )
    tls.ca_path.write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
    tls.certificate_path.write_bytes(server_certificate.public_bytes(serialization.Encoding.PEM))
    tls.private_key_path.write_bytes(_private_key_pem(server_key))
    tls.private_key_path.chmod(0o600)
    return tls
