# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: lock_holder
short_description: Who this ansible-playbook run is, for the locks of the acme_certificate role
version_added: 0.1.0
description:
  - Returns the identity of the running C(ansible-playbook) process on the controller - its pid, the start
    time of that pid, the controller's host name and boot id - as one dict, for the O(certforge.acme.acme_certificate_lock#module:holder)
    option of M(certforge.acme.acme_certificate_lock) and M(certforge.acme.acme_certificate_plan).
  - A lock taken with it can be told apart from one of a run that was killed. On the same machine, that
    run's pid is gone or belongs to another process (its start time differs); elsewhere, its lease expired.
  - Task arguments are templated in a worker process forked from the C(ansible-playbook) process, so the
    worker's parent is the run; templated in the main process itself, the lookup gives that process.
options: {}
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Take the locks of the certificates this run works on
  certforge.acme.acme_certificate_lock:
    paths: [/var/lib/acme/locks/web1-www.lock]
    holder: "{{ lookup('certforge.acme.lock_holder') }}"
"""

RETURN = r"""
_raw:
  description: One dict with C(pid), C(pid_start) (clock ticks after boot, from C(/proc/<pid>/stat)), C(controller), C(boot_id) and C(started) (ISO 8601, UTC).
  type: list
  elements: dict
"""

import os
import typing as t

from ansible.plugins.lookup import LookupBase

from ansible_collections.certforge.acme.plugins.module_utils.run_locks import process_identity


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def playbook_pid() -> int:
    """The pid of ansible-playbook: this process's parent when this is a worker forked from it."""
    parent = os.getppid()
    # A forked worker has the command line of its parent; the main process has its shell's.
    if _read(f"/proc/{parent}/cmdline") == _read("/proc/self/cmdline"):
        return parent
    return os.getpid()


class LookupModule(LookupBase):
    def run(self, terms: list[t.Any], variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> list[dict[str, t.Any]]:
        return [process_identity(playbook_pid())]
