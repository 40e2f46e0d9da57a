# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a host needs a new certificate, and why: the decision operators make by hand."""

from __future__ import annotations

import datetime
import hashlib
import typing as t

from .certificates import CertificateInfo
from .identifiers import Identifier

# Let's Encrypt's advice: renew when a third of the lifetime is left (60 of 90 days used, 4 of 6 days).
DEFAULT_REMAINING_FRACTION = 1 / 3
# Each certificate starts renewing up to this fraction of its lifetime earlier (4.5 days of 90, 2.25 of 45,
# 7.2 hours of 6 days), at a point its serial number fixes: certificates issued together do not all renew
# together, and every run agrees on the moment. Documented in acme_certificate_plan and the role's README.
SPREAD_FRACTION = 1 / 20


class Decision(t.NamedTuple):
    action: str  # "new", "renew" or "none"
    reason: str

    @property
    def needed(self) -> bool:
        return self.action != "none"


def certificate_identifiers(info: CertificateInfo) -> set[Identifier]:
    return {Identifier("dns", name.lower()) for name in info.dns_names} | {Identifier("ip", ip) for ip in info.ip_addresses}


def spread_share(info: CertificateInfo) -> float:
    """This certificate's place in the spread, in [0, 1), from its serial number."""
    digest = hashlib.sha256(info.serial_hex.lower().lstrip("0").encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def renewal_time(info: CertificateInfo, *, renew_before_days: int | None) -> datetime.datetime:
    """When renewal is due: exactly `renew_before_days` before expiry, or when a third of the lifetime is
    left, moved earlier by the certificate's share of the spread."""
    if renew_before_days is not None:
        return info.not_after - datetime.timedelta(days=renew_before_days)
    lifetime = info.not_after - info.not_before
    return info.not_after - lifetime * (DEFAULT_REMAINING_FRACTION + SPREAD_FRACTION * spread_share(info))


def _amount(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def duration(span: datetime.timedelta) -> str:
    """A span as a person reads it: whole days from two days on, hours below, minutes below two hours."""
    seconds = max(int(span.total_seconds()), 0)
    if seconds >= 2 * 86400:
        return _amount(seconds // 86400, "day")
    if seconds >= 2 * 3600:
        return _amount(seconds // 3600, "hour")
    return _amount(seconds // 60, "minute")


def _names(identifiers: t.Iterable[Identifier]) -> str:
    return ", ".join(sorted(identifier.value for identifier in identifiers))


def decide(
    *,
    info: CertificateInfo | None,
    problem: str | None,
    wanted: t.Sequence[Identifier],
    wanted_key_type: str,
    current_key_type: str | None,
    key_matches: bool,
    now: datetime.datetime,
    renew_before_days: int | None,
    force: bool,
) -> Decision:
    """The first reason that makes a certificate needed, in the order an operator checks them."""
    if info is None:
        return Decision("new", problem or "there is no certificate yet")
    if force:
        return Decision("renew", "renewal is forced")
    missing, extra = set(wanted) - certificate_identifiers(info), certificate_identifiers(info) - set(wanted)
    if missing or extra:
        return Decision("renew", f"the names differ (missing: {_names(missing) or 'none'}; not wanted: {_names(extra) or 'none'})")
    if current_key_type is None:
        return Decision("renew", "the private key is missing or unreadable")
    if current_key_type != wanted_key_type:
        return Decision("renew", f"the key is {current_key_type}, {wanted_key_type} is wanted")
    if not key_matches:
        return Decision("renew", "the certificate does not belong to the private key")
    if now >= info.not_after:
        return Decision("renew", f"the certificate expired on {info.not_after:%Y-%m-%d %H:%M} UTC")
    due = renewal_time(info, renew_before_days=renew_before_days)
    left = duration(info.not_after - now)
    if now >= due:
        rule = _amount(renew_before_days, "day") if renew_before_days is not None else "a third of its lifetime (and its share of the spread)"
        return Decision("renew", f"it expires in {left}, within {rule}")
    return Decision("none", f"valid until {info.not_after:%Y-%m-%d %H:%M} UTC ({left} left); renewal due from {due:%Y-%m-%d %H:%M} UTC")
