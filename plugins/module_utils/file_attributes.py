# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owner, group and mode of files the target-side modules write."""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import AnsibleModule


def apply_file_attributes(module: AnsibleModule, path: str, *, owner: str | None, group: str | None, mode: t.Any) -> bool:
    """Set what differs (reporting it in check mode without changing it); True when something did."""
    file_args = module.load_file_common_arguments({"owner": owner, "group": group, "mode": mode}, path=path)
    return module.set_fs_attributes_if_different(file_args, False)
