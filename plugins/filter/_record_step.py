# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _record_step
short_description: Role glue - add one step's results to the certificate records it looped over
description:
  - Private to the C(certforge.acme.acme_certificate) role. Takes the C(results) of a task that looped over the
    certificate records of P(certforge.acme._certificate_records#filter) (with C(loop_control.loop_var)) and returns
    those records, each with the result of its item under O(step), so the next step reads C(record.order.order_uri)
    rather than a chain of C(item.item).
  - With a module result that carries a C(certificates) list with a C(name) each (one run for all certificates),
    O(_input) may be that result and O(records) the records it was for.
positional: step, records
options:
  _input:
    description: The C(results) of the loop, or a module result with a C(certificates) list.
    type: raw
    required: true
  step:
    description: The name the step's result gets in each record (C(order), C(validation), C(issued), C(deployed)).
    type: str
    required: true
  records:
    description: With a module result as O(_input), the records it was run for.
    type: list
    elements: dict
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: The records with their orders
  ansible.builtin.set_fact:
    ordered: "{{ orders.results | certforge.acme._record_step('order') }}"
"""

RETURN = r"""
_value:
  description: The records, each with its step's result added.
  type: list
  elements: dict
"""

import typing as t

# What Ansible adds to each item of a loop's results; the records carry their own name.
_LOOP_KEYS = frozenset({"item", "ansible_loop_var", "ansible_index_var", "ansible_loop", "_ansible_item_label", "invocation"})


def record_step(results: t.Any, step: str, records: list[dict[str, t.Any]] | None = None) -> list[dict[str, t.Any]]:
    if isinstance(results, dict):
        by_name = {entry.get("name"): entry for entry in results.get("certificates") or []}
        failed = {} if by_name else {"failed": bool(results.get("failed")), "msg": results.get("msg", "")}
        return [{**record, step: by_name.get(record["name"], failed)} for record in records or []]
    stepped = []
    for result in results or []:
        loop_var = result.get("ansible_loop_var", "item")
        record = result.get(loop_var) or {}
        own = {key: value for key, value in result.items() if key not in _LOOP_KEYS and key != loop_var}
        stepped.append({**record, step: own})
    return stepped


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_record_step": record_step}
