# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the chain and full chain deployed beside a certificate are whole and belong to it.

A truncated download once left chain.pem empty and fullchain.pem the leaf alone, and every later
run found nothing to do; the planning step asks this first and repairs what it finds.
"""

from __future__ import annotations

import os
import re
import typing as t

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(.*?)-----END CERTIFICATE-----", re.DOTALL)


class Unusable(Exception):
    """The file is not a whole PEM list of certificates; the message says how."""


def certificates_in(content: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM file, refusing anything that is not a complete, parseable block."""
    blocks = list(_BLOCK.finditer(content))
    outside = _BLOCK.sub(b"", content)
    if outside.strip() or content.count(b"-----BEGIN") != len(blocks):
        raise Unusable("is incomplete")
    try:
        return [x509.load_pem_x509_certificate(block.group(0)) for block in blocks]
    except ValueError:
        raise Unusable("is incomplete") from None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise Unusable("is missing") from None
    except OSError as error:
        raise Unusable(f"is unreadable ({error.strerror})") from None


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    check = getattr(certificate, "verify_directly_issued_by", None)
    if check is None:  # cryptography < 40: the names at least must chain
        return certificate.issuer == issuer.subject
    try:
        check(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def chain_problem(certificate: x509.Certificate, *, chain_path: str | None, fullchain_path: str | None) -> str | None:
    """Why the deployed chain or full chain needs a repair, or None when both are whole and match."""
    chain: list[x509.Certificate] | None = None
    if chain_path:
        name = os.path.basename(chain_path)
        try:
            chain = certificates_in(_read(chain_path))
        except Unusable as error:
            return f"{name} {error}"
        if not chain:
            return f"{name} is empty"
        if not _issued_by(certificate, chain[0]):
            return f"the certificate is not signed by the first certificate of {name}"
    if fullchain_path:
        name = os.path.basename(fullchain_path)
        try:
            fullchain = certificates_in(_read(fullchain_path))
        except Unusable as error:
            return f"{name} {error}"
        expected = [certificate] + (chain or [])
        if [_der(item) for item in fullchain[:1]] != [_der(certificate)]:
            return f"{name} does not start with the certificate"
        if chain is not None and [_der(item) for item in fullchain] != [_der(item) for item in expected]:
            return f"{name} is not the certificate followed by {os.path.basename(t.cast(str, chain_path))}"
        if len(fullchain) < 2:
            return f"{name} holds the certificate without its chain"
    return None
