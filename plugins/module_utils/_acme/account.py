# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME accounts (RFC 8555 section 7.3): find, create, update, deactivate, roll over the key.

A request whose answer was lost is settled without guessing: a lookup, a registration (the CA
returns the existing account for a registered key) and an update are sent again like reads (an
answer without the account's Location included); a deactivation is sent again, and a key
rollover is checked by looking the account up with the new key.
"""

from __future__ import annotations

import typing as t

from .errors import OutcomeUnknown, ProblemError, ProtocolError
from .jose import SigningKey, external_account_binding, sign_jws
from .reconcile import Resending
from .transport import AcmeResponse, AcmeSession

STATUSES = ("valid", "deactivated", "revoked")
_ADVICE_NO_LOCATION = "the CA or a proxy in front of it drops the Location header: check proxies between here and the CA, or try again later"

# Errors with which a CA says "no usable account for this key" to onlyReturnExisting.
_NO_ACCOUNT_TYPES = ("accountDoesNotExist", "unauthorized")


class ExternalAccountBinding(t.NamedTuple):
    kid: str
    hmac_key: str
    alg: str = "HS256"


class Account(t.NamedTuple):
    """An account object as returned by the CA, with its URL."""

    uri: str
    status: str
    contact: list[str]
    orders: str | None
    data: dict[str, t.Any]

    def summary(self) -> dict[str, t.Any]:
        """What modules return: no key material."""
        return {"status": self.status, "contact": self.contact, "orders": self.orders}


def _account(uri: str | None, data: dict[str, t.Any], url: str) -> Account:
    """The account object (section 7.1.2) at `uri`, or ProtocolError when the answer is not one (a failed read)."""
    if not uri:
        raise ProtocolError(f"the CA answered {url} with an account but no Location header", url=url, advice=_ADVICE_NO_LOCATION)
    contact = data.get("contact")
    status = data.get("status") or "valid"  # required by section 7.1.2, yet left out by some CAs
    if status not in STATUSES:
        raise ProtocolError(f"the account {uri} has no valid status ({status!r})", url=url)
    return Account(
        uri=uri,
        status=status,
        contact=[str(item) for item in contact] if isinstance(contact, list) else [],
        orders=data.get("orders") if isinstance(data.get("orders"), str) else None,
        data=data,
    )


class AccountClient:
    """Account operations for one account key over one session."""

    def __init__(self, session: AcmeSession, key: SigningKey, *, account_uri: str | None = None) -> None:
        self.session = session
        self.key = key
        self.account_uri = account_uri

    def find(self) -> Account | None:
        """The account of this key, without creating one (`onlyReturnExisting`, section 7.3.1).

        With a known `account_uri` the account is read directly instead. Deactivated accounts
        count as absent: a CA refuses every request signed for them.
        """
        if self.account_uri:
            try:
                return self.read()
            except ProblemError as error:
                if error.short_type in _NO_ACCOUNT_TYPES:
                    return None
                raise
        url = self.session.directory.require("newAccount")
        try:
            account = self.session.post(
                url,
                key=self.key,
                payload={"onlyReturnExisting": True},
                parse=lambda response: _account(response.location, response.json(), url),
                context="looking up the account",
                idempotent=True,
            )
        except ProblemError as error:
            if error.short_type in _NO_ACCOUNT_TYPES:
                return None
            raise
        self.account_uri = account.uri
        return account

    def find_for_key_change(self, new_key: SigningKey) -> tuple[Account | None, Account | None]:
        """The account of the current key, and the account `new_key` already has when an earlier run changed the key.

        A rerun with the old key and `account_uri` signs with a key the CA no longer knows; CAs refuse
        that with different problem types (malformed, unauthorized, accountDoesNotExist, ...), so any
        refusal of the old key is checked against the new key before it is reported.
        """
        try:
            existing = self.find()
        except ProblemError as error:
            if error.status is None or not 400 <= error.status < 500:
                raise
            rolled = self._moved_to(new_key)
            if rolled is None:
                raise
            return None, rolled
        if existing is not None:
            return existing, None
        return None, self._moved_to(new_key)

    def _moved_to(self, new_key: SigningKey) -> Account | None:
        """This account as `new_key` finds it, if that key has it."""
        rolled = AccountClient(self.session, new_key).find()
        if rolled is None or (self.account_uri and rolled.uri != self.account_uri):
            return None
        return rolled

    def read(self) -> Account:
        """Read the account at `account_uri` with POST-as-GET (section 6.3)."""
        uri = t.cast(str, self.account_uri)

        def parse(response: AcmeResponse) -> Account:
            return _account(uri, response.json(), uri)

        return self.session.read(uri, key=self.key, kid=uri, parse=parse, context="reading the account")

    def create(
        self,
        *,
        contact: list[str],
        terms_agreed: bool,
        binding: ExternalAccountBinding | None = None,
    ) -> tuple[Account, bool]:
        """Register the key (section 7.3); returns the account and whether it is new.

        newAccount returns the existing account (200) instead of failing when the key is
        already registered (section 7.3.1), so a registration is sent again like a read when its
        answer is lost, damaged or lacks the account's Location. Callers look the key up first
        (`find`), so an account that exists after a lost answer was made by this call and counts as new.
        """
        url = self.session.directory.require("newAccount")
        payload: dict[str, t.Any] = {"contact": contact}
        if terms_agreed:
            payload["termsOfServiceAgreed"] = True
        if binding is not None:
            payload["externalAccountBinding"] = external_account_binding(
                account_key=self.key, url=url, kid=binding.kid, hmac_key=binding.hmac_key, alg=binding.alg
            )

        def parse(response: AcmeResponse) -> tuple[Account, bool]:
            return _account(response.location, response.json(), url), response.status == 201 or response.after_lost_answer

        account, created = self.session.post(url, key=self.key, payload=payload, parse=parse, context="creating the account", idempotent=True)
        self.account_uri = account.uri
        return account, created

    def update(self, changes: dict[str, t.Any], *, context: str) -> Account:
        """Section 7.3.2; the same changes sent twice leave the account the same, so a lost answer resends."""
        uri = t.cast(str, self.account_uri)
        return self.session.post(
            uri,
            key=self.key,
            kid=uri,
            payload=changes,
            parse=lambda response: _account(uri, response.json(), uri),
            context=context,
            idempotent=True,
        )

    def update_contact(self, contact: list[str]) -> Account:
        return self.update({"contact": contact}, context="updating the account's contact")

    def deactivate(self) -> Account:
        """Section 7.3.6: the account can never be used again.

        A resend after a lost answer that is refused as `unauthorized` found the account
        deactivated by the first request: that is the outcome asked for.
        """
        uri = t.cast(str, self.account_uri)
        payload = {"status": "deactivated"}
        resending = Resending(clock=self.session.clock, checked="deactivating twice does no harm, so each lost one was sent again")
        for attempt in resending.rounds():
            try:
                return self.session.post(
                    uri,
                    key=self.key,
                    kid=uri,
                    payload=payload,
                    parse=lambda response: _account(uri, response.json(), uri),
                    context="deactivating the account",
                )
            except OutcomeUnknown as lost:
                resending.lost(lost)
            except ProblemError as error:
                if attempt == 1 or not error.has_type("unauthorized"):
                    raise
                return Account(uri=uri, status="deactivated", contact=[], orders=None, data={})
        raise resending.given_up()

    def change_key(self, new_key: SigningKey) -> None:
        """Section 7.3.5: the inner JWS is signed by the new key, the outer one by the old."""
        uri = t.cast(str, self.account_uri)
        url = self.session.directory.require("keyChange")
        resending = Resending(clock=self.session.clock, checked="the new key found no account after any of them")
        for _attempt in resending.rounds():
            inner = sign_jws(key=new_key, url=url, payload={"account": uri, "oldKey": self.key.jwk})
            try:
                self.session.post(url, key=self.key, kid=uri, payload=inner, context="changing the account key")
                break
            except OutcomeUnknown as lost:
                resending.lost(lost)
            # did it arrive? then the new key finds this account
            rolled = AccountClient(self.session, new_key).find()
            if rolled is not None and rolled.uri == uri:
                break
        else:
            raise resending.given_up()
        self.key = new_key
