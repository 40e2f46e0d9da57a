# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Requested validity (notBefore/notAfter) must be RFC 3339 date-times before any newOrder is signed."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.timestamps import check_validity_period, parse_rfc3339

UTC = datetime.timezone.utc


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-12-01T00:00:00Z", datetime.datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01t10:30:00z", datetime.datetime(2026, 12, 1, 10, 30, tzinfo=UTC)),
        ("2026-12-01 12:00:00+02:00", datetime.datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01T00:00:00.123456789-01:30", datetime.datetime(2026, 12, 1, 1, 30, 0, 123456, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime.datetime(2017, 1, 1, tzinfo=UTC)),
    ],
)
def test_rfc3339_date_times_are_read_as_instants(text, instant):
    assert parse_rfc3339(text, option="not_before") == instant


@pytest.mark.parametrize("text", ["next tuesday", "2026-12-01", "2026-12-01T00:00:00", "1700000000", "2026-12-01T00:00Z"])
def test_anything_but_a_date_time_with_offset_is_refused_with_an_example(text):
    with pytest.raises(ConfigurationError, match=r"^not_before: .* is not an RFC 3339 date-time; write it as RFC 3339, for example 2026-12-01T00:00:00Z$"):
        parse_rfc3339(text, option="not_before")


@pytest.mark.parametrize("text", ["2026-13-45T00:00:00Z", "2026-02-30T00:00:00Z", "2026-12-01T25:00:00Z", "2026-12-01T00:00:00+24:00"])
def test_a_date_time_that_does_not_exist_is_refused(text):
    with pytest.raises(ConfigurationError, match=r"^not_after: .* is not a valid date-time \(.*\); write it as RFC 3339"):
        parse_rfc3339(text, option="not_after")


def test_validity_that_ends_before_it_starts_is_refused():
    with pytest.raises(ConfigurationError, match="^not_after: .* is not later than not_before"):
        check_validity_period("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z")


def test_validity_may_give_either_end_or_none():
    check_validity_period(None, None)
    check_validity_period("2026-12-01T00:00:00Z", None)
    check_validity_period(None, "2026-12-01T00:00:00Z")
    check_validity_period("2026-12-01T00:00:00Z", "2026-12-01T00:00:01Z")
