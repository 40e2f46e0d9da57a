# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _state_paths
short_description: Role glue - where the acme_certificate role keeps the state of a host's certificates on the controller
description:
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
  - For the certificate names of one host, the paths of their order state files (C(orders/<host>-<name>.uri)),
    records of what was provisioned for them (C(provisioned/<host>-<name>.json)) and controller locks
    (C(locks/<host>-<name>.lock)) below the role's state directory.
positional: state_dir, host
options:
  _input:
    description: The certificate names.
    type: list
    elements: str
    required: true
  state_dir:
    description: The role's C(acme_certificate_state_dir).
    type: str
    required: true
  host:
    description: The inventory name of the host.
    type: str
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: The order state file of web1's www
  ansible.builtin.debug:
    msg: "{{ (['www'] | certforge.acme._state_paths('/srv/acme', 'web1')).orders.www }}"
"""

RETURN = r"""
_value:
  description: C(orders), C(provisioned) and C(locks), each certificate name -> path.
  type: dict
"""

import os
import typing as t

KINDS = {"orders": ".uri", "provisioned": ".json", "locks": ".lock"}


def state_paths(names: list[str], state_dir: str, host: str) -> dict[str, dict[str, str]]:
    return {kind: {name: os.path.join(state_dir, kind, f"{host}-{name}{suffix}") for name in names} for kind, suffix in KINDS.items()}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_state_paths": state_paths}
