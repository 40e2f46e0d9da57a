# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a host needs a new certificate, and why: the decision operators make by hand."""

from __future__ import annotations

import datetime
import typing as t

from .certificates import CertificateInfo
from .identifiers import Identifier

# Let's Encrypt's advice: renew when a third of the lifetime is left (60 of 90 days used).
DEFAULT_REMAINING_FRACTION = 1 / 3


class Decision(t.NamedTuple):
    action: str  # "new", "renew" or "none"
    reason: str

    @property
    def needed(self) -> bool:
        return self.action != "none"


def certificate_identifiers(info: CertificateInfo) -> set[Identifier]:
    return {Identifier("dns", name.lower()) for name in info.dns_names} | {Identifier("ip", ip) for ip in info.ip_addresses}


def renewal_time(info: CertificateInfo, *, renew_before_days: int | None) -> datetime.datetime:
    """When renewal is due: a fixed number of days before expiry, or a third of the lifetime before."""
    if renew_before_days is not None:
        return info.not_after - datetime.timedelta(days=renew_before_days)
    lifetime = info.not_after - info.not_before
    return info.not_after - lifetime * DEFAULT_REMAINING_FRACTION


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
    days_left = (info.not_after - now).days
    if now >= due:
        rule = f"{renew_before_days} days" if renew_before_days is not None else "a third of its lifetime"
        return Decision("renew", f"it expires in {days_left} days, within {rule}")
    return Decision("none", f"valid until {info.not_after:%Y-%m-%d} ({days_left} days left); renewal due from {due:%Y-%m-%d}")
