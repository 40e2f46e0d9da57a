# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DNS logic of acme_dns_rfc2136 against a name server in memory: no network.

`FakeNameServer` sees every message in its wire form (so TSIG signing really happens and is
verified with the key the server knows), answers queries from its zone data like an
authoritative server, and applies updates the way RFC 2136 section 3.4.2 describes.
"""

from __future__ import annotations

import base64
import dataclasses

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

from ansible_collections.certforge.acme.plugins.module_utils import dns_rfc2136 as rfc2136
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.tests.unit.utils.helpers import FakeClock

SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode("ascii")
KEY = rfc2136.tsig_key(name="acme-update", secret=SECRET, algorithm="hmac-sha256")
PRIMARY = rfc2136.Nameserver(address="192.0.2.53", port=53)
SECONDARY = rfc2136.Nameserver(address="192.0.2.54", port=53, name="ns2.example.com")
SOA = "ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60"


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


@dataclasses.dataclass
class Sent:
    message: dns.message.Message
    nameserver: rfc2136.Nameserver
    timeout: float
    tcp: bool


class FakeNameServer:
    """Authoritative for `zones`; data is (owner, type) -> record texts; REFUSED for other names."""

    def __init__(self, zones: dict[str, dict[tuple[str, str], list[str]]], *, keyring: dns.tsig.Key | None = KEY) -> None:
        self.zones = {
            name(zone): {(name(owner), dns.rdatatype.from_text(rdtype)): texts for (owner, rdtype), texts in data.items()} for zone, data in zones.items()
        }
        self.keyring = keyring
        self.sent: list[Sent] = []
        self.update_rcode = dns.rcode.NOERROR
        self.error: Exception | None = None

    @property
    def updates(self) -> list[dns.message.Message]:
        return [sent.message for sent in self.sent if sent.message.opcode() == dns.opcode.UPDATE]

    def __call__(self, message: dns.message.Message, nameserver: rfc2136.Nameserver, *, timeout: float, tcp: bool = False) -> dns.message.Message:
        received = dns.message.from_wire(message.to_wire(), keyring=self.keyring)
        self.sent.append(Sent(received, nameserver, timeout, tcp))
        if self.error is not None:
            raise self.error
        response = dns.message.make_response(received)
        if received.opcode() == dns.opcode.UPDATE:
            if self.update_rcode == dns.rcode.NOERROR:
                self._apply(received)
            response.set_rcode(self.update_rcode)
            return response
        self._answer(received.question[0], response)
        return response

    def txt(self, owner: str) -> list[str]:
        for data in self.zones.values():
            if (name(owner), dns.rdatatype.TXT) in data:
                return [text.strip('"') for text in data[(name(owner), dns.rdatatype.TXT)]]
        return []

    def _zone_of(self, qname: dns.name.Name) -> dns.name.Name | None:
        zones = [zone for zone in self.zones if qname.is_subdomain(zone)]
        return max(zones, key=len) if zones else None

    def _answer(self, question: dns.rrset.RRset, response: dns.message.Message) -> None:
        zone = self._zone_of(question.name)
        if zone is None:
            response.set_rcode(dns.rcode.REFUSED)
            return
        data = self.zones[zone]
        for (owner, rdtype), texts in data.items():
            if rdtype == dns.rdatatype.NS and owner != zone and question.name.is_subdomain(owner):
                response.authority.append(dns.rrset.from_text_list(owner, 60, "IN", "NS", texts))
                return  # a referral: not authoritative below the zone cut
        response.flags |= dns.flags.AA
        texts = data.get((question.name, question.rdtype))
        if texts:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", question.rdtype, texts))
            return
        response.authority.append(dns.rrset.from_text_list(zone, 60, "IN", "SOA", [SOA]))
        if not any(owner == question.name for owner, _rdtype in data):
            response.set_rcode(dns.rcode.NXDOMAIN)

    def _apply(self, update: dns.message.Message) -> None:
        data = self.zones[update.zone[0].name]
        for rrset in update.update:
            key = (rrset.name, rrset.rdtype)
            if rrset.deleting == dns.rdataclass.ANY:
                data.pop(key, None)
            elif rrset.deleting == dns.rdataclass.NONE:
                gone = {rdata.to_text() for rdata in rrset}
                data[key] = [text for text in data.get(key, []) if text not in gone]
            else:
                data[key] = list(dict.fromkeys([*data.get(key, []), *(rdata.to_text() for rdata in rrset)]))


def example_com(txt: dict[str, list[str]] | None = None, *, keyring: dns.tsig.Key | None = KEY) -> FakeNameServer:
    """The primary of example.com, with two name servers and the given TXT records."""
    data = {
        ("example.com", "SOA"): [SOA],
        ("example.com", "NS"): ["ns1.example.com.", "ns2.example.com."],
        ("ns1.example.com", "A"): ["192.0.2.53"],
        ("ns2.example.com", "A"): ["192.0.2.54"],
    }
    data.update({(owner, "TXT"): [f'"{value}"' for value in values] for owner, values in (txt or {}).items()})
    return FakeNameServer({"example.com": data}, keyring=keyring)


def primary_for(server: FakeNameServer, key: dns.tsig.Key | None = KEY) -> rfc2136.Primary:
    return rfc2136.Primary(PRIMARY, key=key, timeout=5, exchange_with=server)


# Options


def test_record_names_with_and_without_final_dot_are_one_record():
    records = rfc2136.parse_records({"_acme-challenge.example.com": ["a", "b"], "_acme-challenge.example.com.": ["b", "c"]})
    assert records == {name("_acme-challenge.example.com"): ["a", "b", "c"]}


def test_one_value_may_be_given_without_a_list():
    assert rfc2136.parse_records({"_acme-challenge.example.com": "a"}) == {name("_acme-challenge.example.com"): ["a"]}


@pytest.mark.parametrize(
    "records, found",
    [
        ({"_acme-challenge.example.com": {"value": "a"}}, "expected a list of TXT values, found dict"),
        ({"_acme-challenge.example.com": [["a"]]}, "a TXT value must be a string, found list"),
        ({"bad..name": ["a"]}, "is not a DNS name"),
        ({".": ["a"]}, "the root name"),
    ],
)
def test_unusable_records_name_the_option(records, found):
    with pytest.raises(ConfigurationError, match="^records: ") as raised:
        rfc2136.parse_records(records)
    assert found in str(raised.value)


def test_invalid_base64_secret_fails_without_showing_it():
    secret = "not base64 at all!"
    with pytest.raises(ConfigurationError) as raised:
        rfc2136.tsig_key(name="acme-update", secret=secret, algorithm="hmac-sha256")
    assert str(raised.value).startswith("key_secret: is not valid base64")
    assert secret not in str(raised.value) and "base64 at all" not in str(raised.value)


@pytest.mark.parametrize("algorithm, wire_name", [("hmac-sha256", "hmac-sha256."), ("hmac-md5", "hmac-md5.sig-alg.reg.int.")])
def test_key_carries_the_algorithm_the_server_expects(algorithm, wire_name):
    key = rfc2136.tsig_key(name="acme-update", secret=SECRET, algorithm=algorithm)
    assert key.algorithm == name(wire_name)
    assert key.secret == b"0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ns1.example.com", ("ns1.example.com", 53)),
        ("ns1.example.com:5353", ("ns1.example.com", 5353)),
        ("192.0.2.1:5353", ("192.0.2.1", 5353)),
        ("[2001:db8::1]:5353", ("2001:db8::1", 5353)),
        ("[2001:db8::1]", ("2001:db8::1", 53)),
        ("2001:db8::1", ("2001:db8::1", 53)),
    ],
)
def test_nameserver_forms(text, expected):
    assert rfc2136.split_host_port(text, default_port=53, option="nameservers") == expected


@pytest.mark.parametrize("text", ["ns1:", "ns1:http", "ns1:70000", "[2001:db8::1", "[2001:db8::1]5353", ":53"])
def test_unusable_nameserver_forms_name_the_option(text):
    with pytest.raises(ConfigurationError, match="^nameservers: "):
        rfc2136.split_host_port(text, default_port=53, option="nameservers")


def test_nameserver_shows_its_name_and_where_it_is_asked():
    assert str(SECONDARY) == "ns2.example.com (192.0.2.54:53)"
    assert rfc2136.Nameserver(address="2001:db8::1", port=5353).endpoint == "[2001:db8::1]:5353"


def test_long_values_are_split_into_strings_and_read_back_whole():
    value = "x" * 300
    rdata = rfc2136.txt_rdata(value)
    assert [len(string) for string in rdata.strings] == [255, 45]
    response = dns.message.make_response(dns.message.make_query("t.example.com", "TXT"))
    response.answer.append(dns.rrset.from_rdata("t.example.com.", 60, rdata))
    assert rfc2136.answer_values(response, name("t.example.com")) == [value]


# Finding the zone


def test_zone_is_the_closest_name_the_server_has_an_soa_for():
    server = example_com()
    zone = primary_for(server).find_zone(name("_acme-challenge.www.example.com"))
    assert zone == name("example.com")
    asked = [(sent.message.question[0].name.to_text(), dns.rdatatype.to_text(sent.message.question[0].rdtype)) for sent in server.sent]
    assert asked == [("_acme-challenge.www.example.com.", "SOA"), ("www.example.com.", "SOA"), ("example.com.", "SOA")]


def test_zone_queries_are_signed_and_not_recursive():
    server = example_com()
    primary_for(server).find_zone(name("_acme-challenge.example.com"))
    for sent in server.sent:
        assert sent.message.had_tsig and sent.message.keyname == name("acme-update")
        assert not sent.message.flags & dns.flags.RD


def test_a_child_zone_on_the_same_server_wins():
    server = example_com()
    server.zones[name("dev.example.com")] = {(name("dev.example.com"), dns.rdatatype.SOA): [SOA]}
    assert primary_for(server).find_zone(name("_acme-challenge.app.dev.example.com")) == name("dev.example.com")


def test_zones_of_several_records_ask_each_name_once():
    server = example_com()
    records = rfc2136.parse_records({"_acme-challenge.a.example.com": ["1"], "_acme-challenge.b.example.com": ["2"]})
    zones = rfc2136.find_zones(primary_for(server), records, zone=None)
    assert list(zones) == [name("example.com")]
    assert [sent.message.question[0].name.to_text() for sent in server.sent].count("example.com.") == 1


def test_no_zone_on_the_server_fails_naming_the_zone_option():
    with pytest.raises(rfc2136.DnsError, match="^zone: 192.0.2.53:53 is authoritative for no zone that contains _acme-challenge.example.org"):
        primary_for(example_com()).find_zone(name("_acme-challenge.example.org"))


def test_a_name_delegated_elsewhere_fails_naming_the_child_zone():
    server = example_com()
    server.zones[name("example.com")][(name("shop.example.com"), dns.rdatatype.NS)] = ["ns.shop-hoster.net."]
    with pytest.raises(rfc2136.DnsError, match="^zone: 192.0.2.53:53 delegates shop.example.com to other name servers"):
        primary_for(server).find_zone(name("_acme-challenge.shop.example.com"))


def test_a_cached_non_authoritative_soa_is_not_a_zone():
    def answer(message, nameserver, *, timeout, tcp=False):
        response = dns.message.make_response(message)
        qname = message.question[0].name
        response.answer.append(dns.rrset.from_text_list(qname, 60, "IN", "SOA", [SOA]))
        if qname == name("example.com"):
            response.flags |= dns.flags.AA
        return response

    primary = rfc2136.Primary(PRIMARY, key=None, timeout=5, exchange_with=answer)
    assert primary.find_zone(name("www.example.com")) == name("example.com")


def test_records_outside_the_given_zone_are_refused():
    records = rfc2136.parse_records({"_acme-challenge.example.org": ["1"]})
    with pytest.raises(ConfigurationError, match="^records: _acme-challenge.example.org is not in zone example.com"):
        rfc2136.find_zones(primary_for(example_com()), records, zone=name("example.com"))


# The update message


def test_present_adds_the_missing_values_and_keeps_those_of_other_orders():
    change = rfc2136.plan_change(
        name("example.com"), {name("_acme-challenge.example.com"): ["other-host"]}, {name("_acme-challenge.example.com"): ["ours"]}, state="present"
    )
    assert change.after == {name("_acme-challenge.example.com"): ["other-host", "ours"]}
    (add,) = rfc2136.update_message(change, state="present", ttl=60, key=KEY).update
    assert add.deleting is None and [rdata.to_text() for rdata in add] == ['"ours"']


def test_exclusive_present_replaces_the_record_set_with_exactly_the_wanted_values():
    change = rfc2136.plan_change(
        name("example.com"),
        {name("_acme-challenge.example.com"): ["old"]},
        {name("_acme-challenge.example.com"): ["new1", "new2"]},
        state="present",
        exclusive=True,
    )
    message = rfc2136.update_message(change, state="present", ttl=60, key=KEY, exclusive=True)
    assert message.zone[0].name == name("example.com")
    delete_rrset, *adds = message.update
    assert (delete_rrset.deleting, delete_rrset.rdtype, len(delete_rrset)) == (dns.rdataclass.ANY, dns.rdatatype.TXT, 0)
    assert all(add.deleting is None and add.ttl == 60 for add in adds)
    assert sorted(rdata.to_text() for add in adds for rdata in add) == ['"new1"', '"new2"']
    assert message.keyname == name("acme-update")


def test_absent_deletes_only_the_given_values():
    current = {name("_acme-challenge.example.com"): ["ours", "other-order"]}
    change = rfc2136.plan_change(name("example.com"), current, {name("_acme-challenge.example.com"): ["ours", "gone-already"]}, state="absent")
    assert change.after == {name("_acme-challenge.example.com"): ["other-order"]}
    (delete,) = rfc2136.update_message(change, state="absent", ttl=60, key=KEY).update
    assert delete.deleting == dns.rdataclass.NONE
    assert [rdata.to_text() for rdata in delete] == ['"ours"']


def test_exclusive_present_with_no_values_deletes_the_record_set():
    change = rfc2136.plan_change(name("example.com"), {name("t.example.com"): ["old"]}, {name("t.example.com"): []}, state="present", exclusive=True)
    (delete,) = rfc2136.update_message(change, state="present", ttl=60, key=None, exclusive=True).update
    assert (delete.deleting, delete.rdtype) == (dns.rdataclass.ANY, dns.rdatatype.TXT)


def test_same_values_in_another_order_need_no_update():
    change = rfc2136.plan_change(name("example.com"), {name("t.example.com"): ["b", "a"]}, {name("t.example.com"): ["a", "b"]}, state="present")
    assert change.changed_names == []
    assert rfc2136.update_message(change, state="present", ttl=60, key=KEY) is None


def test_only_changed_names_go_into_the_update():
    current = {name("a.example.com"): ["1"], name("b.example.com"): ["old"]}
    change = rfc2136.plan_change(name("example.com"), current, {name("a.example.com"): ["1"], name("b.example.com"): ["2"]}, state="present")
    message = rfc2136.update_message(change, state="present", ttl=60, key=KEY)
    assert {rrset.name for rrset in message.update} == {name("b.example.com")}


# Applying: one update per zone, idempotence, check mode


def apply(server: FakeNameServer, records: dict, *, state: str = "present", check_mode: bool = False, exclusive: bool = False) -> rfc2136.Outcome:
    primary = primary_for(server)
    zones = rfc2136.find_zones(primary, rfc2136.parse_records(records), zone=None)
    return rfc2136.apply_records(primary, zones, state=state, ttl=60, check_mode=check_mode, exclusive=exclusive)


def test_present_sends_one_signed_update_over_tcp_and_reports_what_is_served():
    server = example_com({"_acme-challenge.example.com": ["stale"]})
    outcome = apply(server, {"_acme-challenge.example.com": ["v1"], "_acme-challenge.www.example.com": ["v2", "v3"]}, exclusive=True)
    assert outcome.changed
    (update,) = server.updates
    assert update.had_tsig
    assert [sent.tcp for sent in server.sent if sent.message is update] == [True]
    assert outcome.before == {name("_acme-challenge.example.com"): ["stale"], name("_acme-challenge.www.example.com"): []}
    assert outcome.records == {name("_acme-challenge.example.com"): ["v1"], name("_acme-challenge.www.example.com"): ["v2", "v3"]}
    assert server.txt("_acme-challenge.example.com") == ["v1"]


def test_second_present_sends_no_update():
    server = example_com()
    apply(server, {"_acme-challenge.example.com": ["v1", "v2"]})
    server.sent.clear()
    outcome = apply(server, {"_acme-challenge.example.com.": ["v2", "v1"]})
    assert not outcome.changed and server.updates == []


def test_check_mode_reads_but_never_updates():
    server = example_com()
    outcome = apply(server, {"_acme-challenge.example.com": ["v1"]}, check_mode=True)
    assert outcome.changed and server.updates == []
    assert outcome.records == {name("_acme-challenge.example.com"): ["v1"]}
    assert server.txt("_acme-challenge.example.com") == []


def test_absent_changes_only_when_a_given_value_is_served():
    server = example_com()
    apply(server, {"_acme-challenge.example.com": ["ours", "theirs"]})
    assert apply(server, {"_acme-challenge.example.com": ["ours"]}, state="absent").records == {name("_acme-challenge.example.com"): ["theirs"]}
    server.sent.clear()
    assert not apply(server, {"_acme-challenge.example.com": ["ours"]}, state="absent").changed
    assert server.updates == []


def test_records_in_two_zones_get_one_update_each():
    server = example_com()
    server.zones[name("example.org")] = {(name("example.org"), dns.rdatatype.SOA): [SOA]}
    outcome = apply(server, {"_acme-challenge.example.com": ["1"], "_acme-challenge.example.org": ["2"], "_acme-challenge.www.example.com": ["3"]})
    assert outcome.zones == [name("example.com"), name("example.org")]
    assert [update.zone[0].name for update in server.updates] == [name("example.com"), name("example.org")]


def test_an_alias_is_reported_instead_of_silently_ignored():
    server = example_com()
    server.zones[name("example.com")][(name("_acme-challenge.example.com"), dns.rdatatype.CNAME)] = ["x.acme-dns.example.net."]

    def with_alias(message, nameserver, *, timeout, tcp=False):
        response = server(message, nameserver, timeout=timeout, tcp=tcp)
        if message.question[0].rdtype == dns.rdatatype.TXT:
            response.set_rcode(dns.rcode.NOERROR)
            response.authority.clear()
            response.answer.append(dns.rrset.from_text(message.question[0].name, 60, "IN", "CNAME", "x.acme-dns.example.net."))
        return response

    primary = rfc2136.Primary(PRIMARY, key=KEY, timeout=5, exchange_with=with_alias)
    with pytest.raises(rfc2136.DnsError, match="^records: _acme-challenge.example.com is an alias .CNAME. of x.acme-dns.example.net"):
        primary.txt_values(name("_acme-challenge.example.com"))


# What the server says no with


@pytest.mark.parametrize(
    "rcode, key, expected",
    [
        (
            dns.rcode.REFUSED,
            KEY,
            "key_name: 192.0.2.53:53 refused the update of zone example.com (REFUSED): the zone does not accept updates signed with key acme-update",
        ),
        (dns.rcode.NOTAUTH, KEY, "key_name: 192.0.2.53:53 refused the update of zone example.com (NOTAUTH)"),
        (dns.rcode.REFUSED, None, "key_name: 192.0.2.53:53 refused the unsigned update of zone example.com (REFUSED); set key_name and key_secret"),
        (dns.rcode.SERVFAIL, KEY, "server: 192.0.2.53:53 answered SERVFAIL to the update of zone example.com; see the server's log"),
        (dns.rcode.NOTZONE, KEY, "records: 192.0.2.53:53 says a record name is outside zone example.com"),
    ],
)
def test_refused_updates_name_the_option(rcode, key, expected):
    server = example_com()
    server.keyring = key
    server.update_rcode = rcode
    primary = primary_for(server, key=key)
    change = rfc2136.plan_change(name("example.com"), {name("t.example.com"): []}, {name("t.example.com"): ["1"]}, state="present")
    with pytest.raises(rfc2136.DnsError) as raised:
        primary.update(rfc2136.update_message(change, state="present", ttl=60, key=key))
    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "error, expected",
    [
        (dns.tsig.PeerBadSignature(), "key_name/key_secret rejected by the server 192.0.2.53:53 (BADSIG"),
        (dns.tsig.PeerBadKey(), "key_name/key_secret rejected by the server 192.0.2.53:53 (BADKEY"),
        (dns.tsig.PeerBadTime(), "key_name/key_secret: 192.0.2.53:53 rejects the time of the signature (BADTIME)"),
        (rfc2136.NoAnswer("no answer within 5 seconds"), "server: cannot reach 192.0.2.53:53: no answer within 5 seconds; check server and port"),
    ],
)
def test_key_and_reachability_failures_name_the_option(error, expected):
    server = example_com()
    server.error = error
    with pytest.raises(rfc2136.DnsError) as raised:
        primary_for(server).txt_values(name("_acme-challenge.example.com"))
    assert str(raised.value).startswith(expected)
    assert SECRET not in str(raised.value)


# Which name servers, and whether they serve the values


def test_default_nameservers_are_the_zones_ns_hosts_at_their_addresses():
    server = example_com()
    nameservers = primary_for(server).nameservers_of(name("example.com"), port=5353, resolve=lambda host, port: [])
    assert [str(nameserver) for nameserver in nameservers] == ["ns1.example.com (192.0.2.53:5353)", "ns2.example.com (192.0.2.54:5353)"]


def test_ns_hosts_the_server_cannot_resolve_use_this_hosts_resolver():
    server = example_com()
    server.zones[name("example.com")][(name("example.com"), dns.rdatatype.NS)] = ["ns.hoster.net."]
    resolved = []

    def resolve(host, port):
        resolved.append(host)
        return ["198.51.100.7"]

    (nameserver,) = primary_for(server).nameservers_of(name("example.com"), port=53, resolve=resolve)
    assert resolved == ["ns.hoster.net"] and nameserver.endpoint == "198.51.100.7:53"


def test_unresolvable_ns_host_asks_for_the_nameservers_option():
    server = example_com()
    server.zones[name("example.com")][(name("example.com"), dns.rdatatype.NS)] = ["ns.hoster.net."]
    with pytest.raises(rfc2136.DnsError, match="^nameservers: cannot find the address of ns.hoster.net"):
        primary_for(server).nameservers_of(name("example.com"), port=53, resolve=lambda host, port: [])


def test_given_nameservers_check_every_record():
    zones = {name("example.com"): {name("a.example.com"): ["1"]}, name("example.org"): {name("b.example.org"): ["2"]}}
    targets = rfc2136.propagation_targets(primary_for(example_com()), zones, nameservers=["192.0.2.1", "[2001:db8::1]:5353"], port=53)
    assert [(nameserver.endpoint, dict(wanted)) for nameserver, wanted in targets] == [
        ("192.0.2.1:53", {name("a.example.com"): ["1"], name("b.example.org"): ["2"]}),
        ("[2001:db8::1]:5353", {name("a.example.com"): ["1"], name("b.example.org"): ["2"]}),
    ]


def test_missing_at_names_what_a_server_lacks():
    secondary = example_com({"_acme-challenge.example.com": ["v1"]}, keyring=None)
    wanted = {name("_acme-challenge.example.com"): ["v1", "v2"], name("_acme-challenge.www.example.com"): ["v3"]}
    lacking = rfc2136.missing_at(SECONDARY, wanted, timeout=5, exchange_with=secondary)
    assert lacking == (
        "ns2.example.com (192.0.2.54:53) lacks _acme-challenge.example.com (1 of 2 values missing), _acme-challenge.www.example.com (1 of 1 values missing)"
    )


def test_missing_at_is_none_when_everything_is_served_and_asks_without_recursion():
    server = FakeNameServer({"example.com": {("_acme-challenge.example.com", "TXT"): ['"v1"', '"v2"']}}, keyring=None)
    assert rfc2136.missing_at(SECONDARY, {name("_acme-challenge.example.com"): ["v2", "v1"]}, timeout=5, exchange_with=server) is None
    (sent,) = server.sent
    assert not sent.message.flags & dns.flags.RD and not sent.message.had_tsig and not sent.tcp


@pytest.mark.parametrize(
    "error, rcode, expected",
    [
        (rfc2136.NoAnswer("Connection refused"), None, "ns2.example.com (192.0.2.54:53): Connection refused"),
        (None, dns.rcode.SERVFAIL, "ns2.example.com (192.0.2.54:53) answers SERVFAIL for _acme-challenge.example.com"),
    ],
)
def test_missing_at_reports_unusable_servers(error, rcode, expected):
    def answer(message, nameserver, *, timeout, tcp=False):
        if error is not None:
            raise error
        response = dns.message.make_response(message)
        response.set_rcode(rcode)
        return response

    assert rfc2136.missing_at(SECONDARY, {name("_acme-challenge.example.com"): ["v1"]}, timeout=5, exchange_with=answer) == expected


class Propagating:
    """Name servers that get the record after `delays[address]` checks (None: never)."""

    def __init__(self, delays: dict[str, int | None]) -> None:
        self.delays = delays
        self.asked: list[tuple[str, float]] = []

    def __call__(self, message, nameserver, *, timeout, tcp=False):
        self.asked.append((nameserver.address, timeout))
        response = dns.message.make_response(message)
        response.flags |= dns.flags.AA
        delay = self.delays[nameserver.address]
        if delay is not None and sum(1 for address, _timeout in self.asked if address == nameserver.address) > delay:
            response.answer.append(dns.rrset.from_text(message.question[0].name, 60, "IN", "TXT", '"v1"'))
        return response


TARGETS = [(PRIMARY, {name("_acme-challenge.example.com"): ["v1"]}), (SECONDARY, {name("_acme-challenge.example.com"): ["v1"]})]


def test_wait_returns_at_once_when_every_server_has_the_values():
    clock, servers = FakeClock(), Propagating({"192.0.2.53": 0, "192.0.2.54": 0})
    rfc2136.wait_for_propagation(TARGETS, timeout=120, query_timeout=10, sleep=clock.sleep, clock=clock, exchange_with=servers)
    assert clock.sleeps == [] and len(servers.asked) == 2


def test_wait_backs_off_and_stops_asking_servers_that_are_done():
    clock, servers = FakeClock(), Propagating({"192.0.2.53": 0, "192.0.2.54": 3})
    rfc2136.wait_for_propagation(TARGETS, timeout=120, query_timeout=10, sleep=clock.sleep, clock=clock, exchange_with=servers)
    assert len(clock.sleeps) == 3 and clock.sleeps == sorted(clock.sleeps), "three growing waits, no fixed sleep"
    assert [address for address, _timeout in servers.asked].count("192.0.2.53") == 1
    assert [address for address, _timeout in servers.asked].count("192.0.2.54") == 4


def test_wait_fails_at_the_deadline_naming_the_server_that_lacks_the_record():
    clock, servers = FakeClock(), Propagating({"192.0.2.53": 0, "192.0.2.54": None})
    with pytest.raises(rfc2136.DnsError) as raised:
        rfc2136.wait_for_propagation(TARGETS, timeout=30, query_timeout=10, sleep=clock.sleep, clock=clock, exchange_with=servers)
    message = str(raised.value)
    assert message.startswith(
        "propagation_timeout: after 30 seconds, not every name server serves the records: "
        "ns2.example.com (192.0.2.54:53) lacks _acme-challenge.example.com (1 of 1 values missing);"
    )
    assert "192.0.2.53" not in message
    assert clock.now - 1000.0 == pytest.approx(30)


def test_no_query_outlasts_the_deadline():
    clock, servers = FakeClock(), Propagating({"192.0.2.53": None, "192.0.2.54": None})
    with pytest.raises(rfc2136.DnsError):
        rfc2136.wait_for_propagation(TARGETS, timeout=3, query_timeout=10, sleep=clock.sleep, clock=clock, exchange_with=servers)
    assert servers.asked[0] == ("192.0.2.53", 3)
    assert max(timeout for _address, timeout in servers.asked) <= 3
