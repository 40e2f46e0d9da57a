# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Starting a process that outlives the module run (AnsibleModule.run_command waits for it)."""

from __future__ import annotations

import subprocess
import typing as t


def start_detached(command: t.Sequence[str], *, log_path: str) -> subprocess.Popen:
    """Start `command` in a session of its own, output to `log_path`, not waited for."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(  # pylint: disable=consider-using-with  # the process must outlive this call
            list(command), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True
        )
