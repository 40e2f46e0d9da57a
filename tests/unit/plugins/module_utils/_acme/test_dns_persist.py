# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dns-persist-01 record: what the draft asks for, and what it forbids refused with the option to fix."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.dns_persist import (
    challenge_data,
    persist_record,
    persist_until_seconds,
    record_name,
    record_value,
)
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import Identifier

ACCOUNT = "https://ca.example/acme/acct/123"
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
CHALLENGE = {"type": "dns-persist-01", "url": "https://ca.example/chall/1", "status": "pending", "issuer-domain-names": ["authority.example", "ca.example.net"]}


def test_record_name_of_a_name_and_of_a_wildcard_is_at_the_base_name() -> None:
    assert record_name(Identifier("dns", "www.example.com")) == "_validation-persist.www.example.com"
    assert record_name(Identifier("dns", "*.example.com")) == "_validation-persist.example.com"
    assert record_name("Example.COM.") == "_validation-persist.example.com"


def test_value_names_the_issuer_and_the_account_then_policy_and_persist_until() -> None:
    assert record_value(issuer_domain_name="authority.example", account_uri=ACCOUNT) == f"authority.example; accounturi={ACCOUNT}"
    value = record_value(issuer_domain_name="authority.example", account_uri=ACCOUNT, wildcard=True, persist_until=1830297600, now=NOW)
    assert value == f"authority.example; accounturi={ACCOUNT}; policy=wildcard; persistUntil=1830297600"


@pytest.mark.parametrize(
    "given",
    [
        1830297600,
        "1830298600",
        "2028-01-01T00:00:00Z",
        "2028-01-01T01:00:00+01:00",
        datetime.datetime(2028, 1, 1, tzinfo=datetime.timezone.utc),
        datetime.datetime(2028, 1, 1),  # no time zone: UTC
    ],
)
def test_persist_until_is_unix_seconds_whatever_form_it_was_given_in(given: object) -> None:
    seconds = persist_until_seconds(given, now=NOW)
    assert seconds in (1830297600, 1830298600)


@pytest.mark.parametrize("given", [1700000000, "2026-11-30T23:59:59Z", NOW, 0, "next year", True, 1.5])
def test_persist_until_not_in_the_future_or_not_a_time_is_refused(given: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^persist_until: "):
        persist_until_seconds(given, now=NOW)


def test_the_first_issuer_name_is_used_unless_another_offered_one_is_preferred() -> None:
    assert persist_record(CHALLENGE, identifier="example.com", account_uri=ACCOUNT)["issuer_domain_name"] == "authority.example"
    chosen = persist_record(CHALLENGE, identifier="example.com", account_uri=ACCOUNT, issuer_domain_name="ca.example.net")
    assert chosen["record_value"].startswith("ca.example.net; ")
    with pytest.raises(ConfigurationError, match=r"^issuer_domain_name: 'other.example' is not among the CA's issuer-domain-names"):
        persist_record(CHALLENGE, identifier="example.com", account_uri=ACCOUNT, issuer_domain_name="other.example")


def test_a_wildcard_gets_policy_wildcard_and_refuses_to_go_without() -> None:
    record = persist_record(["authority.example"], identifier="*.example.com", account_uri=ACCOUNT)
    assert record == {
        "record": "_validation-persist.example.com",
        "record_value": f"authority.example; accounturi={ACCOUNT}; policy=wildcard",
        "issuer_domain_name": "authority.example",
    }
    with pytest.raises(ConfigurationError, match=r"^wildcard: \*\.example\.com is a wildcard"):
        persist_record(["authority.example"], identifier="*.example.com", account_uri=ACCOUNT, wildcard=False)


@pytest.mark.parametrize(
    "names, message",
    [
        ([], "lists no issuer-domain-names"),
        (None, "lists no issuer-domain-names"),
        ([f"ca{number}.example" for number in range(11)], "lists 11 issuer-domain-names, more than the draft's 10"),
        (["ca.example."], "ends with a dot"),
        (["CA.example"], "upper-case"),
        (["bücher.example"], "A-label"),
        (["ca_1.example"], "is not a domain name"),
        (["-ca.example"], "is not a domain name"),
        (["ca..example"], "is not a domain name"),
        ([""], "is not a domain name"),
        ([7], "is not a domain name"),
        (["a" * 64 + ".example"], "is not a domain name"),
    ],
)
def test_a_challenge_the_draft_says_to_reject_is_refused(names: object, message: str) -> None:
    challenge = {**CHALLENGE, "issuer-domain-names": names}
    with pytest.raises(ConfigurationError, match=message):
        persist_record(challenge, identifier="example.com", account_uri=ACCOUNT)


@pytest.mark.parametrize(
    "account_uri, message",
    [
        ("", "is empty"),
        (None, "is empty"),
        ("http://ca.example/acct/1", "is not an https:// URL"),
        ("acct/1", "is not an https:// URL"),
        ("https://ca.example/acct/1;policy=wildcard", "';'"),
        ("https://ca.example/acct/ 1", "spaces"),
        ("https://ca.example/acct/ü", "printable ASCII"),
    ],
)
def test_an_account_uri_a_record_cannot_hold_is_refused(account_uri: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^account_uri: .*" + message):
        persist_record(CHALLENGE, identifier="example.com", account_uri=account_uri)  # type: ignore[arg-type]


def test_an_issuer_name_given_alone_is_checked_too() -> None:
    assert persist_record("authority.example", identifier="example.com", account_uri=ACCOUNT)["issuer_domain_name"] == "authority.example"
    with pytest.raises(ConfigurationError, match="ends with a dot"):
        persist_record("authority.example.", identifier="example.com", account_uri=ACCOUNT)


def test_acme_orders_entry_keeps_the_cas_fields_and_adds_the_default_record() -> None:
    data = challenge_data({**CHALLENGE, "accounturi": ACCOUNT}, Identifier("dns", "*.example.com"), ACCOUNT)
    assert data["issuer-domain-names"] == ["authority.example", "ca.example.net"]
    assert data["url"] == CHALLENGE["url"] and data["token"] is None and data["accounturi"] == ACCOUNT
    assert data["record"] == "_validation-persist.example.com"
    assert data["record_value"] == f"authority.example; accounturi={ACCOUNT}; policy=wildcard"
    assert data["account_uri"] == ACCOUNT and "problem" not in data


def test_acme_orders_entry_for_a_challenge_to_reject_says_why_instead_of_a_record() -> None:
    data = challenge_data({**CHALLENGE, "issuer-domain-names": []}, Identifier("dns", "example.com"), ACCOUNT)
    assert "record_value" not in data
    assert "lists no issuer-domain-names" in data["problem"]


def test_an_authorization_offering_dns_persist_01_gives_its_record_in_the_challenge_data() -> None:
    from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import _authorization
    from ansible_collections.certforge.acme.plugins.module_utils._acme.challenges import authorization_data

    authorization = _authorization(
        "https://ca.example/authz/1",
        {
            "identifier": {"type": "dns", "value": "example.com"},
            "status": "pending",
            "wildcard": True,
            "challenges": [
                {"type": "dns-01", "url": "https://ca.example/chall/0", "status": "pending", "token": "tok"},
                {"type": "dns-persist-01", "url": "https://ca.example/chall/1", "status": "pending", "issuer-domain-names": ["authority.example"]},
            ],
        },
    )
    data = authorization_data(authorization, "thumbprint", account_uri=ACCOUNT)
    assert sorted(data) == ["dns-01", "dns-persist-01"]
    assert data["dns-persist-01"]["record"] == "_validation-persist.example.com"
    assert data["dns-persist-01"]["record_value"] == f"authority.example; accounturi={ACCOUNT}; policy=wildcard"
