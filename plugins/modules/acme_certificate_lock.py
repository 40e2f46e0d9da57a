#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_certificate_lock
short_description: Take or release the locks that keep two runs off one certificate
version_added: 0.1.0
description:
  - Takes (V(present)) or releases (V(absent)) lock files for the holder given, the running C(ansible-playbook)
    as P(certforge.acme.lock_holder#lookup) names it. The C(certforge.acme.acme_certificate) role takes one per host
    and certificate in its state directory on the controller, and one per certificate directory on the host
    (M(certforge.acme.acme_certificate_plan) takes that one itself).
  - A lock held by another live run is waited for, up to O(timeout) seconds, and then refused with who holds it
    and since when. A lock whose holder is dead is taken over at once - on the same machine when its pid is gone
    or belongs to another process by now, elsewhere when its lease (O(lease)) ended.
  - A lock file holds JSON - C(pid), C(pid_start), C(controller), C(boot_id), C(started), C(expires), C(expires_epoch).
attributes:
  check_mode:
    description: Reports what it would take or release; writes nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: A lock the holder already has, or a free lock to release, changes nothing.
    support: full
options:
  paths:
    description:
      - The lock files, each a file path (not a directory). Their directories are created (mode C(0700)) when missing.
    type: list
    elements: path
    required: true
  holder:
    description: Who takes or releases the locks; use C(lookup('certforge.acme.lock_holder')).
    type: dict
    required: true
  state:
    description: V(present) takes the locks (all or none), V(absent) releases those the holder has.
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds to wait for a lock another live run holds.
    type: int
    default: 300
  lease:
    description: Seconds after which a lock counts as abandoned for runs on other machines.
    type: int
    default: 3600
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Take the lock of web1's certificate www on the controller
  certforge.acme.acme_certificate_lock:
    paths: [/srv/acme/locks/web1-www.lock]
    holder: "{{ lookup('certforge.acme.lock_holder') }}"
  delegate_to: localhost

- name: And release it
  certforge.acme.acme_certificate_lock:
    paths: [/srv/acme/locks/web1-www.lock]
    holder: "{{ lookup('certforge.acme.lock_holder') }}"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
locks:
  description: The lock files taken or released by this run (or that would be, in check mode).
  returned: always
  type: list
  elements: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certforge.acme.plugins.module_utils.host_support import create_host_module, failing_on_host_errors
from ansible_collections.certforge.acme.plugins.module_utils.input_checks import check_at_least, check_not_directory
from ansible_collections.certforge.acme.plugins.module_utils.run_locks import LockHeld, acquire, read_lock, release, same_holder


def main() -> None:
    module: AnsibleModule = create_host_module(
        argument_spec={
            "paths": {"type": "list", "elements": "path", "required": True},
            "holder": {"type": "dict", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "timeout": {"type": "int", "default": 300},
            "lease": {"type": "int", "default": 3600},
        },
        supports_check_mode=True,
    )
    params = module.params
    with failing_on_host_errors(module):
        check_at_least(params["timeout"], 0, option="timeout", meaning="do not wait")
        check_at_least(params["lease"], 1, option="lease")
        for path in params["paths"]:
            check_not_directory(path, option="paths", example_file="www.lock")
    paths = sorted(set(params["paths"]))  # one order for every run: two runs never wait for each other
    holder = params["holder"]
    if module.check_mode:
        mine = [path for path in paths if same_holder(read_lock(path) or {}, holder)]
        would = mine if params["state"] == "absent" else [path for path in paths if path not in mine]
        module.exit_json(changed=bool(would), locks=would)
    done: list[str] = []
    try:
        if params["state"] == "absent":
            done = [path for path in paths if release(path, holder)]
        else:
            for path in paths:
                os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
                if acquire(path, holder, timeout=params["timeout"], lease=params["lease"], clock=time.time):
                    done.append(path)
    except LockHeld as error:
        for path in done:
            release(path, holder)
        module.fail_json(msg=str(error))
    except OSError as error:
        for path in done if params["state"] == "present" else []:
            release(path, holder)
        module.fail_json(msg=f"paths: cannot use the lock {error.filename}: {error.strerror}")
    module.exit_json(changed=bool(done), locks=done)


if __name__ == "__main__":
    main()
