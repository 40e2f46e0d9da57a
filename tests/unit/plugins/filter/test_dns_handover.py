# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_dns_handover: what each host hands a DNS provider, so that each record name is handed once for the play."""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.filter._dns_handover import dns_handover

SHARED = "_acme-challenge.example.com"
WWW = "_acme-challenge.www.example.com"


def host(name: str, records: dict, **steps: bool) -> dict:
    return {"host": name, "records": records, **steps}


def test_present_the_first_host_of_a_name_hands_it_once_with_every_hosts_values():
    hosts = [host("web1", {SHARED: ["a"]}), host("web2", {SHARED + ".": ["b", "a"], WWW: ["w"]})]
    assert dns_handover(hosts, "present", "web1") == {"records": {SHARED: ["a", "b"]}, "remaining": {}}
    # web2 hands only the name it leads; its value at the shared name goes with web1's hand-over.
    assert dns_handover(hosts, "present", "web2") == {"records": {WWW: ["w"]}, "remaining": {}}


def test_absent_in_a_linear_play_removes_everything_once():
    hosts = [host("web1", {SHARED: ["a"]}, published=True, validated=True), host("web2", {SHARED: ["b"]}, published=True, validated=True)]
    assert dns_handover(hosts, "absent", "web1") == {"records": {SHARED: ["a", "b"]}, "remaining": {SHARED: []}}
    assert dns_handover(hosts, "absent", "web2") == {"records": {}, "remaining": {}}


def test_a_host_that_failed_before_its_validation_hands_nothing_back_and_its_values_stay():
    # Its record of what it provisioned stays, and the next run removes them (tasks/leftovers.yml).
    hosts = [host("web1", {SHARED: ["a"]}, published=True), host("web2", {SHARED: ["b"]}, published=True, validated=True)]
    assert dns_handover(hosts, "absent", "web1") == {"records": {}, "remaining": {}}
    assert dns_handover(hosts, "absent", "web2") == {"records": {SHARED: ["b"]}, "remaining": {SHARED: ["a"]}}


def test_strategy_free_a_later_host_publishes_again_with_the_values_known_then():
    # web1 published and waits for the CA; web2 arrives later at the same name.
    hosts = [host("web1", {SHARED: ["a"]}, published=True), host("web2", {SHARED: ["b"]})]
    assert dns_handover(hosts, "present", "web2") == {"records": {SHARED: ["a", "b"]}, "remaining": {}}


def test_strategy_free_removal_keeps_what_a_host_still_validating_needs():
    hosts = [host("web1", {SHARED: ["a"]}, published=True, validated=True), host("web2", {SHARED: ["b"]}, published=True)]
    assert dns_handover(hosts, "absent", "web1") == {"records": {SHARED: ["a"]}, "remaining": {SHARED: ["b"]}}
    # Later web2 is done; web1 has removed its values already, so web2 leads the name now.
    hosts = [host("web1", {SHARED: ["a"]}, published=True, validated=True, removed=True), host("web2", {SHARED: ["b"]}, published=True, validated=True)]
    assert dns_handover(hosts, "absent", "web2") == {"records": {SHARED: ["b"]}, "remaining": {SHARED: []}}


def test_strategy_free_a_validated_host_is_not_published_again():
    hosts = [host("web1", {SHARED: ["a"]}, published=True, validated=True), host("web2", {SHARED: ["b"]})]
    assert dns_handover(hosts, "present", "web2") == {"records": {SHARED: ["b"]}, "remaining": {}}


def test_a_value_two_hosts_share_stays_while_one_still_needs_it():
    # One account, one pending authorization: both hosts were handed the same value.
    hosts = [host("web1", {SHARED: ["same"]}, published=True, validated=True), host("web2", {SHARED: ["same"]}, published=True)]
    assert dns_handover(hosts, "absent", "web1") == {"records": {}, "remaining": {}}


def test_unknown_state_is_refused():
    with pytest.raises(ValueError, match="state must be present or absent"):
        dns_handover([], "latest", "web1")
