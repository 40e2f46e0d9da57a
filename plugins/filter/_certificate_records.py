# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _certificate_records
short_description: Role glue - one named record per certificate of a host, from its plan
description:
  - Private to the C(certforge.acme.acme_certificate) role. Joins the completed entries of the host's certificates
    with what M(certforge.acme.acme_certificate_plan) decided about each (its RV(certforge.acme.acme_certificate_plan#module:certificates)),
    by name, into one record per certificate - C(name), C(spec) (the entry) and C(plan) (the decision) - that later
    steps of the role add their own results to (P(certforge.acme._record_step#filter)).
  - Decisions given in O(replanned) (the certificates the CA's renewal information asked to renew) replace the first ones.
positional: plans, replanned, advice
options:
  _input:
    description: The completed entries of C(acme_certificate_certificates).
    type: list
    elements: dict
    required: true
  plans:
    description: RV(certforge.acme.acme_certificate_plan#module:certificates) of the plan step.
    type: list
    elements: dict
    required: true
  replanned:
    description: Later decisions about some of the certificates, by the same module.
    type: list
    elements: dict
  advice:
    description:
      - RV(certforge.acme.acme_renewal_info#module:renewal_info) of the CA's answer. A certificate that is fine but
        that the CA could not tell about keeps the role's own schedule, and its reason says so.
    type: dict
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: The records of this host
  ansible.builtin.set_fact:
    records: "{{ specs | certforge.acme._certificate_records(plan.certificates) }}"
"""

RETURN = r"""
_value:
  description: One record per entry that was planned, in the order of the entries.
  type: list
  elements: dict
"""

import typing as t


def with_advice(plan: dict[str, t.Any], advice: dict[str, t.Any]) -> dict[str, t.Any]:
    """ARI is advice (RFC 9773): where the CA could not tell about a fine certificate, its own schedule stands."""
    error = (advice.get((plan.get("certificate") or {}).get("ari_id") or "") or {}).get("error")
    if plan.get("needed") or not error:
        return plan
    return {**plan, "reason": f"{plan.get('reason')}; the CA could not tell when to renew it ({error}), so the expiry rule applies"}


def certificate_records(
    specs: list[dict[str, t.Any]], plans: list[dict[str, t.Any]], replanned: list[dict[str, t.Any]] | None = None, advice: dict[str, t.Any] | None = None
) -> list[dict[str, t.Any]]:
    decisions = {plan["name"]: with_advice(plan, advice or {}) for plan in plans or []}
    decisions.update({plan["name"]: plan for plan in replanned or []})
    return [{"name": spec["name"], "spec": spec, "plan": decisions[spec["name"]]} for spec in specs or [] if spec["name"] in decisions]


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_certificate_records": certificate_records}
