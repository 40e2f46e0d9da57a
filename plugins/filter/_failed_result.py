# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _failed_result
short_description: Mark the acme_certificate role's result of a certificate that failed (role internal)
description:
  - Adds C(failed) and C(failure) to one record of C(acme_certificate_results), so that a caller of a failed role,
    and the fleet report, can tell which certificates failed and why.
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
positional: failed_names, failure
options:
  _input:
    description: One record of C(acme_certificate_results).
    type: dict
    required: true
  failed_names:
    description: The names of the certificates that failed.
    type: list
    elements: str
    required: true
  failure:
    description: Why they failed.
    type: str
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Mark the certificates that were not deployed
  ansible.builtin.set_fact:
    results: "{{ results | map('certforge.acme._failed_result', ['www'], 'web1: www: the CA refused the order') | list }}"
"""

RETURN = r"""
_value:
  description: The record, with C(failed) (bool) and C(failure) (the reason, or an empty string).
  type: dict
"""

import typing as t


def failed_result(result: dict[str, t.Any], failed_names: list[str], failure: str) -> dict[str, t.Any]:
    failed = result.get("name") in failed_names
    return {**result, "failed": failed, "failure": failure if failed else ""}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_failed_result": failed_result}
