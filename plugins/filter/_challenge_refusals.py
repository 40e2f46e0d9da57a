# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _challenge_refusals
short_description: Role glue - the ordered certificates whose chosen challenge type the CA does not offer
description:
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
  - Only the CA's authorizations tell which challenge types it offers for a name. For each record of the role after its
    order step (C(spec) and C(order)), returns one line when an identifier's chosen challenge type is not among them,
    naming the variable that chose it (C(acme_certificate_challenge), or the entry's C(challenge) or C(challenge_overrides))
    and the types the CA offers, so that the role skips that certificate and fails with this line once the others are done.
options:
  _input:
    description: The role's certificate records with their C(spec) and C(order) (the result of M(certforge.acme.acme_order)).
    type: list
    elements: dict
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: The certificates that cannot be validated as asked
  ansible.builtin.set_fact:
    refused: "{{ records | certforge.acme._challenge_refusals }}"
  # refused == {'www': "acme_certificate_challenge: the CA offers no dns-persist-01 challenge for www.example.com (it offers dns-01, http-01); ..."}
"""

RETURN = r"""
_value:
  description: Certificate name -> the line saying why it cannot be validated; empty when the CA offers every chosen type.
  type: dict
"""

import typing as t

from ansible_collections.certforge.acme.plugins.filter.challenges_by_type import normalized_identifier


def challenge_refusal(record: dict[str, t.Any]) -> str | None:
    """Why the CA cannot validate this record's order as its entry asks; None when it can."""
    spec = record["spec"]
    overrides = {normalized_identifier(name): kind for name, kind in (spec.get("challenge_overrides") or {}).items()}
    for identifier, offered in sorted((record["order"].get("challenge_data") or {}).items()):
        overridden = normalized_identifier(identifier) in overrides
        kind = overrides[normalized_identifier(identifier)] if overridden else spec.get("challenge") or "http-01"
        if kind not in offered:
            variable = spec.get("overrides_variable") if overridden else spec.get("challenge_variable")
            return (
                f"{variable or 'acme_certificate_challenge'}: the CA offers no {kind} challenge for {identifier} "
                f"(it offers {', '.join(sorted(offered)) or 'none'}); choose one of those"
            )
    return None


def challenge_refusals(records: list[dict[str, t.Any]]) -> dict[str, str]:
    refusals = {}
    for record in records or []:
        refusal = challenge_refusal(record)
        if refusal:
            refusals[record["name"]] = refusal
    return refusals


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_challenge_refusals": challenge_refusals}
