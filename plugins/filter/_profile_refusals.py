# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _profile_refusals
short_description: Role glue - the needed certificates of the acme_certificate role that ask for a profile the CA does not offer
description:
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
  - Compares the C(profile) of each needed certificate with the profiles the CA advertises in its directory
    (C(meta.profiles), as M(certforge.acme.acme_account) returns them in RV(certforge.acme.acme_account#module:ca.profiles)).
  - Returns, for each certificate that cannot be ordered, one line naming the variable that set the profile
    (C(acme_certificate_profile) or C(acme_certificate_certificates[N].profile)) and the profiles the CA offers,
    so that the role refuses that certificate before ordering and goes on with the others.
positional: offered
options:
  _input:
    description: The role's records of the needed certificates, each with its completed entry as C(spec).
    type: list
    elements: dict
    required: true
  offered:
    description: The names of the profiles the CA offers; empty when its directory has none.
    type: list
    elements: str
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Refuse what the CA cannot issue
  ansible.builtin.set_fact:
    refused: "{{ needed | certforge.acme._profile_refusals(account.ca.profiles) }}"
  # refused == {'www': "acme_certificate_profile: the CA offers no profile 'tlsserver'; set one it offers (classic, shortlived) or ''"}
"""

RETURN = r"""
_value:
  description: Certificate name -> the line saying why it cannot be ordered; empty when every profile is offered.
  type: dict
"""

import typing as t


def profile_refusal(profile: str, offered: list[str], *, variable: str) -> str | None:
    """Why `profile` cannot be ordered from a CA offering `offered`; None when it can (or none is asked)."""
    if not profile or profile in offered:
        return None
    if not offered:
        return f"{variable}: the CA offers no certificate profiles (none in its directory); set {variable} to '' to order without one"
    return f"{variable}: the CA offers no profile {profile!r}; set one it offers ({', '.join(sorted(offered))}) or '' for its default"


def profile_refusals(decisions: list[dict[str, t.Any]], offered: list[str] | None) -> dict[str, str]:
    refusals: dict[str, str] = {}
    for decision in decisions or []:
        spec = decision["spec"]
        refusal = profile_refusal(str(spec.get("profile") or ""), list(offered or []), variable=str(spec.get("profile_variable") or "acme_certificate_profile"))
        if refusal:
            refusals[spec["name"]] = refusal
    return refusals


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_profile_refusals": profile_refusals}
