# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_dns_rfc2136's follow_cname: `_acme-challenge` aliases followed to the validation zone, against a name server in memory."""

from __future__ import annotations

import dns.name
import dns.rdatatype
import pytest

from ansible_collections.certforge.acme.plugins.module_utils import dns_rfc2136 as rfc2136
from ansible_collections.certforge.acme.plugins.module_utils.dns_aliases import follow_aliases
from ansible_collections.certforge.acme.tests.unit.plugins.module_utils.test_dns_rfc2136 import SOA, example_com, primary_for

VALIDATION_ZONE = "validation.example.net"


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def with_validation_zone(aliases: dict[str, str]):
    """example.com with CNAMEs, and the validation zone on the same primary, with its own name server."""
    server = example_com()
    for owner, target in aliases.items():
        zone = name("example.com") if name(owner).is_subdomain(name("example.com")) else name(VALIDATION_ZONE)
        server.zones.setdefault(zone, {})[(name(owner), dns.rdatatype.CNAME)] = [target]
    validation = server.zones.setdefault(name(VALIDATION_ZONE), {})
    validation[(name(VALIDATION_ZONE), dns.rdatatype.SOA)] = [SOA]
    validation[(name(VALIDATION_ZONE), dns.rdatatype.NS)] = ["ns.validation.example.net."]
    validation[(name("ns.validation.example.net"), dns.rdatatype.A)] = ["192.0.2.99"]
    return server


def no_fallback(alias: dns.name.Name):
    raise AssertionError(f"this host's resolver asked about {alias}, although the primary is authoritative")


def test_values_go_to_the_target_in_its_own_zone_and_the_wait_checks_that_zone():
    server = with_validation_zone({"_acme-challenge.www.example.com": "www.validation.example.net."})
    primary = primary_for(server)
    records, aliases = follow_aliases(primary, {name("_acme-challenge.www.example.com"): ["v1"]}, fallback=no_fallback)
    assert records == {name("www.validation.example.net"): ["v1"]}
    assert aliases == {name("_acme-challenge.www.example.com"): name("www.validation.example.net")}

    zones = rfc2136.find_zones(primary, records, zone=None)
    outcome = rfc2136.apply_records(primary, zones, state="present", ttl=60, check_mode=False)
    assert outcome.zones == [name(VALIDATION_ZONE)]
    assert [update.zone[0].name for update in server.updates] == [name(VALIDATION_ZONE)]
    assert server.txt("www.validation.example.net") == ["v1"]
    assert server.txt("_acme-challenge.www.example.com") == []

    targets = rfc2136.propagation_targets(primary, zones, nameservers=None, port=53, resolve=lambda host, port: [])
    assert [(nameserver.address, list(wanted)) for nameserver, wanted in targets] == [("192.0.2.99", [name("www.validation.example.net")])]


def test_a_chain_is_followed_to_its_end_and_names_sharing_a_target_share_its_values():
    server = with_validation_zone(
        {
            "_acme-challenge.example.com": "hop.validation.example.net.",
            "hop.validation.example.net": "end.validation.example.net.",
            "_acme-challenge.www.example.com": "end.validation.example.net.",
        }
    )
    records, aliases = follow_aliases(
        primary_for(server),
        {name("_acme-challenge.example.com"): ["a", "b"], name("_acme-challenge.www.example.com"): ["b", "c"], name("_acme-challenge.mail.example.com"): ["d"]},
        fallback=no_fallback,
    )
    assert records == {name("end.validation.example.net"): ["a", "b", "c"], name("_acme-challenge.mail.example.com"): ["d"]}
    assert aliases == {
        name("_acme-challenge.example.com"): name("end.validation.example.net"),
        name("_acme-challenge.www.example.com"): name("end.validation.example.net"),
    }


def test_a_loop_of_aliases_fails_naming_the_chain():
    server = with_validation_zone({"_acme-challenge.example.com": "a.validation.example.net.", "a.validation.example.net": "_acme-challenge.example.com."})
    with pytest.raises(
        rfc2136.DnsError,
        match="^records: the aliases .CNAME. of _acme-challenge.example.com form a loop: "
        "_acme-challenge.example.com -> a.validation.example.net -> _acme-challenge.example.com;",
    ):
        follow_aliases(primary_for(server), {name("_acme-challenge.example.com"): ["v"]}, fallback=no_fallback)


def test_names_the_primary_does_not_serve_are_asked_of_this_hosts_resolver():
    server = with_validation_zone({})
    asked = []

    def resolver(alias: dns.name.Name) -> dns.name.Name | None:
        asked.append(alias)
        return name("shop.validation.example.net") if alias == name("_acme-challenge.shop.example.org") else None

    records, aliases = follow_aliases(primary_for(server), {name("_acme-challenge.shop.example.org"): ["v"]}, fallback=resolver)
    # The second question, about the target, goes to the primary again: it serves the validation zone.
    assert asked == [name("_acme-challenge.shop.example.org")]
    assert records == {name("shop.validation.example.net"): ["v"]}
    assert aliases == {name("_acme-challenge.shop.example.org"): name("shop.validation.example.net")}


def test_names_that_are_no_alias_stay_as_they_are():
    server = with_validation_zone({})
    records, aliases = follow_aliases(primary_for(server), {name("_acme-challenge.example.com"): ["v"]}, fallback=no_fallback)
    assert records == {name("_acme-challenge.example.com"): ["v"]}
    assert aliases == {}
