# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_dns_record_sets and _missing_collections: the glue of the role's shipped DNS providers."""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.filter._dns_record_sets import dns_record_sets
from ansible_collections.certforge.acme.plugins.filter._missing_collections import missing_collections

RECORDS = {"_acme-challenge.example.com.": ["a", "b"], "_acme-challenge.www.example.com": ["w"]}


def test_present_sets_each_name_to_its_values():
    assert dns_record_sets(RECORDS, "present", {}) == [
        {"name": "_acme-challenge.example.com", "state": "present", "values": ["a", "b"]},
        {"name": "_acme-challenge.www.example.com", "state": "present", "values": ["w"]},
    ]


def test_absent_keeps_what_must_remain_and_deletes_the_rest():
    assert dns_record_sets(RECORDS, "absent", {"_acme-challenge.example.com.": ["c"], "_acme-challenge.www.example.com": []}) == [
        {"name": "_acme-challenge.example.com", "state": "present", "values": ["c"]},
        {"name": "_acme-challenge.www.example.com", "state": "absent", "values": []},
    ]


def test_unknown_state_is_refused():
    with pytest.raises(ValueError, match="state must be present or absent"):
        dns_record_sets(RECORDS, "replaced", {})


def test_missing_collections_are_named_once_in_one_line():
    # That modules Ansible finds pass is shown by tests/integration/test_role_dns_providers.py, in a real controller.
    message = missing_collections(["nosuch.collection.module", "nosuch.collection.other", "absent.too.module"], "acme_certificate_dns_provider=route53")
    assert message == (
        "acme_certificate_dns_provider=route53 needs the collections nosuch.collection and absent.too, which Ansible "
        "cannot find; install them with: ansible-galaxy collection install nosuch.collection absent.too"
    )
