# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _missing_collections
short_description: Role glue - one line naming the collections a shipped DNS provider needs and Ansible cannot find
description:
  - Private to the C(certforge.acme.acme_certificate) role. The shipped DNS providers use modules of collections that
    are not installed with this one; without this check, a missing one fails with Ansible's multi-line message about an
    unresolved action at the include.
  - Returns an empty string when every module in O(_input) resolves, else one line that starts with O(variable).
positional: variable
options:
  _input:
    description: The fully qualified names of the modules the provider uses.
    type: list
    elements: str
    required: true
  variable:
    description: What chose the provider, for the message (C(acme_certificate_dns_provider=route53)).
    type: str
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Refuse at once when amazon.aws is missing
  ansible.builtin.fail:
    msg: "{{ ['amazon.aws.route53'] | certforge.acme._missing_collections('acme_certificate_dns_provider=route53') }}"
  when: (['amazon.aws.route53'] | certforge.acme._missing_collections('acme_certificate_dns_provider=route53')) != ''
"""

RETURN = r"""
_value:
  description: Empty, or the line to fail with.
  type: str
"""

import typing as t

from ansible.plugins.loader import module_loader


def missing_collections(modules: list[str], variable: str) -> str:
    missing = []
    for module in modules or []:
        if not module_loader.find_plugin_with_context(module).resolved:
            collection = ".".join(module.split(".")[:2])
            if collection not in missing:
                missing.append(collection)
    if not missing:
        return ""
    names = " and ".join(missing)
    return (
        f"{variable} needs the collection{'s' if len(missing) > 1 else ''} {names}, which Ansible cannot find; "
        f"install {'them' if len(missing) > 1 else 'it'} with: ansible-galaxy collection install {' '.join(missing)}"
    )


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_missing_collections": missing_collections}
