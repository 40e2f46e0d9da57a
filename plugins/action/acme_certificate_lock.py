# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certforge.acme.acme_certificate_lock in the controller's process when its task runs there (see plugin_utils/in_process.py).

The role runs it on the controller for its own bookkeeping several times per host and certificate; elsewhere it
runs as a module on the host.
"""

from __future__ import annotations

from ansible_collections.certforge.acme.plugins.plugin_utils.in_process import ControllerStepAction


class ActionModule(ControllerStepAction):
    module_name = "acme_certificate_lock"
    libraries = ()  # it writes small files with the standard library only
