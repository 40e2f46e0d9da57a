# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Order identifiers: DNS names (RFC 8555 section 9.7.7) and IP addresses (RFC 8738)."""

from __future__ import annotations

import ipaddress
import re
import typing as t

from .errors import ConfigurationError

try:
    import idna

    HAS_IDNA = True
except ImportError:  # requests depends on idna, but fall back to Python's IDNA 2003 codec
    HAS_IDNA = False

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class Identifier(t.NamedTuple):
    type: str  # "dns" or "ip"
    value: str

    def as_acme(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}

    @property
    def is_wildcard(self) -> bool:
        return self.type == "dns" and self.value.startswith("*.")

    @property
    def base_name(self) -> str:
        """The name an authorization is for: wildcards drop their `*.` (section 7.1.4)."""
        return self.value[2:] if self.is_wildcard else self.value


def _a_label(name: str, *, option: str) -> str:
    try:
        if HAS_IDNA:
            return idna.encode(name, uts46=True).decode("ascii")
        return name.encode("idna").decode("ascii")
    except (UnicodeError, ValueError) as exc:
        raise ConfigurationError(f"{name!r} is not a valid domain name ({exc})", option=option) from None


def normalize_dns_name(name: str, *, option: str = "identifiers") -> str:
    """Lower case, no trailing dot, A-labels for IDNs, `*.` kept for wildcards."""
    text = name.strip().rstrip(".").lower()
    wildcard = text.startswith("*.")
    base = text[2:] if wildcard else text
    if not base.isascii():
        base = _a_label(base, option=option)
    labels = base.split(".")
    # Single-label names are left to the CA: public CAs refuse them, internal ones may issue for them.
    if not all(_LABEL.match(label) for label in labels) or len(base) > 253 or (wildcard and len(labels) < 2):
        raise ConfigurationError(f"{name!r} is not a valid domain name (use names like www.example.com or *.example.com)", option=option)
    return f"*.{base}" if wildcard else base


def parse_identifier(item: t.Any, *, option: str = "identifiers") -> Identifier:
    """A string (typed automatically) or a `{type, value}` dict, normalised."""
    if isinstance(item, dict):
        id_type, value = str(item.get("type", "")).lower(), item.get("value")
        if id_type not in ("dns", "ip") or not isinstance(value, str):
            raise ConfigurationError(f"{item!r} must be a name, an IP address, or a dict with type (dns or ip) and value", option=option)
    elif isinstance(item, str):
        id_type, value = "", item
    else:
        raise ConfigurationError(f"{item!r} is neither a name nor an IP address", option=option)
    if id_type in ("", "ip"):
        try:
            return Identifier("ip", str(ipaddress.ip_address(value.strip().strip("[]"))))
        except ValueError:
            if id_type == "ip":
                raise ConfigurationError(f"{value!r} is not an IP address", option=option) from None
    return Identifier("dns", normalize_dns_name(value, option=option))


def parse_identifiers(items: t.Sequence[t.Any], *, option: str = "identifiers") -> list[Identifier]:
    """Normalised identifiers without duplicates, in the order given."""
    if not items:
        raise ConfigurationError("list at least one domain name or IP address", option=option)
    result: list[Identifier] = []
    for item in items:
        identifier = parse_identifier(item, option=option)
        if identifier not in result:
            result.append(identifier)
    return result


def identifiers_from_acme(items: t.Sequence[dict[str, t.Any]]) -> list[Identifier]:
    """Identifiers as a CA returns them, normalised the same way for comparison."""
    return [parse_identifier({"type": item.get("type"), "value": item.get("value")}) for item in items]


def reverse_name(ip: str) -> str:
    """The reverse-mapping name of an IP address, used as TLS SNI for tls-alpn-01 (RFC 8738 section 6)."""
    return ipaddress.ip_address(ip).reverse_pointer
