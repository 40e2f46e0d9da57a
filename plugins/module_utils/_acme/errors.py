# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One exception tree for the ACME core; each module catches `AcmeError` once.

Problem documents follow RFC 7807 with the ACME error types of RFC 8555 section 6.7.
"""

from __future__ import annotations

import typing as t

ACME_ERROR_PREFIX = "urn:ietf:params:acme:error:"


class AcmeError(Exception):
    """Base of every error the core raises; `str()` is a message a person can act on."""

    def to_result(self) -> dict[str, t.Any]:
        """Extra fields a module adds to its failure result (never secrets)."""
        return {}


class ConfigurationError(AcmeError):
    """Bad input: names the option at fault and how to fix it."""

    def __init__(self, message: str, *, option: str | None = None) -> None:
        self.option = option
        super().__init__(f"{option}: {message}" if option else message)


class TransportError(AcmeError):
    """The CA could not be reached, or its TLS identity could not be verified."""

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
        super().__init__(message)


class OutcomeUnknown(TransportError):
    """A state-changing POST may have reached the CA, but its answer was lost or cannot be read.

    Sending it again could act twice (a second order, a second finalize); the caller reads the
    resource back to learn what the CA did before anything is resent. `location` is the Location
    header of an answer whose body was cut short or unreadable: where the resource it made is.
    `description` and `advice` say what happened and what to do, for the caller's final error;
    `tries` is how often the request was sent.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        description: str,
        advice: str,
        tries: int = 1,
        context: str | None = None,
        location: str | None = None,
        status: int | None = None,
    ) -> None:
        self.description = description
        self.advice = advice
        self.tries = tries
        self.context = context
        self.location = location
        self.status = status
        super().__init__(message, url=url)


class ProtocolError(AcmeError):
    """The CA answered, but not with what RFC 8555 says it should.

    `advice` says what to do when asking again keeps getting such answers (see the transport).
    """

    def __init__(self, message: str, *, url: str, status: int | None = None, advice: str | None = None) -> None:
        self.url = url
        self.status = status
        self.advice = advice
        super().__init__(message)

    def to_result(self) -> dict[str, t.Any]:
        return {"url": self.url, "http_status": self.status}


class RefusedRequest(ProtocolError):
    """The CA, or something in front of it, refused the request outright (an HTTP 4xx without a problem document).

    Asking again would be refused again, so even a read is not sent again after it.
    """


class Subproblem(t.NamedTuple):
    """One entry of a problem's `subproblems` (RFC 8555 section 6.7.1)."""

    type: str
    detail: str
    identifier: str | None


def short_type(problem_type: str) -> str:
    """`urn:ietf:params:acme:error:badNonce` -> `badNonce`."""
    if problem_type.startswith(ACME_ERROR_PREFIX):
        return problem_type[len(ACME_ERROR_PREFIX) :]
    return problem_type


# What to tell a person for the error types where the CA's detail alone is rarely enough.
_ADVICE = {
    "accountDoesNotExist": "no account exists for this account key; register one with acme_account first",
    "agreementRequired": "the CA requires agreeing to its terms of service: set terms_agreed: true",
    "badCSR": "the CA rejected the CSR",
    # Pebble, for one, refuses Ed25519 keys with this type rather than badSignatureAlgorithm.
    "badPublicKey": "the CA does not accept this kind of key for signing requests; use an EC P-256 or RSA key",
    "badRevocationReason": "the CA does not accept this revocation reason",
    "badSignatureAlgorithm": "the CA does not accept this account key type; use an EC P-256 or RSA key",
    "caa": "a CAA record of the domain forbids this CA from issuing for it",
    "connection": "the CA could not connect to the server for the challenge",
    "dns": "the CA could not resolve the name",
    "externalAccountRequired": "the CA requires external account binding: set external_account_binding",
    "incorrectResponse": "the CA found a different response than expected",
    "rejectedIdentifier": "the CA will not issue for this identifier",
    "unauthorized": "the CA refused the request",
    "unsupportedContact": "the CA does not accept this contact URL; use mailto: addresses",
    "userActionRequired": "the CA requires action outside ACME; see the instance URL in the error",
}


class ProblemError(ProtocolError):
    """The CA answered with an RFC 7807 problem document."""

    def __init__(
        self,
        *,
        url: str,
        status: int | None,
        problem: dict[str, t.Any],
        retry_after: str | None = None,
        context: str | None = None,
        note: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.hint = hint  # advice that fits the request better than the one of its type (say, for the key that signed)
        self.status = status
        self.type = str(problem.get("type") or "about:blank")
        self.detail = str(problem.get("detail") or "")
        self.retry_after = retry_after
        self.context = context
        self.note = note
        self.subproblems = [_subproblem(item) for item in problem.get("subproblems") or [] if isinstance(item, dict)]
        super().__init__(self._message(), url=url, status=status)

    @property
    def short_type(self) -> str:
        return short_type(self.type)

    def has_type(self, name: str) -> bool:
        return self.short_type == name

    def _message(self) -> str:
        parts = [f"{self.context}: " if self.context else ""]
        parts.append(f"CA error {self.short_type}")
        if self.status:
            parts.append(f" (HTTP {self.status})")
        parts.append(f": {self.detail}" if self.detail else "")
        advice = self.hint or _ADVICE.get(self.short_type)
        if self.short_type == "rateLimited" and not self.hint:
            advice = f"rate limited by the CA; retry after {self.retry_after}" if self.retry_after else ("rate limited by the CA; wait before retrying")
        if advice:
            parts.append(f" ({advice})")
        for sub in self.subproblems:
            name = f" for {sub.identifier}" if sub.identifier else ""
            parts.append(f"; {short_type(sub.type)}{name}: {sub.detail}")
        if self.note:
            parts.append(f"; {self.note}")
        return "".join(parts)

    def with_hint(self, hint: str) -> ProblemError:
        """The same refusal, with advice that fits the request that was refused."""
        return ProblemError(
            url=self.url, status=self.status, problem=self.problem, retry_after=self.retry_after, context=self.context, note=self.note, hint=hint
        )

    def to_result(self) -> dict[str, t.Any]:
        return {**super().to_result(), "problem": self.problem}


def _subproblem(item: dict[str, t.Any]) -> Subproblem:
    identifier = item.get("identifier")
    value = identifier.get("value") if isinstance(identifier, dict) else None
    return Subproblem(type=str(item.get("type") or ""), detail=str(item.get("detail") or ""), identifier=value)
