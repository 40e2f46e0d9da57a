# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: challenges_by_type
short_description: Split an order's challenge data by the challenge type chosen for each identifier
version_added: 0.1.0
description:
  - Takes the result of M(certforge.acme.acme_order) and the challenge choice (one type for all, with
    per-identifier overrides, as M(certforge.acme.acme_challenge) takes them) and returns what to
    provision per type, in the shapes the provisioning modules take.
positional: challenge, overrides
options:
  _input:
    description: The registered result of M(certforge.acme.acme_order).
    type: dict
    required: true
  challenge:
    description: The challenge type for identifiers without an override.
    type: str
    required: true
  overrides:
    description: Identifier -> challenge type.
    type: dict
    default: {}
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Split the work
  ansible.builtin.set_fact:
    provisioning: "{{ cert_order | certforge.acme.challenges_by_type('http-01', {'*.example.com': 'dns-01'}) }}"
  # provisioning['http-01']: challenge_data for acme_http01_files
  # provisioning['dns-01']: TXT record name -> values
  # provisioning['tls-alpn-01']: list of {resource, certificate, private_key}
  # provisioning['dns-persist-01']: identifier -> the challenge's entry (see certforge.acme._dns_persist_plan)
"""

RETURN = r"""
_value:
  description:
    - C(http-01) (identifier -> challenge data), C(dns-01) (record -> values), C(tls-alpn-01) (list)
      and C(dns-persist-01) (identifier -> challenge data).
  type: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifier


def normalized_identifier(name: t.Any) -> str:
    """The identifier as acme_order and acme_challenge see it (A-labels, no trailing dot, canonical IPs)."""
    try:
        return parse_identifier(str(name), option="challenge_overrides").value
    except ConfigurationError as error:
        raise AnsibleFilterError(str(error)) from None


def challenges_by_type(order: dict[str, t.Any], challenge: str, overrides: dict[str, str] | None = None) -> dict[str, t.Any]:
    chosen = {normalized_identifier(name): kind for name, kind in (overrides or {}).items()}
    result: dict[str, t.Any] = {"http-01": {}, "dns-01": {}, "tls-alpn-01": [], "dns-persist-01": {}}
    for identifier, offered in (order.get("challenge_data") or {}).items():
        kind = chosen.get(normalized_identifier(identifier), challenge)
        data = offered.get(kind)
        if data is None:
            raise AnsibleFilterError(
                f"the CA offers no {kind} challenge for {identifier} (it offers {', '.join(sorted(offered)) or 'none'}); choose another challenge type for it"
            )
        if kind == "http-01":
            result["http-01"][identifier] = {"http-01": data}
        elif kind == "dns-01":
            result["dns-01"].setdefault(data["record"], []).append(data["record_value"])
        elif kind == "dns-persist-01":
            result["dns-persist-01"][identifier] = data
        else:
            result["tls-alpn-01"].append({key: data[key] for key in ("resource", "certificate", "private_key")})
    return result


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"challenges_by_type": challenges_by_type}
