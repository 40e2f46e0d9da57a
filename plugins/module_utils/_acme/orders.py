# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Orders (RFC 8555 section 7.4): create, read, finalize, wait, and download the certificate."""

from __future__ import annotations

import typing as t

from .errors import ConfigurationError, ProblemError, ProtocolError
from .identifiers import Identifier, identifiers_from_acme
from .jose import SigningKey, b64url_encode
from .polling import poll
from .transport import AcmeResponse, AcmeSession

# Orders that can still lead to a certificate (section 7.1.6).
LIVE_STATUSES = ("pending", "ready", "processing", "valid")
PEM_CHAIN = "application/pem-certificate-chain"


class Order(t.NamedTuple):
    uri: str
    status: str
    expires: str | None
    identifiers: list[Identifier]
    authorizations: list[str]
    finalize: str
    certificate: str | None
    error: dict[str, t.Any] | None
    data: dict[str, t.Any]

    def summary(self) -> dict[str, t.Any]:
        """The flat shape modules return."""
        return {
            "uri": self.uri,
            "status": self.status,
            "expires": self.expires,
            "identifiers": [identifier.as_acme() for identifier in self.identifiers],
            "authorizations": self.authorizations,
            "finalize": self.finalize,
            "certificate": self.certificate,
        }


def _order(uri: str, data: dict[str, t.Any]) -> Order:
    finalize = data.get("finalize")
    if not isinstance(finalize, str):
        raise ProtocolError(f"the order {uri} has no finalize URL", url=uri)
    return Order(
        uri=uri,
        status=str(data.get("status")),
        expires=data.get("expires"),
        identifiers=identifiers_from_acme(data.get("identifiers") or []),
        authorizations=[str(url) for url in data.get("authorizations") or []],
        finalize=finalize,
        certificate=data.get("certificate"),
        error=data.get("error") if isinstance(data.get("error"), dict) else None,
        data=data,
    )


class Certificate(t.NamedTuple):
    """A downloaded certificate chain (section 7.4.2) with the URLs of its alternates."""

    url: str
    pem: bytes
    alternates: list[str]


class OrderClient:
    """Order operations for one account over one session."""

    def __init__(self, session: AcmeSession, key: SigningKey, kid: str) -> None:
        self.session = session
        self.key = key
        self.kid = kid

    def create(
        self,
        identifiers: t.Sequence[Identifier],
        *,
        not_before: str | None = None,
        not_after: str | None = None,
        replaces: str | None = None,
        profile: str | None = None,
    ) -> Order:
        """newOrder (section 7.4); `replaces` is RFC 9773 (ARI), `profile` the CA's profiles extension."""
        directory = self.session.directory
        payload: dict[str, t.Any] = {"identifiers": [identifier.as_acme() for identifier in identifiers]}
        if not_before:
            payload["notBefore"] = not_before
        if not_after:
            payload["notAfter"] = not_after
        self.check_extensions(replaces=replaces, profile=profile)
        if replaces:
            payload["replaces"] = replaces
        if profile:
            payload["profile"] = profile
        url = directory.require("newOrder")
        response = self.session.post(url, key=self.key, kid=self.kid, payload=payload, context="creating the order")
        if not response.location:
            raise ProtocolError("the CA created an order without a Location header", url=url, status=response.status)
        return _order(response.location, response.json())

    def check_extensions(self, *, replaces: str | None, profile: str | None) -> None:
        """Refuse ARI `replaces` and `profile` when the CA's directory does not offer them."""
        directory = self.session.directory
        if replaces and directory.resource("renewalInfo") is None:
            raise ConfigurationError(
                "this CA does not support ACME Renewal Information (no renewalInfo in its directory); remove replaces",
                option="replaces",
            )
        if profile and profile not in directory.profiles:
            offered = ", ".join(sorted(directory.profiles)) or "none"
            raise ConfigurationError(f"the CA does not offer the profile {profile!r} (it offers: {offered})", option="profile")

    def get(self, uri: str) -> Order:
        return self._read(uri)[0]

    def _read(self, uri: str) -> tuple[Order, AcmeResponse]:
        response = self.session.post_as_get(uri, key=self.key, kid=self.kid, context=f"reading the order {uri}")
        return _order(uri, response.json()), response

    def wait(self, order: Order, *, pending: t.Container[str], timeout: float, what: str) -> Order:
        """Re-read the order while its status is in `pending`."""
        if order.status not in pending:
            return order

        def fetch() -> tuple[Order, bool, float | None]:
            current, response = self._read(order.uri)
            return current, current.status not in pending, response.retry_after()

        return poll(fetch, timeout=timeout, sleep=self.session.sleep, clock=self.session.clock, what=what)

    def finalize(self, order: Order, csr_der: bytes) -> Order:
        """Section 7.4: send the CSR; the CA answers with the updated order."""
        response = self.session.post(
            order.finalize, key=self.key, kid=self.kid, payload={"csr": b64url_encode(csr_der)}, context="finalizing the order"
        )
        return _order(order.uri, response.json())

    def download(self, url: str) -> Certificate:
        """The PEM chain at `url` and the `alternate` chains the CA links to (section 7.4.2)."""
        response = self.session.post_as_get(url, key=self.key, kid=self.kid, context="downloading the certificate", accept=PEM_CHAIN)
        if b"-----BEGIN CERTIFICATE-----" not in response.content:
            raise ProtocolError(f"the CA's certificate URL {url} returned no PEM certificate", url=url, status=response.status)
        return Certificate(url=url, pem=response.content, alternates=response.links("alternate"))


def order_problem(order: Order) -> ProblemError | None:
    """The order's own error, if the CA recorded one."""
    if order.error is None:
        return None
    return ProblemError(url=order.uri, status=None, problem=order.error, context=f"the order {order.uri} is {order.status}")
