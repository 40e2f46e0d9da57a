# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authorizations and their challenges (RFC 8555 sections 7.5 and 7.5.1).

Reads go through `AcmeSession.read`; an answer to a challenge or a deactivation that was lost is
settled by reading the resource back before it is sent again.
"""

from __future__ import annotations

import typing as t

from .errors import ConfigurationError, OutcomeUnknown, ProblemError, ProtocolError
from .identifiers import Identifier, parse_identifier
from .jose import SigningKey
from .reconcile import Resending
from .transport import AcmeResponse, AcmeSession

# Section 7.1.6.
AUTHORIZATION_STATUSES = ("pending", "valid", "invalid", "deactivated", "expired", "revoked")
CHALLENGE_STATUSES = ("pending", "processing", "valid", "invalid")
# The types this client answers; others (dns-persist-01, dns-account-01, onion-csr-01, whatever a
# CA adds) are kept as the CA sent them and never make an authorization unreadable.
ANSWERED_TYPES = ("http-01", "dns-01", "tls-alpn-01")


class Challenge(t.NamedTuple):
    type: str
    url: str
    status: str
    token: str | None
    error: dict[str, t.Any] | None
    data: dict[str, t.Any] | None = None  # the challenge object as the CA sent it, every field kept


class Authorization(t.NamedTuple):
    uri: str
    status: str
    identifier: Identifier  # for a wildcard order: the `*.` name, as the order lists it
    expires: str | None
    challenges: list[Challenge]

    def challenge(self, challenge_type: str) -> Challenge | None:
        return next((challenge for challenge in self.challenges if challenge.type == challenge_type), None)

    def problem(self) -> ProblemError | None:
        """Why the authorization failed: the error of its invalid challenge, if the CA gave one."""
        for challenge in self.challenges:
            if challenge.error:
                return ProblemError(url=challenge.url, status=None, problem=challenge.error)
        return None


def _challenge(data: t.Any, where: str) -> Challenge:
    """A challenge object (section 8), or ProtocolError when a challenge of a type this client answers is not one.

    A type it does not answer is only carried along, so nothing in it is required but its type.
    """
    if isinstance(data, dict) and isinstance(data.get("type"), str) and data["type"] not in ANSWERED_TYPES:
        return _foreign_challenge(data)
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) or not isinstance(data.get("type"), str):
        raise ProtocolError(f"{where} holds a challenge without type or url", url=where)
    if data.get("status") not in CHALLENGE_STATUSES:
        raise ProtocolError(f"the challenge {data['url']} has no valid status ({data.get('status')!r})", url=where)
    token = data.get("token")
    return Challenge(
        type=data["type"],
        url=data["url"],
        status=data["status"],
        token=token if isinstance(token, str) else None,
        error=data.get("error") if isinstance(data.get("error"), dict) else None,
        data=data,
    )


def _foreign_challenge(data: dict[str, t.Any]) -> Challenge:
    """A challenge of a type this client does not answer, kept whole for whoever does."""
    url, status, token, error = data.get("url"), data.get("status"), data.get("token"), data.get("error")
    return Challenge(
        type=data["type"],
        url=url if isinstance(url, str) else "",
        status=status if isinstance(status, str) else "",
        token=token if isinstance(token, str) else None,
        error=error if isinstance(error, dict) else None,
        data=data,
    )


def _authorization(uri: str, data: dict[str, t.Any]) -> Authorization:
    """An authorization object (section 7.1.4), or ProtocolError when it is not one."""
    raw_identifier = data.get("identifier")
    if not isinstance(raw_identifier, dict):
        raise ProtocolError(f"the authorization {uri} has no identifier", url=uri)
    if data.get("status") not in AUTHORIZATION_STATUSES:
        raise ProtocolError(f"the authorization {uri} has no valid status ({data.get('status')!r})", url=uri)
    try:
        identifier = parse_identifier(raw_identifier)
    except ConfigurationError as error:
        raise ProtocolError(f"the authorization {uri} has an unusable identifier ({error})", url=uri) from None
    if data.get("wildcard") is True:
        identifier = Identifier("dns", f"*.{identifier.value}")
    raw_challenges = data.get("challenges")
    if not isinstance(raw_challenges, list):
        raise ProtocolError(f"the authorization {uri} has no list of challenges", url=uri)
    return Authorization(
        uri=uri,
        status=data["status"],
        identifier=identifier,
        expires=data.get("expires") if isinstance(data.get("expires"), str) else None,
        # an entry without even a type cannot be offered to anyone: it is left out, not fatal
        challenges=[_challenge(item, uri) for item in raw_challenges if not (isinstance(item, dict) and not isinstance(item.get("type"), str))],
    )


class AuthorizationClient:
    def __init__(self, session: AcmeSession, key: SigningKey, kid: str) -> None:
        self.session = session
        self.key = key
        self.kid = kid

    def get(self, uri: str) -> Authorization:
        def parse(response: AcmeResponse) -> Authorization:
            return _authorization(uri, response.json())

        return self.session.read(uri, key=self.key, kid=self.kid, parse=parse, context=f"reading the authorization {uri}")

    def get_all(self, uris: t.Sequence[str]) -> list[Authorization]:
        return [self.get(uri) for uri in uris]

    def read_challenge(self, challenge: Challenge) -> Challenge:
        def parse(response: AcmeResponse) -> Challenge:
            return _challenge(response.json(), challenge.url)

        return self.session.read(challenge.url, key=self.key, kid=self.kid, parse=parse, context=f"reading the challenge {challenge.url}")

    def respond(self, challenge: Challenge) -> Challenge:
        """Section 7.5.1: an empty object tells the CA the challenge is ready to be validated.

        After a lost or unreadable answer the challenge is read back: once it has left `pending`
        the CA has the answer; still `pending`, it is answered again. (Some CAs, pebble among
        them, keep `pending` while they validate; a second answer then is harmless.)
        """
        resent = False

        def parse(response: AcmeResponse) -> Challenge:
            return _challenge(response.json(), challenge.url)

        resending = Resending(clock=self.session.clock, checked="the challenge was still pending after each of them")
        for _attempt in resending.rounds():
            try:
                return self.session.post(challenge.url, key=self.key, kid=self.kid, payload={}, parse=parse, context=f"answering {challenge.url}")
            except ProblemError:
                if not resent:
                    raise
                # refused because the first answer arrived meanwhile (the challenge left pending)?
                current = self.read_challenge(challenge)
                if current.status != "pending":
                    return current
                raise
            except OutcomeUnknown as lost:  # lost, or an unreadable answer
                resending.lost(lost)
            current = self.read_challenge(challenge)
            if current.status != "pending":
                return current
            resent = True
        raise resending.given_up()

    def deactivate(self, authorization: Authorization) -> Authorization:
        """Section 7.5.2: give up an authorization so it cannot be used; a lost answer is read back."""

        def parse(response: AcmeResponse) -> Authorization:
            return _authorization(authorization.uri, response.json())

        resending = Resending(clock=self.session.clock, checked="the authorization was not deactivated after any of them")
        for _attempt in resending.rounds():
            try:
                return self.session.post(
                    authorization.uri,
                    key=self.key,
                    kid=self.kid,
                    payload={"status": "deactivated"},
                    parse=parse,
                    context="deactivating an authorization",
                )
            except OutcomeUnknown as lost:  # lost, or an unreadable answer
                resending.lost(lost)
            current = self.get(authorization.uri)
            if current.status == "deactivated":
                return current
        raise resending.given_up()
