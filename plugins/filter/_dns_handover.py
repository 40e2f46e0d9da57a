# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _dns_handover
short_description: Role glue - what one host hands the DNS provider, so that each record name is handed once for the play
description:
  - Private to the C(certforge.acme.acme_certificate) role. Of the dns-01 records (TXT record name -> values) of every
    host of the play, returns those that O(current) hands to the provider task file (the names it leads), each with the
    values of every host. Providers that can only replace a whole record set (Route53 with C(overwrite), Cloudflare)
    then never erase another host's value.
  - The leader of a name is the first host (in the order of O(_input)) that has records at that name and is at this step -
    with O(state=present), hosts that have not published yet; with O(state=absent), hosts whose validation step ran and
    that have not removed their records yet. In a linear play all hosts are at the same step, so each name is handed
    once; with C(strategy=free) a name may be handed again by a later host, with the values known then.
  - With O(state=present), the values of every host that is not validated yet. With O(state=absent), the values of the
    validated hosts that have not removed theirs, less any value a host that is not validated yet still needs, and in
    C(remaining) what each name must keep.
positional: state, current
options:
  _input:
    description:
      - One entry per host with dns-01 records, in the play's order, each with C(host), C(records) and the booleans
        C(published) (its publishing step ran), C(validated) (its validation step ran) and C(removed) (its removal step ran).
    type: list
    elements: dict
    required: true
  state:
    description: V(present) or V(absent).
    type: str
    required: true
  current:
    description: The host that hands over.
    type: str
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Publish the records this host leads, with the values of every host
  ansible.builtin.include_tasks: dns-provider.yml
  vars:
    acme_certificate_dns_records: "{{ (play_dns | certforge.acme._dns_handover('present', inventory_hostname)).records }}"
"""

RETURN = r"""
_value:
  description:
    - C(records) (record name -> values to add or to delete) and C(remaining) (with O(state=absent), record name ->
      the values it must still serve afterwards; empty lists when nothing stays).
  type: dict
"""

import typing as t

Records = t.Dict[str, t.List[str]]


def _by_name(records: t.Mapping[str, t.Any]) -> Records:
    merged: Records = {}
    for name, values in (records or {}).items():
        known = merged.setdefault(str(name).rstrip("."), [])
        known.extend(str(value) for value in ([values] if isinstance(values, str) else values or []) if str(value) not in known)
    return merged


def _at_step(host: dict[str, t.Any], state: str) -> bool:
    if state == "present":
        return not host.get("published") and not host.get("validated")
    return bool(host.get("validated")) and not host.get("removed")


def dns_handover(hosts: list[dict[str, t.Any]], state: str, current: str) -> dict[str, Records]:
    if state not in ("present", "absent"):
        raise ValueError(f"state must be present or absent, not {state!r}")
    entries = [{**host, "records": _by_name(host.get("records") or {})} for host in hosts or []]
    leaders: dict[str, str] = {}
    for host in entries:
        if _at_step(host, state):
            for name in host["records"]:
                leaders.setdefault(name, str(host.get("host")))
    led = [name for name, leader in leaders.items() if leader == current]

    def values(selected: t.Iterable[dict[str, t.Any]], name: str) -> list[str]:
        found: list[str] = []
        for host in selected:
            found.extend(value for value in host["records"].get(name, []) if value not in found)
        return found

    waiting = [host for host in entries if not host.get("validated")]
    if state == "present":
        return {"records": {name: values(waiting, name) for name in led}, "remaining": {}}
    done = [host for host in entries if _at_step(host, "absent")]
    records = {}
    remaining = {}
    for name in led:
        needed = values(waiting, name)
        going = [value for value in values(done, name) if value not in needed]
        if going:
            records[name] = going
            remaining[name] = needed
    return {"records": records, "remaining": remaining}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_dns_handover": dns_handover}
