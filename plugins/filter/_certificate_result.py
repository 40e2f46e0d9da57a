# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _certificate_result
short_description: Role glue - the acme_certificate role's per-certificate result
description:
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
  - Joins the decision of M(certforge.acme.acme_certificate_plan) for one certificate with what the
    role did about it, into the flat record the role exports as C(acme_certificate_results).
positional: issued
options:
  _input:
    description:
      - One record of the role (C(name), C(spec) - the completed entry - and C(plan), the decision of
        M(certforge.acme.acme_certificate_plan)).
    type: dict
    required: true
  issued:
    description: Certificate name -> what the issuing tasks recorded (C(changed), C(serial), C(not_after), C(issuer)).
    type: dict
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: One record per certificate
  ansible.builtin.set_fact:
    results: "{{ records | map('certforge.acme._certificate_result', issued) | list }}"
"""

RETURN = r"""
_value:
  description: C(name), C(action), C(reason), C(changed), C(cert_path), C(fullchain_path), C(identifiers), C(serial), C(not_after), C(issuer).
  type: dict
"""

import typing as t


def certificate_result(plan: dict[str, t.Any], issued: dict[str, dict[str, t.Any]]) -> dict[str, t.Any]:
    spec: dict[str, t.Any] = plan["spec"]
    plan = plan["plan"]
    current = plan.get("certificate") or {}
    name = spec.get("name")
    done = issued.get(name, {}) if name is not None else {}
    return {
        "name": name,
        "action": plan.get("action"),
        "reason": plan.get("reason"),
        "changed": bool(done.get("changed", False)),
        "identifiers": spec.get("identifiers"),
        "cert_path": spec.get("cert_path"),
        "fullchain_path": spec.get("fullchain_path"),
        "key_path": spec.get("key_path"),
        "serial": done.get("serial", current.get("serial")),
        "not_after": done.get("not_after", current.get("not_after")),
        "issuer": done.get("issuer", current.get("issuer")),
    }


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_certificate_result": certificate_result}
