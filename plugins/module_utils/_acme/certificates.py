# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading X.509 certificates and PEM chains, through `cryptography`."""

from __future__ import annotations

import datetime
import re
import typing as t

from .errors import ConfigurationError
from .jose import b64url_encode

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtensionOID, NameOID
except ImportError:
    pass  # reported by deps.missing_libraries() before any of this runs

_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL)


class CertificateInfo(t.NamedTuple):
    """What playbooks and renewal decisions need to know about one certificate."""

    dns_names: list[str]
    ip_addresses: list[str]
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial_hex: str
    subject: str
    issuer: str
    issuer_common_name: str | None
    authority_key_identifier: bytes | None
    subject_key_identifier: bytes | None
    ari_id: str | None


def split_pem_chain(pem: bytes | str) -> list[bytes]:
    """Every certificate of a PEM bundle, in order, each ending with a newline."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    return [match.group(0).replace(b"\r\n", b"\n") + b"\n" for match in _PEM_CERTIFICATE.finditer(data)]


def load_certificate(pem: bytes | str, *, option: str | None = None) -> t.Any:
    """The first certificate of a PEM text as a `cryptography` object."""
    chain = split_pem_chain(pem)
    if not chain:
        raise ConfigurationError("no PEM certificate found ('-----BEGIN CERTIFICATE-----' is missing)", option=option)
    try:
        return x509.load_pem_x509_certificate(chain[0])
    except ValueError as exc:
        raise ConfigurationError(f"cannot parse the certificate: {exc}", option=option) from None


def _extension_value(cert: t.Any, oid: t.Any) -> t.Any:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def _utc(cert: t.Any, name: str) -> datetime.datetime:
    # cryptography 42 added the *_utc properties; older ones return naive UTC datetimes.
    value = getattr(cert, f"{name}_utc", None)
    return value if value is not None else getattr(cert, name).replace(tzinfo=datetime.timezone.utc)


def ari_certificate_id(cert: t.Any) -> str | None:
    """RFC 9773 section 4.1: base64url(AKI keyIdentifier) "." base64url(DER serial bytes)."""
    aki = _extension_value(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    if aki is None or not aki.key_identifier:
        return None
    serial = cert.serial_number
    # DER INTEGER content: big-endian two's complement, so a leading zero byte when the top bit is set.
    serial_bytes = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    return f"{b64url_encode(aki.key_identifier)}.{b64url_encode(serial_bytes)}"


def certificate_info(cert: t.Any) -> CertificateInfo:
    san = _extension_value(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    aki = _extension_value(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    ski = _extension_value(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    issuer_cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return CertificateInfo(
        dns_names=list(san.get_values_for_type(x509.DNSName)) if san else [],
        ip_addresses=[str(ip) for ip in san.get_values_for_type(x509.IPAddress)] if san else [],
        not_before=_utc(cert, "not_valid_before"),
        not_after=_utc(cert, "not_valid_after"),
        serial_hex=f"{cert.serial_number:x}",
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        issuer_common_name=str(issuer_cn[0].value) if issuer_cn else None,
        authority_key_identifier=aki.key_identifier if aki else None,
        subject_key_identifier=ski.digest if ski else None,
        ari_id=ari_certificate_id(cert),
    )


def certificate_pem(cert: t.Any) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
