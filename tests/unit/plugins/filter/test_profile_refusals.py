# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""profile_refusals: a profile the CA does not offer is refused per certificate, naming the variable and the CA's profiles."""

from __future__ import annotations

import typing as t

from ansible_collections.certforge.acme.plugins.filter._certificate_specs import certificate_specs
from ansible_collections.certforge.acme.plugins.filter._profile_refusals import profile_refusals

LETS_ENCRYPT = ["classic", "shortlived", "tlsserver"]


def needed(entries: list[dict[str, t.Any]], role_profile: str = "") -> list[dict[str, t.Any]]:
    """The role's records of the needed certificates: each completed entry under spec."""
    specs = certificate_specs(entries, {"profile": role_profile, "select_chain": []})
    return [{"name": spec["name"], "plan": {"needed": True}, "spec": spec} for spec in specs]


def test_offered_and_absent_profiles_are_ordered() -> None:
    decisions = needed([{"name": "www", "identifiers": ["www.example.com"]}, {"name": "ip", "identifiers": ["192.0.2.1"], "profile": "shortlived"}])
    assert profile_refusals(decisions, LETS_ENCRYPT) == {}
    assert profile_refusals(decisions[:1], []) == {}


def test_a_role_wide_profile_the_ca_does_not_offer_names_the_role_variable_and_the_offered_profiles() -> None:
    refusals = profile_refusals(needed([{"name": "www", "identifiers": ["www.example.com"]}], role_profile="6days"), LETS_ENCRYPT)
    assert refusals == {
        "www": "acme_certificate_profile: the CA offers no profile '6days'; set one it offers (classic, shortlived, tlsserver) or '' for its default"
    }


def test_an_entry_profile_names_the_entry_and_only_that_certificate_is_refused() -> None:
    decisions = needed(
        [
            {"name": "www", "identifiers": ["www.example.com"]},
            {"name": "api", "identifiers": ["api.example.com"], "profile": "tlsserver"},
            {"name": "ip", "identifiers": ["192.0.2.1"], "profile": "short-lived"},
        ],
        role_profile="classic",
    )
    refusals = profile_refusals(decisions, LETS_ENCRYPT)
    assert list(refusals) == ["ip"]
    assert refusals["ip"].startswith("acme_certificate_certificates[2].profile: the CA offers no profile 'short-lived';")


def test_a_ca_without_profiles_refuses_any_profile_in_one_line() -> None:
    refusals = profile_refusals(needed([{"name": "www", "identifiers": ["www.example.com"], "profile": "classic"}]), [])
    assert refusals == {
        "www": "acme_certificate_certificates[0].profile: the CA offers no certificate profiles (none in its directory); "
        "set acme_certificate_certificates[0].profile to '' to order without one"
    }


def test_an_entry_may_clear_the_role_wide_profile() -> None:
    decisions = needed([{"name": "www", "identifiers": ["www.example.com"], "profile": ""}], role_profile="tlsserver")
    assert decisions[0]["spec"]["profile"] == ""
    assert profile_refusals(decisions, []) == {}
