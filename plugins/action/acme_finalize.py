# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certforge.acme.acme_finalize in the controller's process when its task runs there (see plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.certforge.acme.plugins.plugin_utils.in_process import ControllerStepAction


class ActionModule(ControllerStepAction):
    module_name = "acme_finalize"
