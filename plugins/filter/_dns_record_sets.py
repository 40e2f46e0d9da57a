# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _dns_record_sets
short_description: Role glue - the whole TXT record sets a replacing DNS provider sets, from the role's hand-over
description:
  - Private to the C(certforge.acme.acme_certificate) role's shipped DNS providers for services that set a TXT record
    set as a whole (nsupdate, Route53, Hetzner). Turns C(acme_certificate_dns_records) into one entry per record name
    with C(name) (no final dot), C(state) and C(values).
  - With O(state=present), each name gets the values it is handed (those of every host of the play). With
    O(state=absent), each name keeps what O(remaining) says it must still serve, or is deleted when that is nothing.
positional: state, remaining
options:
  _input:
    description: C(acme_certificate_dns_records), TXT record name -> values.
    type: dict
    required: true
  state:
    description: C(acme_certificate_dns_state), V(present) or V(absent).
    type: str
    required: true
  remaining:
    description: C(acme_certificate_dns_remaining), record name -> the values it must keep after O(state=absent).
    type: dict
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Set the TXT record sets
  community.general.nsupdate:
    server: 192.0.2.53
    record: "{{ record_set.name }}."
    type: TXT
    value: "{{ record_set['values'] }}"
    state: "{{ record_set.state }}"
  loop: "{{ acme_certificate_dns_records | certforge.acme._dns_record_sets(acme_certificate_dns_state, acme_certificate_dns_remaining) }}"
  loop_control:
    loop_var: record_set
"""

RETURN = r"""
_value:
  description: One entry per record name, C(name), C(state) (V(present) or V(absent)) and C(values) (empty when absent).
  type: list
  elements: dict
"""

import typing as t


def dns_record_sets(records: t.Mapping[str, t.Any], state: str, remaining: t.Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
    if state not in ("present", "absent"):
        raise ValueError(f"state must be present or absent, not {state!r}")
    sets = []
    for name, values in (records or {}).items():
        wanted = list(values) if state == "present" else list((remaining or {}).get(name) or [])
        sets.append({"name": str(name).rstrip("."), "state": "present" if wanted else "absent", "values": [str(value) for value in wanted]})
    return sets


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_dns_record_sets": dns_record_sets}
