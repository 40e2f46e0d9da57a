# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record of the order in flight, in `order_uri_file`: its URL, then what it was asked with.

The first line is the order's URL, as the file has always held it (files written before hold only
that line and are read as they are). The second line is JSON with what the order was asked with
(identifiers, profile, notBefore/notAfter: RFC 8555 section 7.4 and the profiles extension) and
the URL it belongs to, so a hand-edited file whose lines disagree is read as holding no record.
"""

from __future__ import annotations

import json
import os
import typing as t
from urllib.parse import urlparse

from .errors import ConfigurationError
from .files import read_file, write_file_atomically
from .identifiers import Identifier, identifiers_from_acme
from .timestamps import parse_rfc3339


class OrderRequest(t.NamedTuple):
    """What a newOrder asks for, beyond the account."""

    identifiers: t.Sequence[Identifier]
    profile: str | None = None
    not_before: str | None = None
    not_after: str | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OrderRequest) and not self.differences(other) and set(self.identifiers) == set(other.identifiers)

    def __hash__(self) -> int:
        return hash((frozenset(self.identifiers), self.profile))

    def as_record(self) -> dict[str, t.Any]:
        return {
            "identifiers": sorted((identifier.as_acme() for identifier in self.identifiers), key=lambda item: (item["type"], item["value"])),
            "profile": self.profile,
            "not_before": self.not_before,
            "not_after": self.not_after,
        }

    def differences(self, asked: OrderRequest) -> list[str]:
        """The parameters (other than identifiers) in which `asked` differs from this request; times compare as instants."""
        found = []
        if (self.profile or None) != (asked.profile or None):
            found.append(f"profile {asked.profile or 'none'} (this run asks {self.profile or 'none'})")
        for name in ("not_before", "not_after"):
            if not _same_instant(getattr(self, name), getattr(asked, name)):
                found.append(f"{name} {getattr(asked, name) or 'none'} (this run asks {getattr(self, name) or 'none'})")
        return found

    def echo_differences(self, order_data: t.Mapping[str, t.Any]) -> list[str]:
        """Differences from what the order object itself says it was asked with, where it says so."""
        echoed = OrderRequest(
            self.identifiers,
            profile=_text(order_data.get("profile")) if "profile" in order_data else self.profile,
            not_before=_text(order_data.get("notBefore")) if "notBefore" in order_data else self.not_before,
            not_after=_text(order_data.get("notAfter")) if "notAfter" in order_data else self.not_after,
        )
        return self.differences(echoed)


def _text(value: t.Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _same_instant(first: str | None, second: str | None) -> bool:
    if not first or not second:
        return not first and not second
    try:
        return parse_rfc3339(first, option="order") == parse_rfc3339(second, option="order")
    except ConfigurationError:
        return first == second


def read_order_record(path: str | None) -> tuple[str | None, OrderRequest | None]:
    """The order URL in `path` and what it was asked with, when the file records it.

    A file whose first line is not an https:// URL is refused: nothing is signed for it.
    """
    if not path or not os.path.exists(path):
        return None, None
    lines = read_file(path, option="order_uri_file").decode("utf-8", "replace").strip().splitlines()
    order_uri = lines[0].strip() if lines else None
    if not order_uri:
        return None, None
    parsed = urlparse(order_uri)
    if parsed.scheme != "https" or not parsed.netloc or any(char.isspace() or not char.isprintable() for char in order_uri):
        raise ConfigurationError(f"{path} holds {order_uri[:80]!r}, not the https:// URL of an order; remove the file to order anew", option="order_uri_file")
    return order_uri, _parse_request(lines[1] if len(lines) > 1 else None, order_uri)


def _parse_request(line: str | None, order_uri: str) -> OrderRequest | None:
    if not line:
        return None  # a file of an earlier version: only the URL
    try:
        data = json.loads(line)
        if not isinstance(data, dict) or data.get("order_uri") != order_uri:
            return None
        return OrderRequest(
            identifiers_from_acme(data["identifiers"]),
            profile=_text(data.get("profile")),
            not_before=_text(data.get("not_before")),
            not_after=_text(data.get("not_after")),
        )
    except (ValueError, KeyError, TypeError, ConfigurationError):
        return None  # unreadable: treated like a file of an earlier version


def write_order_record(path: str, order_uri: str, request: OrderRequest) -> None:
    """Write the URL and what was asked, atomically, mode 0600, creating the directory (0700)."""
    record = json.dumps({"order_uri": order_uri, **request.as_record()}, sort_keys=True)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        write_file_atomically(path, f"{order_uri}\n{record}\n".encode("utf-8"), mode=0o600)
    except OSError as error:
        raise ConfigurationError(f"cannot write {path}: {error.strerror}", option="order_uri_file") from None


def remove_order_record(path: str) -> None:
    """Forget the order once finished."""
    if os.path.exists(path):
        os.unlink(path)
