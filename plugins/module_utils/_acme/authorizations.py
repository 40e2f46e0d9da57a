# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authorizations and their challenges (RFC 8555 sections 7.5 and 7.5.1)."""

from __future__ import annotations

import typing as t

from .errors import ProblemError, ProtocolError
from .identifiers import Identifier, parse_identifier
from .jose import SigningKey
from .transport import AcmeSession


class Challenge(t.NamedTuple):
    type: str
    url: str
    status: str
    token: str | None
    error: dict[str, t.Any] | None


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


def _authorization(uri: str, data: dict[str, t.Any]) -> Authorization:
    raw_identifier = data.get("identifier")
    if not isinstance(raw_identifier, dict):
        raise ProtocolError(f"the authorization {uri} has no identifier", url=uri)
    identifier = parse_identifier(raw_identifier)
    if data.get("wildcard") is True:
        identifier = Identifier("dns", f"*.{identifier.value}")
    challenges = [
        Challenge(
            type=str(item.get("type")),
            url=str(item.get("url")),
            status=str(item.get("status")),
            token=item.get("token"),
            error=item.get("error") if isinstance(item.get("error"), dict) else None,
        )
        for item in data.get("challenges") or []
        if isinstance(item, dict)
    ]
    return Authorization(
        uri=uri, status=str(data.get("status")), identifier=identifier, expires=data.get("expires"), challenges=challenges
    )


class AuthorizationClient:
    def __init__(self, session: AcmeSession, key: SigningKey, kid: str) -> None:
        self.session = session
        self.key = key
        self.kid = kid

    def get(self, uri: str) -> Authorization:
        response = self.session.post_as_get(uri, key=self.key, kid=self.kid, context=f"reading the authorization {uri}")
        return _authorization(uri, response.json())

    def get_all(self, uris: t.Sequence[str]) -> list[Authorization]:
        return [self.get(uri) for uri in uris]

    def respond(self, challenge: Challenge) -> Challenge:
        """Section 7.5.1: an empty object tells the CA the challenge is ready to be validated."""
        response = self.session.post(challenge.url, key=self.key, kid=self.kid, payload={}, context=f"answering {challenge.url}")
        data = response.json()
        return challenge._replace(status=str(data.get("status", challenge.status)))

    def deactivate(self, authorization: Authorization) -> Authorization:
        """Section 7.5.2: give up an authorization so it cannot be used."""
        response = self.session.post(
            authorization.uri, key=self.key, kid=self.kid, payload={"status": "deactivated"}, context="deactivating an authorization"
        )
        return _authorization(authorization.uri, response.json())
