# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RFC 3339 date-times, the only time format of ACME objects (RFC 8555 section 7.1)."""

from __future__ import annotations

import datetime
import re

from .errors import ConfigurationError

# RFC 3339 section 5.6 `date-time`: a full date, a full time and an offset (Z or +hh:mm); the
# separator may be a space (section 5.6, NOTE). Python's fromisoformat takes more, and not "Z" before 3.11.
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
EXAMPLE = "2026-12-01T00:00:00Z"


def parse_rfc3339(value: str, *, option: str) -> datetime.datetime:
    """The timezone-aware instant `value` names, or ConfigurationError naming `option`."""
    match = _DATE_TIME.fullmatch(value.strip())
    problem = "is not an RFC 3339 date-time"
    if match:
        year, month, day, hour, minute, second, fraction, zulu, sign, offset_hours, offset_minutes = match.groups()
        try:
            offset = datetime.timedelta(hours=int(offset_hours or 0), minutes=int(offset_minutes or 0))
            zone = datetime.timezone.utc if zulu else datetime.timezone(-offset if sign == "-" else offset)
            microseconds = int((fraction or "0")[:6].ljust(6, "0"))
            # RFC 3339 allows a leap second (:60); Python cannot hold one, so it reads as the next instant
            leap = int(second) == 60
            parsed = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), 59 if leap else int(second), microseconds, tzinfo=zone)
            return parsed + datetime.timedelta(seconds=1) if leap else parsed
        except ValueError as error:
            problem = f"is not a valid date-time ({error})"
    raise ConfigurationError(f"{value!r} {problem}; write it as RFC 3339, for example {EXAMPLE}", option=option)


def check_validity_period(not_before: str | None, not_after: str | None) -> None:
    """Refuse a requested validity that no CA could honour (RFC 8555 section 7.4 notBefore/notAfter)."""
    start = parse_rfc3339(not_before, option="not_before") if not_before else None
    end = parse_rfc3339(not_after, option="not_after") if not_after else None
    if start is not None and end is not None and end <= start:
        raise ConfigurationError(f"{not_after} is not later than not_before ({not_before}); swap or correct them", option="not_after")
