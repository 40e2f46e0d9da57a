# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The renewal decision, reason by reason, in the order an operator checks them."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.certificates import CertificateInfo
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import Identifier
from ansible_collections.certforge.acme.plugins.module_utils._acme.renewal import decide

UTC = datetime.timezone.utc
ISSUED = datetime.datetime(2026, 1, 1, tzinfo=UTC)
WANTED = [Identifier("dns", "www.example.com"), Identifier("ip", "192.0.2.1")]


def info(days: int = 90, names=("www.example.com",), ips=("192.0.2.1",)) -> CertificateInfo:
    return CertificateInfo(
        dns_names=list(names),
        ip_addresses=list(ips),
        not_before=ISSUED,
        not_after=ISSUED + datetime.timedelta(days=days),
        serial_hex="1",
        subject="",
        issuer="",
        issuer_common_name=None,
        authority_key_identifier=None,
        subject_key_identifier=None,
        ari_id=None,
    )


def decision(*, certificate=None, day=10, key_type="ec256", matches=True, renew_before_days=None, force=False, problem=None):
    return decide(
        info=certificate if certificate is not None or problem else info(),
        problem=problem,
        wanted=WANTED,
        wanted_key_type="ec256",
        current_key_type=key_type,
        key_matches=matches,
        now=ISSUED + datetime.timedelta(days=day),
        renew_before_days=renew_before_days,
        force=force,
    )


def test_no_certificate_is_new_with_the_reason_given():
    result = decide(
        info=None,
        problem="there is no certificate at /x",
        wanted=WANTED,
        wanted_key_type="ec256",
        current_key_type=None,
        key_matches=False,
        now=ISSUED,
        renew_before_days=None,
        force=False,
    )
    assert (result.action, result.reason, result.needed) == ("new", "there is no certificate at /x", True)


def test_a_fresh_certificate_is_fine():
    result = decision(day=10)
    assert result.action == "none" and not result.needed and "80 days left" in result.reason


# Due by day 60 at the latest; up to 4.5 days (the spread, a twentieth of 90) earlier for some certificates.
@pytest.mark.parametrize("day, needed", [(55, False), (60, True), (89, True)])
def test_renewal_is_due_when_a_third_of_the_lifetime_is_left(day, needed):
    assert decision(day=day).needed is needed


def test_a_fixed_number_of_days_replaces_the_third_of_the_lifetime():
    assert not decision(day=70, renew_before_days=15).needed
    assert "within 15 days" in decision(day=76, renew_before_days=15).reason


def test_expired_certificates_are_renewed():
    assert "expired" in decision(day=91).reason


def test_other_names_are_renewed_and_named():
    result = decision(certificate=info(names=("old.example.com",)))
    assert result.action == "renew"
    assert "missing: www.example.com" in result.reason and "not wanted: old.example.com" in result.reason


def test_names_compare_without_case():
    assert not decision(certificate=info(names=("WWW.Example.COM",))).needed


def test_other_key_type_missing_key_and_mismatch_are_renewed():
    assert "rsa2048" in decision(key_type="rsa2048").reason
    assert "missing" in decision(key_type=None).reason
    assert "does not belong" in decision(matches=False).reason


def test_force_wins_over_a_fine_certificate():
    assert decision(force=True).reason == "renewal is forced"
