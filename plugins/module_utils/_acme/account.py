# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME accounts (RFC 8555 section 7.3): find, create, update, deactivate, roll over the key."""

from __future__ import annotations

import typing as t

from .errors import ProblemError, ProtocolError
from .jose import SigningKey, external_account_binding, sign_jws
from .transport import AcmeSession

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
    if not uri:
        raise ProtocolError("the CA returned an account without a Location header", url=url)
    contact = data.get("contact")
    return Account(
        uri=uri,
        status=str(data.get("status") or "valid"),
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
            response = self.session.post(
                url, key=self.key, payload={"onlyReturnExisting": True}, context="looking up the account", idempotent=True
            )
        except ProblemError as error:
            if error.short_type in _NO_ACCOUNT_TYPES:
                return None
            raise
        account = _account(response.location, response.json(), url)
        self.account_uri = account.uri
        return account

    def read(self) -> Account:
        """Read the account at `account_uri` with POST-as-GET (section 6.3)."""
        uri = t.cast(str, self.account_uri)
        response = self.session.post_as_get(uri, key=self.key, kid=uri, context="reading the account")
        return _account(uri, response.json(), uri)

    def create(
        self,
        *,
        contact: list[str],
        terms_agreed: bool,
        binding: ExternalAccountBinding | None = None,
    ) -> tuple[Account, bool]:
        """Register the key (section 7.3); returns the account and whether it is new.

        newAccount returns the existing account (200) instead of failing when the key is
        already registered, so this is also safe as a lookup.
        """
        url = self.session.directory.require("newAccount")
        payload: dict[str, t.Any] = {"contact": contact}
        if terms_agreed:
            payload["termsOfServiceAgreed"] = True
        if binding is not None:
            payload["externalAccountBinding"] = external_account_binding(
                account_key=self.key, url=url, kid=binding.kid, hmac_key=binding.hmac_key, alg=binding.alg
            )
        response = self.session.post(url, key=self.key, payload=payload, context="creating the account")
        account = _account(response.location, response.json(), url)
        self.account_uri = account.uri
        return account, response.status == 201

    def update(self, changes: dict[str, t.Any], *, context: str) -> Account:
        uri = t.cast(str, self.account_uri)
        response = self.session.post(uri, key=self.key, kid=uri, payload=changes, context=context)
        return _account(uri, response.json(), uri)

    def update_contact(self, contact: list[str]) -> Account:
        return self.update({"contact": contact}, context="updating the account's contact")

    def deactivate(self) -> Account:
        """Section 7.3.6: the account can never be used again."""
        return self.update({"status": "deactivated"}, context="deactivating the account")

    def change_key(self, new_key: SigningKey) -> None:
        """Section 7.3.5: the inner JWS is signed by the new key, the outer one by the old."""
        uri = t.cast(str, self.account_uri)
        url = self.session.directory.require("keyChange")
        inner = sign_jws(key=new_key, url=url, payload={"account": uri, "oldKey": self.key.jwk})
        self.session.post(url, key=self.key, kid=uri, payload=inner, context="changing the account key")
        self.key = new_key
