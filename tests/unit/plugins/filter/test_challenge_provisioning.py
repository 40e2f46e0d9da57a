# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""challenge_provisioning: one module run per place, whatever the certificates of a host share."""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certforge.acme.plugins.filter._challenge_provisioning import challenge_provisioning
from ansible_collections.certforge.acme.plugins.filter._provisioning_merge import provisioning_merge
from ansible_collections.certforge.acme.plugins.filter._state_paths import state_paths


def http01(token: str) -> dict[str, str]:
    return {"resource": f".well-known/acme-challenge/{token}", "resource_value": f"{token}.thumbprint"}


def dns01(name: str, value: str) -> dict[str, str]:
    return {"record": f"_acme-challenge.{name}", "record_value": value}


def tls_alpn01(name: str, certificate: str) -> dict[str, str]:
    return {"resource": name, "certificate": certificate, "private_key": "KEY"}


def order(name: str, challenge_data: dict[str, t.Any], **spec: t.Any) -> dict[str, t.Any]:
    """One record of the role after its order step: the entry as `spec`, acme_order's result as `order`."""
    return {"name": name, "spec": {"name": name, "challenge": "http-01", **spec}, "order": {"challenge_data": challenge_data}}


def test_http01_files_of_all_certificates_go_to_each_web_server_in_one_group():
    orders = [
        order("www", {"www.example.com": {"http-01": http01("a")}}),
        order("shop", {"shop.example.com": {"http-01": http01("b")}}, webroot_hosts=["web1", "web2"]),
    ]
    groups = challenge_provisioning(orders, "web1")["http-01"]
    assert [(group["host"], sorted(group["challenge_data"])) for group in groups] == [
        ("web1", ["shop.example.com", "www.example.com"]),
        ("web2", ["shop.example.com"]),
    ]
    assert groups[0]["webroot"] == ""  # each web server's own acme_certificate_webroot


def test_a_name_two_certificates_validate_at_once_gets_a_second_group():
    # An RSA and an ECDSA certificate for the same name: two tokens, one dictionary key each.
    orders = [order("rsa", {"example.com": {"http-01": http01("a")}}), order("ec", {"example.com": {"http-01": http01("b")}})]
    groups = challenge_provisioning(orders, "web1")["http-01"]
    assert [group["challenge_data"]["example.com"]["http-01"]["resource_value"] for group in groups] == ["a.thumbprint", "b.thumbprint"]


def test_an_entry_with_its_own_webroot_is_grouped_apart():
    orders = [
        order("www", {"www.example.com": {"http-01": http01("a")}}),
        order("app", {"app.example.com": {"http-01": http01("b")}}, webroot="/srv/app"),
    ]
    assert [group["webroot"] for group in challenge_provisioning(orders, "web1")["http-01"]] == ["", "/srv/app"]


def test_dns01_values_for_one_record_are_merged():
    orders = [
        order("wildcard", {"*.example.com": {"dns-01": dns01("example.com", "v1")}, "example.com": {"dns-01": dns01("example.com", "v2")}}, challenge="dns-01"),
        order("mail", {"mail.example.com": {"dns-01": dns01("mail.example.com", "v3")}}, challenge="dns-01"),
    ]
    assert challenge_provisioning(orders, "mx1")["dns-01"] == {
        "_acme-challenge.example.com": ["v1", "v2"],
        "_acme-challenge.mail.example.com": ["v3"],
    }


def test_challenge_overrides_choose_per_identifier():
    data = {"www.example.com": {"http-01": http01("a"), "dns-01": dns01("www.example.com", "v")}}
    provisioning = challenge_provisioning([order("www", data, challenge_overrides={"www.example.com": "dns-01"})], "web1")
    assert (provisioning["http-01"], provisioning["dns-01"]) == ([], {"_acme-challenge.www.example.com": ["v"]})


def test_one_responder_cannot_present_two_certificates_for_one_name():
    orders = [
        order("rsa", {"api.example.com": {"tls-alpn-01": tls_alpn01("api.example.com", "CERT-1")}}, challenge="tls-alpn-01"),
        order("ec", {"api.example.com": {"tls-alpn-01": tls_alpn01("api.example.com", "CERT-2")}}, challenge="tls-alpn-01"),
    ]
    with pytest.raises(AnsibleFilterError, match="two certificates of api1 need tls-alpn-01 for api.example.com"):
        challenge_provisioning(orders, "api1")
    assert len(challenge_provisioning(orders[:1], "api1")["tls-alpn-01"]) == 1


def test_overrides_are_matched_as_acme_challenge_matches_them():
    from ansible_collections.certforge.acme.plugins.filter.challenges_by_type import challenges_by_type

    def offered(name, value):
        return {"http-01": {"resource": f"r-{value}", "resource_value": value}, "dns-01": {"record": f"_acme-challenge.{name}", "record_value": value}}

    order = {"challenge_data": {"www.example.com": offered("www.example.com", "d"), "xn--bcher-kva.example": offered("xn--bcher-kva.example", "e")}}
    split = challenges_by_type(order, "http-01", {"WWW.example.com.": "dns-01", "Bücher.example": "dns-01"})
    assert split["http-01"] == {}
    assert split["dns-01"] == {"_acme-challenge.www.example.com": ["d"], "_acme-challenge.xn--bcher-kva.example": ["e"]}


def test_each_web_servers_own_webroot_is_filled_in_where_the_entry_sets_none():
    orders = [
        order("www", {"www.example.com": {"http-01": http01("a")}}, webroot_hosts=["web1", "web2"]),
        order("app", {"app.example.com": {"http-01": http01("b")}}, webroot="/srv/app"),
    ]
    webroots = {
        "web1": {"webroot": "/var/www/web1", "webroot_owner": "www-data", "webroot_group": ""},
        "web2": {"webroot": "/var/www/web2", "webroot_owner": "", "webroot_group": "nginx"},
    }
    places = [
        {key: group[key] for key in ("host", "webroot", "webroot_owner", "webroot_group")}
        for group in challenge_provisioning(orders, "web1", webroots)["http-01"]
    ]
    assert places == [
        {"host": "web1", "webroot": "/var/www/web1", "webroot_owner": "www-data", "webroot_group": ""},
        {"host": "web2", "webroot": "/var/www/web2", "webroot_owner": "", "webroot_group": "nginx"},
        {"host": "web1", "webroot": "/srv/app", "webroot_owner": "www-data", "webroot_group": ""},
    ]


def test_records_of_several_certificates_merge_like_their_orders():
    orders = [
        order(
            "rsa",
            {"example.com": {"http-01": http01("a")}, "mail.example.com": {"dns-01": dns01("mail.example.com", "v1")}},
            challenge_overrides={"mail.example.com": "dns-01"},
        ),
        order(
            "ec",
            {"example.com": {"http-01": http01("b")}, "mail.example.com": {"dns-01": dns01("mail.example.com", "v2")}},
            challenge_overrides={"mail.example.com": "dns-01"},
        ),
    ]
    records = [challenge_provisioning([item], "web1") for item in orders]
    assert provisioning_merge(records) == challenge_provisioning(orders, "web1")


def test_state_paths_name_one_file_per_host_and_certificate():
    assert state_paths(["www", "mail"], "/srv/acme", "web1") == {
        "orders": {"www": "/srv/acme/orders/web1-www.uri", "mail": "/srv/acme/orders/web1-mail.uri"},
        "provisioned": {"www": "/srv/acme/provisioned/web1-www.json", "mail": "/srv/acme/provisioned/web1-mail.json"},
        "locks": {"www": "/srv/acme/locks/web1-www.lock", "mail": "/srv/acme/locks/web1-mail.lock"},
    }
