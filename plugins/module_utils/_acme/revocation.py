# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate revocation (RFC 8555 section 7.6) with RFC 5280 reason codes."""

from __future__ import annotations

import typing as t

from .errors import ConfigurationError, OutcomeUnknown, ProblemError
from .jose import SigningKey, b64url_encode
from .reconcile import Resending
from .transport import AcmeSession

try:
    from cryptography.hazmat.primitives import serialization
except ImportError:
    pass  # reported by deps.missing_libraries() before any of this runs

# RFC 5280 section 5.3.1 CRLReason; 7 is unused.
REASONS = {
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "removeFromCRL": 8,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}


# How CAs refuse a revocation signed with the certificate's own key when they do not take one.
_REFUSED_SIGNER_TYPES = ("accountDoesNotExist", "unauthorized", "malformed", "badPublicKey")
_ADVICE_CERTIFICATE_KEY = (
    "the CA refused the revocation signed with the certificate's own key (some CAs take only the account that ordered it): "
    "revoke with that account's key instead (account_key_src or account_key_content)"
)


def reason_code(reason: t.Any) -> int | None:
    """A reason given by name (any case) or by its number; None when not given."""
    if reason is None or reason == "":
        return None
    text = str(reason).strip()
    if text.isdigit() and int(text) in REASONS.values():
        return int(text)
    by_lower_name = {name.lower(): code for name, code in REASONS.items()}
    if text.lower() in by_lower_name:
        return by_lower_name[text.lower()]
    valid = ", ".join(f"{name} ({code})" for name, code in REASONS.items())
    raise ConfigurationError(f"unknown revocation reason {reason!r}; use one of {valid}", option="reason")


def revoke(session: AcmeSession, *, certificate: t.Any, key: SigningKey, kid: str | None, reason: int | None) -> bool:
    """Revoke; returns False when the CA says the certificate was already revoked.

    A lost answer is sent again; `alreadyRevoked` then means the first request did it.

    With `kid` the account key signs; without it `key` is the certificate's own key and its
    JWK is embedded (section 7.6, the way out when the account key is lost).
    """
    payload: dict[str, t.Any] = {"certificate": b64url_encode(certificate.public_bytes(serialization.Encoding.DER))}
    if reason is not None:
        payload["reason"] = reason
    url = session.directory.require("revokeCert")
    # revoking twice cannot do harm: the CA answers alreadyRevoked if the first arrived
    resending = Resending(clock=session.clock, checked="revoking twice does no harm, so each lost one was sent again")
    for attempt in resending.rounds():
        try:
            session.post(url, key=key, kid=kid, payload=payload, context="revoking the certificate")
            return True
        except OutcomeUnknown as lost:
            resending.lost(lost)
        except ProblemError as error:
            if error.has_type("alreadyRevoked"):
                return attempt > 1  # after a lost answer it was this run's request that revoked it
            if kid is None and error.short_type in _REFUSED_SIGNER_TYPES:
                # the advice of these types speaks of an account key; this request was signed by the certificate's key
                raise error.with_hint(_ADVICE_CERTIFICATE_KEY) from None
            raise
    raise resending.given_up()
