# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _dns_persist_plan
short_description: Role glue - the dns-persist-01 records the acme_certificate role keeps published, with warnings about their end
description:
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
    Playbooks use P(certforge.acme.dns_persist_record#filter) instead.
  - Takes the C(dns-persist-01) challenges of the host's orders (identifier -> the entry of
    RV(certforge.acme.acme_order#module:challenge_data)) and returns the TXT records to keep published (record name -> values),
    as a DNS provider's task file takes them.
  - Warns (and says so in RV(_value.warnings)) when O(persist_until) is less than O(warn_days) away, since the next renewal
    would then find the record expired; when O(persist_until) has passed, warns and plans no record, as the CA must refuse it
    for any new validation.
positional: account_uri
options:
  _input:
    description: Identifier -> the C(dns-persist-01) entry of RV(certforge.acme.acme_order#module:challenge_data).
    type: dict
    required: true
  account_uri:
    description: The account URL.
    type: str
    required: true
  wildcard:
    description: Add C(policy=wildcard) to every record, not only to those of wildcard identifiers.
    type: bool
    default: false
  persist_until:
    description: UNIX seconds or an RFC 3339 date-time after which the CA must not use the records; empty for none.
    type: raw
  issuer_domain_name:
    description: The issuer domain name to use when the CA offers it; empty for the CA's first.
    type: str
  warn_days:
    description: Warn when O(persist_until) is less than this many days away.
    type: int
    default: 60
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Work out the records
  ansible.builtin.set_fact:
    persist: "{{ {'www.example.com': order.challenge_data['www.example.com']['dns-persist-01']} | certforge.acme._dns_persist_plan(account_uri) }}"
  # persist.records == {"_validation-persist.www.example.com": ["ca.example; accounturi=https://ca.example/acct/1"]}
"""

RETURN = r"""
_value:
  description: What to publish, and why anything is missing.
  type: dict
  contains:
    records:
      description: TXT record name -> values, for RV(certforge.acme.acme_dns_rfc2136#module:records).
      type: dict
    warnings:
      description: The warnings given.
      type: list
      elements: str
"""

import datetime
import typing as t

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.certforge.acme.plugins.module_utils._acme.dns_persist import persist_record, persist_until_seconds, record_name
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.timestamps import parse_rfc3339


def _seconds(value: t.Any) -> int:
    """persistUntil as UNIX seconds, whether or not it is in the future."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return int(value)
    return int(parse_rfc3339(str(value), option="acme_certificate_dns_persist_until").timestamp())


def dns_persist_plan(
    challenges: dict[str, t.Any],
    account_uri: str,
    wildcard: bool = False,
    persist_until: t.Any = None,
    issuer_domain_name: str | None = None,
    warn_days: int = 60,
    now: datetime.datetime | None = None,
) -> dict[str, t.Any]:
    current = now or datetime.datetime.now(datetime.timezone.utc)
    warnings: list[str] = []
    records: dict[str, list[str]] = {}
    try:
        if persist_until not in (None, ""):
            ends = _seconds(persist_until)
            end_text = datetime.datetime.fromtimestamp(ends, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            left = ends - int(current.timestamp())
            if left <= 0:
                warnings.append(
                    f"acme_certificate_dns_persist_until ({end_text}) has passed: the CA must refuse the dns-persist-01 records for "
                    f"{', '.join(sorted(challenges))}, so none is published; set a later time (the records already published stay)"
                )
                challenges = {}
            elif left < int(warn_days) * 86400:
                warnings.append(
                    f"acme_certificate_dns_persist_until ({end_text}) is less than {warn_days} days away: the next renewal of "
                    f"{', '.join(sorted(challenges))} will find the records expired; set a later time"
                )
        # A wildcard and its base name share one record: policy=wildcard covers both, so only that one is published.
        wildcard_records = {record_name(identifier) for identifier in challenges if str(identifier).startswith("*.")}
        for identifier, entry in sorted(challenges.items()):
            if not isinstance(entry, dict):
                raise ConfigurationError(f"{identifier}: expected the dns-persist-01 entry of acme_order's challenge_data")
            if entry.get("problem"):
                raise ConfigurationError(f"{identifier}: {entry['problem']}")
            try:
                record = persist_record(
                    entry,
                    identifier=identifier,
                    account_uri=account_uri,
                    wildcard=True if bool(wildcard) or record_name(identifier) in wildcard_records else None,
                    persist_until=persist_until_seconds(persist_until, now=current) if persist_until not in (None, "") else None,
                    issuer_domain_name=issuer_domain_name or None,
                    now=current,
                )
            except ConfigurationError as error:
                raise ConfigurationError(f"{identifier}: {error}") from None
            values = records.setdefault(record["record"], [])
            if record["record_value"] not in values:
                values.append(record["record_value"])
    except ConfigurationError as error:
        raise AnsibleFilterError(f"dns-persist-01: {error}") from None
    for warning in warnings:
        Display().warning(warning)
    return {"records": records, "warnings": warnings}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_dns_persist_plan": dns_persist_plan}
