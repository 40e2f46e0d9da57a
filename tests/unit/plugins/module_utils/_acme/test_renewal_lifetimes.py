# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Renewal of certificates that live hours to days (6-day `shortlived`, 45-day `tlsserver`), on fixed clocks.

Without an explicit renew_before_days a certificate renews when a third of its lifetime is left, moved
earlier by its own share of a spread so that a fleet issued together does not renew together.
"""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.certificates import CertificateInfo
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import Identifier
from ansible_collections.certforge.acme.plugins.module_utils._acme.renewal import decide, renewal_time

UTC = datetime.timezone.utc
ISSUED = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WANTED = [Identifier("dns", "www.example.com")]
# As documented (acme_certificate_plan, the role's README): renewal starts up to a twentieth of the lifetime earlier.
SPREAD_FRACTION = 1 / 20
SERIALS = [f"{number:032x}" for number in range(1, 41)]


def info(*, days: float, serial: str = "0a1b2c3d") -> CertificateInfo:
    return CertificateInfo(
        dns_names=["www.example.com"],
        ip_addresses=[],
        not_before=ISSUED,
        not_after=ISSUED + datetime.timedelta(days=days),
        serial_hex=serial,
        subject="",
        issuer="",
        issuer_common_name=None,
        authority_key_identifier=None,
        subject_key_identifier=None,
        ari_id=None,
    )


def decision_at(certificate: CertificateInfo, now: datetime.datetime, *, renew_before_days: int | None = None):
    return decide(
        info=certificate,
        problem=None,
        wanted=WANTED,
        wanted_key_type="ec256",
        current_key_type="ec256",
        key_matches=True,
        now=now,
        renew_before_days=renew_before_days,
        force=False,
    )


@pytest.mark.parametrize("days", [6, 45, 90])
def test_each_certificate_renews_between_a_third_left_and_its_share_of_the_spread_earlier(days):
    lifetime = datetime.timedelta(days=days)
    third_left = ISSUED + lifetime * 2 / 3
    earliest = third_left - lifetime * SPREAD_FRACTION
    times = {renewal_time(info(days=days, serial=serial), renew_before_days=None) for serial in SERIALS}
    assert all(earliest <= moment <= third_left for moment in times)
    assert len(times) == len(SERIALS), "certificates issued together renew at different moments"
    spread = max(times) - min(times)
    assert spread > lifetime * SPREAD_FRACTION / 2, "the moments use the spread, not a corner of it"


def test_the_moment_is_the_same_on_every_run_for_one_certificate():
    certificate = info(days=6, serial="00ff")
    assert renewal_time(certificate, renew_before_days=None) == renewal_time(info(days=6, serial="00ff"), renew_before_days=None)


def test_a_six_day_certificate_is_due_by_its_own_moment_and_not_before():
    certificate = info(days=6)
    due = renewal_time(certificate, renew_before_days=None)
    assert not decision_at(certificate, due - datetime.timedelta(seconds=1)).needed
    assert decision_at(certificate, due).needed


def test_an_explicit_renew_before_days_is_exact_and_has_no_spread():
    certificate = info(days=45)
    assert renewal_time(certificate, renew_before_days=10) == certificate.not_after - datetime.timedelta(days=10)


def test_hours_are_reported_where_days_would_read_zero_days():
    certificate = info(days=6)
    renewing = decision_at(certificate, certificate.not_after - datetime.timedelta(hours=21, minutes=30))
    assert renewing.needed and renewing.reason.startswith("it expires in 21 hours"), renewing.reason
    assert "0 days" not in renewing.reason


def test_a_fine_one_day_certificate_says_its_hours_left_and_the_minute_renewal_is_due():
    certificate = info(days=1)
    fine = decision_at(certificate, ISSUED + datetime.timedelta(hours=12))
    assert not fine.needed
    assert "(12 hours left)" in fine.reason, fine.reason
    due = renewal_time(certificate, renew_before_days=None)
    assert f"renewal due from {due:%Y-%m-%d %H:%M} UTC" in fine.reason


def test_long_lifetimes_still_read_in_days():
    certificate = info(days=90)
    assert "(80 days left)" in decision_at(certificate, ISSUED + datetime.timedelta(days=10)).reason
