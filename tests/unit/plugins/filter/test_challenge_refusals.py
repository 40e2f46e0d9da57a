# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_challenge_refusals: a challenge type the CA does not offer is refused per certificate, naming the variable that chose it."""

from __future__ import annotations

import typing as t

from ansible_collections.certforge.acme.plugins.filter._certificate_specs import certificate_specs
from ansible_collections.certforge.acme.plugins.filter._challenge_refusals import challenge_refusals

OFFERED = {"http-01": {}, "dns-01": {}}


def records(entries: list[dict[str, t.Any]], challenge: str = "http-01") -> list[dict[str, t.Any]]:
    """The role's records after ordering, where the CA offers http-01 and dns-01 for every name."""
    specs = certificate_specs(entries, {"challenge": challenge, "select_chain": []})
    return [{"name": spec["name"], "spec": spec, "order": {"challenge_data": {name: OFFERED for name in spec["identifiers"]}}} for spec in specs]


def test_offered_types_refuse_nothing() -> None:
    assert challenge_refusals(records([{"name": "www", "identifiers": ["www.example.com"]}], challenge="dns-01")) == {}


def test_the_role_wide_type_is_refused_naming_its_variable() -> None:
    refusals = challenge_refusals(records([{"name": "www", "identifiers": ["www.example.com"]}], challenge="tls-alpn-01"))
    assert refusals == {
        "www": "acme_certificate_challenge: the CA offers no tls-alpn-01 challenge for www.example.com (it offers dns-01, http-01); choose one of those"
    }


def test_an_entrys_own_type_and_override_are_refused_naming_the_entry() -> None:
    refusals = challenge_refusals(
        records(
            [
                {"name": "www", "identifiers": ["www.example.com"], "challenge": "dns-persist-01"},
                {"name": "api", "identifiers": ["api.example.com", "b.example.com"], "challenge_overrides": {"B.example.com.": "tls-alpn-01"}},
            ]
        )
    )
    assert refusals["www"].startswith("acme_certificate_certificates[0].challenge: the CA offers no dns-persist-01 challenge for www.example.com")
    assert refusals["api"].startswith("acme_certificate_certificates[1].challenge_overrides: the CA offers no tls-alpn-01 challenge for b.example.com")
