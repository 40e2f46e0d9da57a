# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the chain and full chain deployed beside a certificate are whole and belong to it.

A truncated download once left chain.pem empty and fullchain.pem the leaf alone, and every later
run found nothing to do; the planning step asks this first and repairs what it finds.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.chains import UnusablePem, directly_issued_by, load_pem_certificates

try:
    from cryptography.hazmat.primitives import serialization
except ImportError:
    pass  # reported by deps.missing_libraries() before any of this runs


class Unusable(Exception):
    """The file is not a whole PEM list of certificates; the message says how."""


def certificates_in(content: bytes) -> list[t.Any]:
    """Every certificate of a PEM file, refusing anything that is not a complete, parseable block."""
    try:
        return load_pem_certificates(content)
    except UnusablePem:
        raise Unusable("is incomplete") from None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise Unusable("is missing") from None
    except OSError as error:
        raise Unusable(f"is unreadable ({error.strerror})") from None


def _der(certificate: t.Any) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def chain_problem(certificate: t.Any, *, chain_path: str | None, fullchain_path: str | None) -> str | None:
    """Why the deployed chain or full chain needs a repair, or None when both are whole and match."""
    chain: list[t.Any] | None = None
    if chain_path:
        name = os.path.basename(chain_path)
        try:
            chain = certificates_in(_read(chain_path))
        except Unusable as error:
            return f"{name} {error}"
        if not chain:
            return f"{name} is empty"
        if not directly_issued_by(certificate, chain[0]):
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
