# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The persistent TXT record of dns-persist-01 (draft-ietf-acme-dns-persist, drafts 00 to 02).

The record `_validation-persist.<name>` holds an RFC 8659 section 4 issue-value: one of the issuer
domain names the CA lists in the challenge, then `accounturi=` (RFC 8657 section 3) and optionally
`policy=wildcard` (the name's subdomains and wildcard certificates too) and `persistUntil=` (UNIX
seconds after which the CA must not use the record for a new validation). The client answers the
challenge like any other, with an empty JSON object (RFC 8555 section 7.5.1).

Everything here refuses what the draft or RFC 8659's grammar forbids, so that a record that could
never validate is never published.
"""

from __future__ import annotations

import datetime
import re
import typing as t
import urllib.parse

from .errors import ConfigurationError
from .identifiers import Identifier
from .timestamps import parse_rfc3339

CHALLENGE_TYPE = "dns-persist-01"
RECORD_LABEL = "_validation-persist"
# The draft: a client must reject a challenge with no issuer domain name or more than ten.
MAX_ISSUER_DOMAIN_NAMES = 10
MAX_DOMAIN_NAME_OCTETS = 253

# RFC 8659 section 4: labels of letters and digits with inner hyphens; a tag is one such label.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ISSUER_DOMAIN_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.ASCII)
# RFC 8659 section 4: a parameter value is printable ASCII except ";" (and no space).
_PARAMETER_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]+", re.ASCII)


def record_name(identifier: Identifier | str) -> str:
    """`_validation-persist.<name>`; a wildcard is authorized at its base name (with policy=wildcard)."""
    name = identifier.base_name if isinstance(identifier, Identifier) else str(identifier)
    if name.startswith("*."):
        name = name[2:]
    return f"{RECORD_LABEL}.{name.rstrip('.').lower()}"


def _issuer_name_problem(name: t.Any) -> str | None:
    """Why `name` is not an issuer domain name as the draft normalizes them, or None."""
    if not isinstance(name, str) or not name:
        return f"{name!r} is not a domain name"
    if name.endswith("."):
        return f"{name!r} ends with a dot; issuer domain names are written without it"
    if not name.isascii():
        return f"{name!r} is not in A-label form; write the punycode (xn--...) form"
    if name != name.lower():
        return f"{name!r} has upper-case letters; issuer domain names are lower case"
    if len(name) > MAX_DOMAIN_NAME_OCTETS:
        return f"{name[:40]!r}... is longer than {MAX_DOMAIN_NAME_OCTETS} octets"
    if not _ISSUER_DOMAIN_NAME.fullmatch(name) or any(len(label) > 63 for label in name.split(".")):
        return f"{name!r} is not a domain name (letters, digits and inner hyphens, labels of at most 63, separated by dots)"
    return None


def check_issuer_domain_name(name: t.Any, *, option: str = "issuer_domain_name") -> str:
    problem = _issuer_name_problem(name)
    if problem:
        raise ConfigurationError(problem, option=option)
    return t.cast(str, name)


def challenge_issuer_domain_names(challenge: t.Mapping[str, t.Any]) -> list[str]:
    """The challenge's `issuer-domain-names`, or ConfigurationError when the draft says to reject the challenge."""
    names = challenge.get("issuer-domain-names")
    where = f"the CA's dns-persist-01 challenge {challenge.get('url') or ''}".rstrip()
    if not isinstance(names, list) or not names:
        raise ConfigurationError(f"{where} lists no issuer-domain-names; the draft says to reject it, ask the CA")
    if len(names) > MAX_ISSUER_DOMAIN_NAMES:
        raise ConfigurationError(f"{where} lists {len(names)} issuer-domain-names, more than the draft's {MAX_ISSUER_DOMAIN_NAMES}; ask the CA")
    for name in names:
        problem = _issuer_name_problem(name)
        if problem:
            raise ConfigurationError(f"{where} is malformed: issuer-domain-names: {problem}")
    return list(names)


def choose_issuer_domain_name(offered: t.Sequence[str], preferred: str | None = None) -> str:
    """The preferred name when the CA offers it, else the CA's first (the draft gives the order no meaning)."""
    if not preferred:
        return offered[0]
    check_issuer_domain_name(preferred)
    if preferred not in offered:
        raise ConfigurationError(
            f"{preferred!r} is not among the CA's issuer-domain-names ({', '.join(offered)}); pick one of those", option="issuer_domain_name"
        )
    return preferred


def check_account_uri(account_uri: t.Any) -> str:
    """An account URL fit for `accounturi=`: an absolute https URL, printable ASCII without spaces or ';'."""
    if not isinstance(account_uri, str) or not account_uri:
        raise ConfigurationError("is empty; give the account URL (acme_account's account_uri)", option="account_uri")
    if not _PARAMETER_VALUE.fullmatch(account_uri):
        raise ConfigurationError(
            f"{account_uri!r} has spaces, ';' or characters outside printable ASCII, which a record value cannot hold; "
            "give the account URL as the CA returned it",
            option="account_uri",
        )
    parsed = urllib.parse.urlsplit(account_uri)
    if parsed.scheme != "https" or not parsed.netloc:
        raise ConfigurationError(f"{account_uri!r} is not an https:// URL; give the account URL (acme_account's account_uri)", option="account_uri")
    return account_uri


def persist_until_seconds(value: t.Any, *, now: datetime.datetime | None = None) -> int:
    """`persistUntil` as the draft writes it: whole UNIX seconds (UTC), refused when not in the future.

    Takes seconds (int or digits), an RFC 3339 string, or a datetime (one without a time zone is UTC).
    """
    option = "persist_until"
    if isinstance(value, bool):
        raise ConfigurationError(f"{value!r} is not a time; give UNIX seconds, an RFC 3339 date-time or a datetime", option=option)
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        seconds = int(moment.timestamp())
    elif isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value.strip())
    elif isinstance(value, str):
        seconds = int(parse_rfc3339(value, option=option).timestamp())
    else:
        raise ConfigurationError(f"{value!r} is not a time; give UNIX seconds, an RFC 3339 date-time or a datetime", option=option)
    current = now or datetime.datetime.now(datetime.timezone.utc)
    if seconds <= int(current.timestamp()):
        when = datetime.datetime.fromtimestamp(max(seconds, 0), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise ConfigurationError(f"{when} ({seconds}) is not in the future; a CA must not validate with such a record, give a later time", option=option)
    return seconds


def record_value(
    *,
    issuer_domain_name: str,
    account_uri: str,
    wildcard: bool = False,
    persist_until: t.Any = None,
    now: datetime.datetime | None = None,
) -> str:
    """The issue-value: `issuer; accounturi=URI[; policy=wildcard][; persistUntil=SECONDS]`."""
    parts = [check_issuer_domain_name(issuer_domain_name), f"accounturi={check_account_uri(account_uri)}"]
    if wildcard:
        parts.append("policy=wildcard")
    if persist_until is not None and persist_until != "":
        parts.append(f"persistUntil={persist_until_seconds(persist_until, now=now)}")
    return "; ".join(parts)


def persist_record(
    challenge: t.Mapping[str, t.Any] | t.Sequence[str] | str,
    *,
    identifier: str,
    account_uri: str,
    wildcard: bool | None = None,
    persist_until: t.Any = None,
    issuer_domain_name: str | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, str]:
    """Name and value of the record for `identifier`, from a challenge object, a list of issuer names or one name.

    `wildcard` defaults to whether `identifier` is a wildcard; a wildcard without policy=wildcard is refused,
    as the CA could not validate it.
    """
    if isinstance(challenge, str):
        offered = [check_issuer_domain_name(challenge, option="issuer domain names")]
    elif isinstance(challenge, t.Mapping):
        offered = challenge_issuer_domain_names(challenge)
    else:
        offered = challenge_issuer_domain_names({"issuer-domain-names": list(challenge)})
    is_wildcard = str(identifier).startswith("*.")
    if wildcard is None:
        wildcard = is_wildcard
    elif is_wildcard and not wildcard:
        raise ConfigurationError(f"{identifier} is a wildcard, which only a record with policy=wildcard authorizes; set wildcard to true", option="wildcard")
    issuer = choose_issuer_domain_name(offered, issuer_domain_name)
    return {
        "record": record_name(str(identifier)),
        "record_value": record_value(issuer_domain_name=issuer, account_uri=account_uri, wildcard=bool(wildcard), persist_until=persist_until, now=now),
        "issuer_domain_name": issuer,
    }


def challenge_data(raw: t.Mapping[str, t.Any], identifier: Identifier, account_uri: str | None) -> dict[str, t.Any]:
    """acme_order's entry for a dns-persist-01 challenge: the CA's fields as sent, and the record to publish.

    The record is the default one (the CA's first issuer name, policy=wildcard for a wildcard, no persistUntil);
    a challenge the draft says to reject, or an unknown account, gives `problem` instead of a record.
    """
    data: dict[str, t.Any] = dict(raw)
    data.setdefault("token", None)
    data["record"] = record_name(identifier)
    try:
        if not account_uri:
            raise ConfigurationError("the account URL is not known")
        data.update(persist_record(raw, identifier=identifier.value, account_uri=account_uri))
        data["account_uri"] = account_uri
    except ConfigurationError as error:
        data["problem"] = str(error)
    return data
