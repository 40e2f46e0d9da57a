# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_persist_record: the record for playbooks, bad input refused in one line naming the option."""

from __future__ import annotations

import datetime

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certforge.acme.plugins.filter.dns_persist_record import dns_persist_record

ACCOUNT = "https://ca.example/acme/acct/123"
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def test_from_the_challenge_entry_of_acme_order() -> None:
    entry = {"type": "dns-persist-01", "url": "https://ca.example/chall/1", "status": "pending", "issuer-domain-names": ["authority.example"]}
    record = dns_persist_record(entry, "www.example.com", account_uri=ACCOUNT, persist_until="2027-06-01T00:00:00Z", now=NOW)
    assert record["record"] == "_validation-persist.www.example.com"
    assert record["record_value"] == f"authority.example; accounturi={ACCOUNT}; persistUntil=1811808000"


def test_from_one_issuer_name_with_policy_wildcard() -> None:
    record = dns_persist_record("authority.example", "example.com", account_uri=ACCOUNT, wildcard=True)
    assert record["record_value"] == f"authority.example; accounturi={ACCOUNT}; policy=wildcard"


@pytest.mark.parametrize(
    "given, kwargs, message",
    [
        (["authority.example"], {"account_uri": None}, "account_uri: is empty"),
        ([], {"account_uri": ACCOUNT}, "lists no issuer-domain-names"),
        (["authority.example"], {"account_uri": ACCOUNT, "persist_until": 1}, "persist_until: 1970-01-01T00:00:01Z (1) is not in the future"),
        (42, {"account_uri": ACCOUNT}, "expected a dns-persist-01 challenge"),
    ],
)
def test_bad_input_is_one_line_naming_the_option(given: object, kwargs: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=r"^dns_persist_record: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        dns_persist_record(given, "example.com", **kwargs)
