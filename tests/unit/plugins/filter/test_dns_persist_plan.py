# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_persist_plan: the records the role keeps, and its warnings about a persistUntil that ends soon or ended."""

from __future__ import annotations

import datetime

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certforge.acme.plugins.filter._dns_persist_plan import dns_persist_plan

ACCOUNT = "https://ca.example/acme/acct/123"
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def entry(url: str = "https://ca.example/chall/1") -> dict:
    return {"type": "dns-persist-01", "url": url, "status": "pending", "token": None, "issuer-domain-names": ["authority.example"]}


def test_a_wildcard_and_its_base_name_share_one_record_with_policy_wildcard() -> None:
    plan = dns_persist_plan({"example.com": entry(), "*.example.com": entry(), "www.example.org": entry()}, ACCOUNT, now=NOW)
    assert plan == {
        "records": {
            "_validation-persist.example.com": [f"authority.example; accounturi={ACCOUNT}; policy=wildcard"],
            "_validation-persist.www.example.org": [f"authority.example; accounturi={ACCOUNT}"],
        },
        "warnings": [],
    }


def test_wildcard_and_persist_until_apply_to_every_record() -> None:
    plan = dns_persist_plan({"www.example.org": entry()}, ACCOUNT, wildcard=True, persist_until="2028-01-01T00:00:00Z", now=NOW)
    assert plan["records"] == {"_validation-persist.www.example.org": [f"authority.example; accounturi={ACCOUNT}; policy=wildcard; persistUntil=1830297600"]}
    assert plan["warnings"] == []


def test_a_persist_until_within_the_warning_days_warns_and_still_publishes() -> None:
    plan = dns_persist_plan({"www.example.org": entry()}, ACCOUNT, persist_until="2027-01-15T00:00:00Z", warn_days=60, now=NOW)
    assert plan["records"]["_validation-persist.www.example.org"][0].endswith("; persistUntil=1799971200")
    assert plan["warnings"] == [
        "acme_certificate_dns_persist_until (2027-01-15 00:00 UTC) is less than 60 days away: the next renewal of www.example.org "
        "will find the records expired; set a later time"
    ]


def test_a_past_persist_until_warns_and_publishes_nothing() -> None:
    plan = dns_persist_plan({"www.example.org": entry()}, ACCOUNT, persist_until=1700000000, now=NOW)
    assert plan["records"] == {}
    assert "has passed: the CA must refuse" in plan["warnings"][0]


def test_a_challenge_the_draft_says_to_reject_fails_with_its_reason() -> None:
    with pytest.raises(AnsibleFilterError, match=r"^dns-persist-01: www\.example\.org: the CA's .* lists no issuer-domain-names"):
        dns_persist_plan({"www.example.org": {**entry(), "issuer-domain-names": []}}, ACCOUNT, now=NOW)


def test_the_roles_provisioning_carries_dns_persist_01_challenges_apart_from_what_it_removes() -> None:
    from ansible_collections.certforge.acme.plugins.filter._challenge_provisioning import challenge_provisioning

    order = {
        "name": "www",
        "spec": {"name": "www", "challenge": "dns-persist-01"},
        "order": {"challenge_data": {"example.com": {"dns-persist-01": entry(), "http-01": {"resource": "r", "resource_value": "v"}}}},
    }
    provisioning = challenge_provisioning([order], "web1")
    assert provisioning == {"http-01": [], "dns-01": {}, "tls-alpn-01": [], "dns-persist-01": {"example.com": entry()}}
