# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _challenge_provisioning
short_description: Role glue - what to provision for all orders of one host, grouped so that each place is set up once
description:
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
  - Takes the certificate records of one host after the role's order step (each with its entry as C(spec) and the
    result of M(certforge.acme.acme_order) as C(order)), splits each order's challenges by the type chosen
    for each identifier (see P(certforge.acme.challenges_by_type#filter)), and groups the work so that one
    module run sets up each place.
  - C(http-01) becomes one group per web server (the host itself, or each host of the entry's C(webroot_hosts))
    and document root; an identifier that two certificates of the host validate at once goes to a second group.
  - C(dns-01) becomes one set of TXT records (record name -> all values), and C(tls-alpn-01) one list of
    challenge certificates for one responder.
  - C(dns-persist-01) becomes identifier -> the challenge's entry, for P(certforge.acme._dns_persist_plan#filter); these
    records are kept, so they are no part of what is recorded for removal.
positional: host, webroots
options:
  _input:
    description: The role's certificate records with their C(spec) and C(order) (the result of M(certforge.acme.acme_order)).
    type: list
    elements: dict
    required: true
  host:
    description: The inventory name of the host the certificates belong to (the web server when an entry lists no C(webroot_hosts)).
    type: str
    required: true
  webroots:
    description:
      - Web server -> its own C(webroot), C(webroot_owner) and C(webroot_group), used where an entry sets none, so the
        result (and the role's record of it) says where the files really go.
      - Without it, these fields are V('') where the entry sets none.
    type: dict
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Work out what to provision
  ansible.builtin.set_fact:
    provisioning: "{{ records | certforge.acme._challenge_provisioning(inventory_hostname) }}"
  # provisioning['http-01']: [{host, webroot, webroot_owner, webroot_group, challenge_data}, ...]
  # provisioning['dns-01']: {"_acme-challenge.example.com": [value, ...]}
  # provisioning['tls-alpn-01']: [{resource, certificate, private_key}, ...]
"""

RETURN = r"""
_value:
  description:
    - C(http-01) (list of C(host), C(webroot), C(webroot_owner), C(webroot_group) as the entry sets them or V(''),
      and C(challenge_data) for M(certforge.acme.acme_http01_files)), C(dns-01) (record name -> values) and
      C(tls-alpn-01) (list for M(certforge.acme.acme_tls_alpn_responder)) and C(dns-persist-01) (identifier -> challenge entry).
  type: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.certforge.acme.plugins.filter.challenges_by_type import challenges_by_type


def add_http01(groups: list[dict[str, t.Any]], place: dict[str, str], challenge_data: dict[str, t.Any]) -> None:
    for identifier, data in challenge_data.items():
        for group in groups:
            same_place = all(group[key] == value for key, value in place.items())
            if same_place and identifier not in group["challenge_data"]:
                group["challenge_data"][identifier] = data
                break
        else:
            groups.append({**place, "challenge_data": {identifier: data}})


PLACE_FIELDS = ("webroot", "webroot_owner", "webroot_group")


def challenge_provisioning(orders: list[dict[str, t.Any]], host: str, webroots: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    http01: list[dict[str, t.Any]] = []
    dns01: dict[str, list[str]] = {}
    tls_alpn01: dict[str, dict[str, str]] = {}
    dns_persist01: dict[str, t.Any] = {}
    for order in orders:
        # A record of the role: its entry as spec, acme_order's result as order.
        spec, order = order["spec"], order["order"]
        by_type = challenges_by_type(order, spec.get("challenge") or "http-01", spec.get("challenge_overrides"))
        if by_type["http-01"]:
            for web_server in spec.get("webroot_hosts") or [host]:
                own = (webroots or {}).get(web_server) or {}
                place = {"host": web_server, **{key: spec.get(key) or own.get(key) or "" for key in PLACE_FIELDS}}
                add_http01(http01, place, by_type["http-01"])
        for record, values in by_type["dns-01"].items():
            dns01.setdefault(record, []).extend(value for value in values if value not in dns01.get(record, []))
        dns_persist01.update(by_type["dns-persist-01"])
        for entry in by_type["tls-alpn-01"]:
            # One responder answers for the host, and it can present only one certificate per name.
            other = tls_alpn01.setdefault(entry["resource"], entry)
            if other["certificate"] != entry["certificate"]:
                raise AnsibleFilterError(
                    f"two certificates of {host} need tls-alpn-01 for {entry['resource']} at the same time; "
                    "choose another challenge type for one of them (challenge_overrides)"
                )
    return {"http-01": http01, "dns-01": dns01, "tls-alpn-01": list(tls_alpn01.values()), "dns-persist-01": dns_persist01}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_challenge_provisioning": challenge_provisioning}
