# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dns_persist_record
short_description: The persistent TXT record that authorizes an ACME account for a name (dns-persist-01)
version_added: 0.1.0
description:
  - Computes the name (V(_validation-persist.NAME)) and the value of the TXT record of the C(dns-persist-01)
    challenge (draft-ietf-acme-dns-persist) for one identifier, from the CA's issuer domain names and the account URL.
  - "The value follows the draft: C(ISSUER; accounturi=ACCOUNT_URL), then C(; policy=wildcard) when O(wildcard) is true,
    then C(; persistUntil=SECONDS) when O(persist_until) is set."
  - Refuses what the draft forbids, naming the option at fault, so that a record the CA could never accept is not
    published - a challenge with no or more than ten issuer domain names, an issuer domain name that is not a
    lower-case A-label domain name without a final dot, an account URL that is not C(https://) or holds spaces, C(;)
    or non-ASCII characters, a O(persist_until) that is not in the future, and a wildcard identifier without O(wildcard).
  - "What the record grants: whoever holds the account's key can get certificates for the name (with O(wildcard),
    also for all its subdomains and wildcard certificates) from this CA, without any further DNS change, until the
    record is deleted or O(persist_until) passes. See the collection's C(docs/dns-persist-01.md)."
positional: identifier
options:
  _input:
    description:
      - "The CA's issuer domain names: the C(dns-persist-01) entry of RV(certforge.acme.acme_order#module:challenge_data)
        for the identifier (its C(issuer-domain-names) are used), a list of issuer domain names, or one issuer domain name."
    type: raw
    required: true
  identifier:
    description: The name to authorize, for example V(www.example.com); a wildcard V(*.example.com) is authorized at V(example.com).
    type: str
    required: true
  account_uri:
    description: The account URL, as RV(certforge.acme.acme_account#module:account_uri) returned it.
    type: str
    required: true
  wildcard:
    description:
      - Add C(policy=wildcard), which lets the record also authorize every subdomain of the name and wildcard certificates.
      - Defaults to whether O(identifier) is a wildcard; V(false) with a wildcard identifier is refused.
    type: bool
  persist_until:
    description:
      - The time after which the CA must not validate with this record any more, as UNIX seconds, an RFC 3339 date-time
        (V(2027-06-01T00:00:00Z)) or a datetime (one without a time zone is taken as UTC).
      - Must be in the future. Without it the record does not expire.
    type: raw
  issuer_domain_name:
    description:
      - Which of the CA's issuer domain names to use; it must be among them.
      - Defaults to the first the CA lists (the draft gives the order no meaning).
    type: str
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Compute the record for a name from the order's challenge
  ansible.builtin.set_fact:
    persist: >-
      {{ cert_order.challenge_data['www.example.com']['dns-persist-01']
         | certforge.acme.dns_persist_record('www.example.com', account_uri=account.account_uri) }}
  # persist == {"record": "_validation-persist.www.example.com",
  #             "record_value": "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/123",
  #             "issuer_domain_name": "letsencrypt.org"}

- name: Authorize the account for example.com, its subdomains and wildcard, until mid 2027, before any order
  certforge.acme.acme_dns_rfc2136:
    server: ns1.example.com
    key_name: acme-update
    key_secret: "{{ vault_acme_update_secret }}"
    records: "{{ {persist.record: [persist.record_value]} }}"
  vars:
    persist: >-
      {{ 'letsencrypt.org' | certforge.acme.dns_persist_record('example.com', account_uri=account.account_uri,
                                                              wildcard=true, persist_until='2027-06-01T00:00:00Z') }}
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The record to publish.
  type: dict
  contains:
    record:
      description: The TXT record name, V(_validation-persist.NAME), without a final dot.
      type: str
    record_value:
      description: The TXT value, one string without quotes.
      type: str
    issuer_domain_name:
      description: The issuer domain name the value names.
      type: str
"""

import datetime
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.certforge.acme.plugins.module_utils._acme.dns_persist import persist_record
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError


def dns_persist_record(
    issuer_domain_names: t.Any,
    identifier: str,
    account_uri: str | None = None,
    wildcard: bool | None = None,
    persist_until: t.Any = None,
    issuer_domain_name: str | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, str]:
    if not isinstance(issuer_domain_names, (str, list, tuple, dict)):
        raise AnsibleFilterError(
            f"dns_persist_record: expected a dns-persist-01 challenge, a list of issuer domain names or one name, not {type(issuer_domain_names).__name__}"
        )
    try:
        return persist_record(
            issuer_domain_names,
            identifier=str(identifier),
            account_uri=t.cast(str, account_uri),
            wildcard=wildcard,
            persist_until=persist_until,
            issuer_domain_name=issuer_domain_name or None,
            now=now,
        )
    except ConfigurationError as error:
        raise AnsibleFilterError(f"dns_persist_record: {error}") from None


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"dns_persist_record": dns_persist_record}
