#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_state_files
short_description: Write and remove the small state files of runs in flight, many in one go
version_added: 0.1.0
description:
  - Writes each file of O(write) atomically (mode C(0600), its directory created with mode C(0700)) and removes
    each file of O(remove), in one module run. The C(certforge.acme.acme_certificate) role keeps its records of
    what it provisioned, and forgets the orders of deployed certificates, with it on the controller.
attributes:
  check_mode:
    description: Reports what it would write or remove; touches nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: Files that already have the content, and files already gone, change nothing.
    support: full
options:
  write:
    description: Absolute path -> content. A dict or list is written as JSON.
    type: dict
    default: {}
  remove:
    description: Paths to remove; missing ones are fine.
    type: list
    elements: path
    default: []
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Record what is about to be provisioned for web1's www, and forget a finished order
  certforge.acme.acme_state_files:
    write:
      /srv/acme/provisioned/web1-www.json: {"dns-01": {"_acme-challenge.www.example.com": ["value"]}}
    remove:
      - /srv/acme/orders/web1-static.uri
  delegate_to: localhost
"""

RETURN = r"""
written:
  description: The files written (or that would be).
  returned: always
  type: list
  elements: str
removed:
  description: The files removed (or that would be).
  returned: always
  type: list
  elements: str
"""

import json
import os
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certforge.acme.plugins.module_utils._acme.files import write_file_atomically
from ansible_collections.certforge.acme.plugins.module_utils.host_support import create_host_module, failing_on_host_errors
from ansible_collections.certforge.acme.plugins.module_utils.input_checks import check_absolute_path, check_not_directory


def content_of(value: t.Any) -> bytes:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, indent=1)
    return text.encode("utf-8")


def current(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def main() -> None:
    module: AnsibleModule = create_host_module(
        argument_spec={
            "write": {"type": "dict", "default": {}},
            "remove": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    with failing_on_host_errors(module):
        for path in params["write"]:
            check_absolute_path(path, option="write")
            check_not_directory(path, option="write")
        for path in params["remove"]:
            check_not_directory(path, option="remove")
    files = {path: content_of(value) for path, value in params["write"].items()}
    written = [path for path, content in files.items() if current(path) != content]
    removed = [path for path in params["remove"] if os.path.lexists(path)]
    if not module.check_mode:
        try:
            for path in written:
                os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
                write_file_atomically(path, files[path], mode=0o600)
            for path in removed:
                os.unlink(path)
        except OSError as error:
            module.fail_json(msg=f"cannot write or remove {error.filename}: {error.strerror}")
    module.exit_json(changed=bool(written or removed), written=written, removed=removed)


if __name__ == "__main__":
    main()
