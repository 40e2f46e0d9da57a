# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _provisioning_merge
short_description: Role glue - several provisioning records as one, to remove what they name in one go
description:
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
  - Takes results of P(certforge.acme._challenge_provisioning#filter) - for example the records of what killed runs of the
    C(certforge.acme.acme_certificate) role provisioned - and merges them the way that filter groups one host's orders,
    so that each place is cleaned with one module run.
options:
  _input:
    description: Results of P(certforge.acme._challenge_provisioning#filter).
    type: list
    elements: dict
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: What the records of killed runs name, as one
  ansible.builtin.set_fact:
    leftovers: "{{ records | certforge.acme._provisioning_merge }}"
"""

RETURN = r"""
_value:
  description:
    - C(http-01) (list of groups), C(dns-01) (record name -> values) and C(tls-alpn-01) (list),
      as P(certforge.acme._challenge_provisioning#filter) gives them.
  type: dict
"""

import typing as t

from ansible_collections.certforge.acme.plugins.filter._challenge_provisioning import add_http01


def provisioning_merge(records: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    http01: list[dict[str, t.Any]] = []
    dns01: dict[str, list[str]] = {}
    tls_alpn01: list[t.Any] = []
    dns_persist01: dict[str, t.Any] = {}
    for record in records:
        for group in record.get("http-01") or []:
            add_http01(http01, {key: value for key, value in group.items() if key != "challenge_data"}, group.get("challenge_data") or {})
        for name, values in (record.get("dns-01") or {}).items():
            dns01.setdefault(name, []).extend(value for value in values if value not in dns01.get(name, []))
        tls_alpn01.extend(record.get("tls-alpn-01") or [])
        dns_persist01.update(record.get("dns-persist-01") or {})
    # dns-persist-01 records are kept for good: carried along, never removed by the role's clean-up.
    return {"http-01": http01, "dns-01": dns01, "tls-alpn-01": tls_alpn01, "dns-persist-01": dns_persist01}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_provisioning_merge": provisioning_merge}
