# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What has to be provisioned for each challenge type.

http-01 and dns-01: RFC 8555 sections 8.3 and 8.4; tls-alpn-01: RFC 8737; IP identifiers: RFC 8738;
dns-persist-01: draft-ietf-acme-dns-persist (see dns_persist.py).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import typing as t

from . import dns_persist
from .authorizations import Authorization, Challenge
from .identifiers import Identifier, reverse_name
from .jose import b64url_encode, key_authorization
from .keys import generate_private_key, private_key_pem

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID, ObjectIdentifier
except ImportError:
    pass  # reported by deps.missing_libraries() before any of this runs

CHALLENGE_TYPES = ("http-01", "dns-01", "tls-alpn-01", dns_persist.CHALLENGE_TYPE)
ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31"  # id-pe-acmeIdentifier, RFC 8737 section 6.1
HTTP01_PREFIX = ".well-known/acme-challenge/"


def dns01_record_name(identifier: Identifier) -> str:
    """The TXT record name; a wildcard is validated at its base name (section 8.4)."""
    return f"_acme-challenge.{identifier.base_name}"


def dns01_record_value(key_authz: str) -> str:
    return b64url_encode(hashlib.sha256(key_authz.encode("ascii")).digest())


def tls_alpn01_certificate(identifier: Identifier, key_authz: str) -> tuple[bytes, bytes]:
    """A self-signed certificate carrying the critical acmeIdentifier extension, and its key (PEM)."""
    key = generate_private_key("ec256")
    if identifier.type == "ip":
        san: t.Any = x509.IPAddress(ipaddress.ip_address(identifier.value))
    else:
        san = x509.DNSName(identifier.base_name)
    digest = hashlib.sha256(key_authz.encode("ascii")).digest()
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACME tls-alpn-01 challenge")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        # the extension value is the DER OCTET STRING of the digest
        .add_extension(x509.UnrecognizedExtension(ObjectIdentifier(ACME_IDENTIFIER_OID), b"\x04\x20" + digest), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM), private_key_pem(key)


def challenge_data(challenge: Challenge, identifier: Identifier, thumbprint: str, *, account_uri: str | None = None) -> dict[str, t.Any] | None:
    """What to put where for one challenge; a type this collection does not answer is passed on as the CA sent it."""
    if challenge.type == dns_persist.CHALLENGE_TYPE:  # no token: the record names the account instead
        return dns_persist.challenge_data(challenge.data or {"url": challenge.url, "status": challenge.status}, identifier, account_uri)
    if challenge.type not in CHALLENGE_TYPES:
        return dict(challenge.data) if challenge.data is not None else None
    if not challenge.token:
        return None
    key_authz = key_authorization(challenge.token, thumbprint)
    data: dict[str, t.Any] = {"url": challenge.url, "status": challenge.status, "token": challenge.token}
    if challenge.type == "http-01":
        data.update(resource=HTTP01_PREFIX + challenge.token, resource_value=key_authz)
    elif challenge.type == "dns-01":
        data.update(record=dns01_record_name(identifier), record_value=dns01_record_value(key_authz))
    else:
        certificate, private_key = tls_alpn01_certificate(identifier, key_authz)
        name = reverse_name(identifier.value) if identifier.type == "ip" else identifier.base_name
        data.update(resource=name, certificate=certificate.decode("ascii"), private_key=private_key.decode("ascii"))
    return data


def authorization_data(authorization: Authorization, thumbprint: str, *, account_uri: str | None = None) -> dict[str, dict[str, t.Any]]:
    """Challenge type -> what to provision, for every challenge type the CA offers."""
    result = {}
    for challenge in authorization.challenges:
        data = challenge_data(challenge, authorization.identifier, thumbprint, account_uri=account_uri)
        if data is not None:
            result[challenge.type] = data
    return result
