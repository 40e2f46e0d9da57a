# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Orders (RFC 8555 section 7.4): create, read, finalize, wait, and download the certificate.

Reads go through `AcmeSession.read`, so an answer that cannot be parsed is a failed read (retried
by the transport), never a result. A newOrder or finalize whose answer was lost is reconciled by
reading the order back before anything is sent again.
"""

from __future__ import annotations

import datetime
import typing as t

from .account import AccountClient
from .chains import Chain, parse_issued_chain
from .errors import ConfigurationError, OutcomeUnknown, ProblemError, ProtocolError
from .identifiers import Identifier, identifiers_from_acme
from .jose import SigningKey, b64url_encode
from .polling import WaitTimeout, poll
from .reconcile import RESEND_TRIES, Resending
from .timestamps import check_validity_period
from .transport import AcmeResponse, AcmeSession

# Order statuses (section 7.1.6); those that can still lead to a certificate.
STATUSES = ("pending", "ready", "processing", "valid", "invalid")
LIVE_STATUSES = ("pending", "ready", "processing", "valid")
PEM_CHAIN = "application/pem-certificate-chain"
# Looking for the order a lost newOrder made: an account's list is read at most this many pages
# deep, and at most this many of its newest orders are read (the lost one is among the newest).
# How CAs refuse `replaces` for a certificate another order already replaces: RFC 9773's type, and the
# generic one CAs used before it was registered.
REPLACEMENT_REFUSALS = ("alreadyReplaced", "conflict")
ORDER_LIST_PAGES = 50
ORDER_LIST_READS = 20


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

    @property
    def expired(self) -> bool:
        if not self.expires:
            return False
        try:
            expires = datetime.datetime.fromisoformat(self.expires.replace("Z", "+00:00"))
        except ValueError:
            return False
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=datetime.timezone.utc)
        return expires <= datetime.datetime.now(datetime.timezone.utc)


def _order(uri: str, data: dict[str, t.Any]) -> Order:
    """The order object, or ProtocolError when it is not one (section 7.1.3)."""
    finalize = data.get("finalize")
    if not isinstance(finalize, str):
        raise ProtocolError(f"the order {uri} has no finalize URL", url=uri)
    status = data.get("status")
    if status not in STATUSES:
        raise ProtocolError(f"the order {uri} has no valid status ({status!r})", url=uri)
    raw_identifiers = data.get("identifiers")
    try:
        if not isinstance(raw_identifiers, list) or not all(isinstance(item, dict) for item in raw_identifiers):
            raise ConfigurationError("not a list of objects")
        identifiers = identifiers_from_acme(raw_identifiers)
    except ConfigurationError as error:
        raise ProtocolError(f"the order {uri} lists unusable identifiers ({error})", url=uri) from None
    certificate = data.get("certificate")
    if status == "valid" and not isinstance(certificate, str):
        raise ProtocolError(f"the order {uri} is valid but has no certificate URL", url=uri)  # section 7.1.3: a damaged read
    return Order(
        uri=uri,
        status=status,
        expires=data.get("expires") if isinstance(data.get("expires"), str) else None,
        identifiers=identifiers,
        authorizations=[str(url) for url in data.get("authorizations") or []],
        finalize=finalize,
        certificate=certificate if isinstance(certificate, str) else None,
        error=data.get("error") if isinstance(data.get("error"), dict) else None,
        data=data,
    )


def handed_order(described: t.Any, uri: str, *, statuses: t.Container[str] = STATUSES) -> Order | None:
    """The order as an earlier step of the same run returned it (`Order.summary()`), instead of reading it again.

    None, so that the caller reads it from the CA, unless it is the order at `uri`, whole, and in one of `statuses`.
    """
    if not isinstance(described, dict) or described.get("uri") != uri:
        return None
    try:
        order = _order(uri, {key: value for key, value in described.items() if key != "uri"})
    except (ProtocolError, ConfigurationError):
        return None
    return order if order.status in statuses else None


def _created_order(response: AcmeResponse) -> Order:
    """The order a newOrder answer holds; without a Location the answer cannot be used (section 7.4)."""
    if not response.location:
        raise ProtocolError(f"the CA answered the new order ({response.url}) without a Location header", url=response.url)
    return _order(response.location, response.json())


class Certificate(t.NamedTuple):
    """A downloaded certificate chain (section 7.4.2) with the URLs of its alternates."""

    url: str
    chain: Chain
    alternates: list[str]


def _no_warning(_message: str) -> None:
    pass


class OrderClient:
    """Order operations for one account over one session; `warn` hears what a person should know."""

    def __init__(self, session: AcmeSession, key: SigningKey, kid: str, *, warn: t.Callable[[str], None] = _no_warning) -> None:
        self.session = session
        self.key = key
        self.kid = kid
        self.warn = warn

    # -- newOrder ---------------------------------------------------------------------------------

    def create(
        self,
        identifiers: t.Sequence[Identifier],
        *,
        not_before: str | None = None,
        not_after: str | None = None,
        replaces: str | None = None,
        profile: str | None = None,
    ) -> Order:
        """newOrder (section 7.4); `replaces` is RFC 9773 (ARI), `profile` the CA's profiles extension.

        When the answer's body is lost or unreadable but its Location came, the order is read there.
        When the whole answer is lost (or has no Location), the order it may have made is looked for
        in the account's orders list (section 7.1.2.1) before ordering again.
        """
        check_validity_period(not_before, not_after)
        payload: dict[str, t.Any] = {"identifiers": [identifier.as_acme() for identifier in identifiers]}
        if not_before:
            payload["notBefore"] = not_before
        if not_after:
            payload["notAfter"] = not_after
        self.check_extensions(replaces=replaces, profile=profile)
        if profile:
            payload["profile"] = profile
        if replaces:
            try:
                return self._post_new_order(identifiers, {**payload, "replaces": replaces})
            except ProblemError as error:
                refusal = next((kind for kind in REPLACEMENT_REFUSALS if error.has_type(kind)), None)
                if refusal is None:
                    raise
                # RFC 9773 section 5: another order (say, of a run whose deploy failed) already replaces that
                # certificate; insisting would fail on every run, and the renewal matters more than the link.
                self.warn(
                    f"the CA refused to let this order replace certificate {replaces} ({refusal}: {error.detail or 'no detail'}); ordered without replaces"
                )
        return self._post_new_order(identifiers, payload)

    def _post_new_order(self, identifiers: t.Sequence[Identifier], payload: dict[str, t.Any]) -> Order:
        url = self.session.directory.require("newOrder")
        resending = Resending(clock=self.session.clock, checked="no pending order of the account matched after any of them")
        for attempt in resending.rounds():
            try:
                return self.session.post(url, key=self.key, kid=self.kid, payload=payload, parse=_created_order, context="creating the order")
            except OutcomeUnknown as lost:
                if lost.location:  # the CA made the order there; only the body was lost on the way
                    return self.get(lost.location)
                resending.lost(lost)
                what = lost.description
            found = self.find_live_order(identifiers)
            if found is not None:
                return found
            if attempt < RESEND_TRIES:
                self.warn(
                    f"the CA's answer to the new order was lost ({what}) and no pending order of this account matches: "
                    "ordered again; the CA may hold an unused duplicate order (it expires unused)"
                )
        raise resending.given_up()

    def find_live_order(self, identifiers: t.Sequence[Identifier]) -> Order | None:
        """A pending or ready order of this account for exactly these identifiers, if its list shows one."""
        orders_url = AccountClient(self.session, self.key, account_uri=self.kid).read().orders
        if not orders_url:
            return None
        wanted = set(identifiers)
        for uri in list(reversed(self._order_urls(orders_url)))[:ORDER_LIST_READS]:
            order = self.get(uri)
            if order.status in ("pending", "ready") and set(order.identifiers) == wanted and not order.expired:
                return order
        return None

    def _order_urls(self, orders_url: str) -> list[str]:
        """Every URL of the orders list, following its Link rel="next" pages (section 7.1.2.1)."""

        def page(response: AcmeResponse) -> tuple[list[str], list[str]]:
            urls = response.json().get("orders")
            if not isinstance(urls, list) or not all(isinstance(item, str) for item in urls):
                raise ProtocolError(f"the orders list {response.url} has no list of order URLs", url=response.url)
            return urls, response.links("next")

        found: list[str] = []
        url: str | None = orders_url
        for _page in range(ORDER_LIST_PAGES):
            if url is None:
                break
            urls, following = self.session.read(url, key=self.key, kid=self.kid, parse=page, context="reading the account's orders")
            found += urls
            url = following[0] if following else None
        return found

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

    # -- reading ----------------------------------------------------------------------------------

    def get(self, uri: str) -> Order:
        return self._read(uri)[0]

    def _read(self, uri: str) -> tuple[Order, float | None]:
        def parse(response: AcmeResponse) -> tuple[Order, float | None]:
            return _order(uri, response.json()), response.retry_after()

        return self.session.read(uri, key=self.key, kid=self.kid, parse=parse, context=f"reading the order {uri}")

    def wait(self, order: Order, *, pending: t.Container[str], timeout: float, what: str) -> Order:
        """Re-read the order while its status is in `pending`."""
        if order.status not in pending:
            return order

        def fetch() -> tuple[Order, bool, float | None]:
            current, retry_after = self._read(order.uri)
            return current, current.status not in pending, retry_after

        try:
            # `order` is what the CA has just said, so the first read waits a moment.
            return poll(fetch, timeout=timeout, sleep=self.session.sleep, clock=self.session.clock, what=what, wait_first=True)
        except WaitTimeout as error:
            raise WaitTimeout(
                f"gave up waiting for {what}: the order {order.uri} was still {error.last.status} after {timeout:g} seconds "
                f"({error.reads} reads); raise timeout, or run again later to pick the order up where it is",
                last=error.last,
                reads=error.reads,
            ) from None

    # -- finalize ---------------------------------------------------------------------------------

    def issue(self, order: Order, csr_der: bytes, *, timeout: float) -> tuple[Order, bool]:
        """The order once valid, and whether this call finalized it.

        A valid order is not finalized again: its certificate is downloaded anew, which is how a
        run killed between finalize and deploy resumes without a second certificate.
        """
        require_validated(order)
        finalized = order.status == "ready"
        if finalized:
            order = self.finalize(order, csr_der)
        order = self.wait(order, pending=("processing",), timeout=timeout, what="the CA to issue the certificate")
        if order.status != "valid" or not order.certificate:
            problem = order_problem(order)
            raise (
                problem
                if problem
                else ProtocolError(
                    f"the order {order.uri} ended {order.status} without a certificate and without an error from the CA; order again", url=order.uri
                )
            )
        return order, finalized

    def finalize(self, order: Order, csr_der: bytes) -> Order:
        """Section 7.4: send the CSR; the CA answers with the updated order.

        A lost or unreadable answer, and an `orderNotReady` refusal (an earlier finalize may have
        arrived with its answer lost), are settled by reading the order back: `processing` or
        `valid` means the CA has the CSR; `ready` means it does not, so it is sent again.
        """
        payload = {"csr": b64url_encode(csr_der)}

        def parse(response: AcmeResponse) -> Order:
            return _order(order.uri, response.json())

        resending = Resending(clock=self.session.clock, checked="the order was still ready after each of them")
        for _attempt in resending.rounds():
            try:
                return self.session.post(order.finalize, key=self.key, kid=self.kid, payload=payload, parse=parse, context="finalizing the order")
            except ProblemError as error:
                if not error.has_type("orderNotReady"):
                    raise
                current = self.get(order.uri)
                if current.status in ("processing", "valid"):
                    return current
                raise
            except OutcomeUnknown as lost:  # lost, or an answer that is not an order
                resending.lost(lost)
            current = self.get(order.uri)
            if current.status in ("processing", "valid"):
                return current
            if current.status != "ready":
                problem = order_problem(current)
                raise problem if problem else ProtocolError(f"the order {order.uri} is {current.status} after finalizing; order again", url=order.uri)
        raise resending.given_up()

    # -- download ---------------------------------------------------------------------------------

    def download(self, url: str, *, identifiers: t.Sequence[Identifier]) -> Certificate:
        """The chain at `url`, strictly parsed, and the `alternate` chains linked to (section 7.4.2)."""

        def parse(response: AcmeResponse) -> Certificate:
            chain = parse_issued_chain(response.content, url=url, identifiers=identifiers)
            return Certificate(url=url, chain=chain, alternates=response.links("alternate"))

        return self.session.read(url, key=self.key, kid=self.kid, parse=parse, context="downloading the certificate", accept=PEM_CHAIN)

    def download_chains(self, order: Order, *, alternates: bool) -> list[Chain]:
        """The CA's default chain, then (if asked) each alternate: the same certificate, other issuers."""
        default = self.download(t.cast(str, order.certificate), identifiers=order.identifiers)
        chains = [default.chain]
        if alternates:  # they cost a request each
            for url in default.alternates:
                chain = self.download(url, identifiers=order.identifiers).chain
                if chain.certificate != default.chain.certificate:
                    raise ProtocolError(f"the alternate chain {url} carries another certificate than {default.url}", url=url)
                chains.append(chain)
        return chains


def require_validated(order: Order) -> None:
    """Refuse to finalize an order whose authorizations are not all valid."""
    if order.status in ("pending", "invalid"):
        problem = order_problem(order)
        if problem is not None:
            raise problem
        raise ConfigurationError(
            f"the order is {order.status}: its authorizations are not all valid; run certforge.acme.acme_challenge first",
            option="order_uri",
        )


def order_problem(order: Order) -> ProblemError | None:
    """The order's own error, if the CA recorded one."""
    if order.error is None:
        return None
    return ProblemError(url=order.uri, status=None, problem=order.error, context=f"the order {order.uri} is {order.status}")
