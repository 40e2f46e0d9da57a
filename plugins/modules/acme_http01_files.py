#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_http01_files
short_description: Write or remove all http-01 challenge files of a host in one go
version_added: 0.1.0
description:
  - Places every http-01 challenge file into a web server's document root with one module run,
    instead of one C(copy) task per file, and removes them again afterwards.
  - Takes the challenge data of M(certforge.acme.acme_order) as it is.
attributes:
  check_mode:
    description: Reports which files would be written or removed.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: Files already in place with the right content are left alone.
    support: full
options:
  webroot:
    description: The document root (an absolute path) the web server serves for the names; files go below C(.well-known/acme-challenge/).
    type: path
    required: true
  challenge_data:
    description:
      - Identifier -> challenge type -> data, as RV(certforge.acme.acme_order#module:challenge_data).
      - Only the C(http-01) entries are used; identifiers listed in O(identifiers) are the only ones used when that is set.
    type: dict
    required: true
  identifiers:
    description: Restrict to these identifiers (for example the names one web server serves). Default is all.
    type: list
    elements: str
  state:
    description: V(present) writes the files, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description: Owner of the files and of the directories created.
    type: str
  group:
    description: Group of the files and of the directories created.
    type: str
  mode:
    description: Mode of the files, octal (V('0644')) or symbolic (V(u=rw,g=r,o=r)); they must be readable by the web server.
    type: raw
    default: "0644"
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Publish the http-01 files on the web head
  certforge.acme.acme_http01_files:
    webroot: /var/www/html
    challenge_data: "{{ cert_order.challenge_data }}"
    owner: www-data

- name: And remove them afterwards
  certforge.acme.acme_http01_files:
    webroot: /var/www/html
    challenge_data: "{{ cert_order.challenge_data }}"
    state: absent
"""

RETURN = r"""
files:
  description: The challenge files written or removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/var/www/html/.well-known/acme-challenge/evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA]
"""

import os
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import read_file, write_file_atomically
from ansible_collections.certforge.acme.plugins.module_utils.file_attributes import apply_file_attributes
from ansible_collections.certforge.acme.plugins.module_utils.host_support import create_host_module
from ansible_collections.certforge.acme.plugins.module_utils import http01_files
from ansible_collections.certforge.acme.plugins.module_utils.http01_files import CHALLENGE_DIR
from ansible_collections.certforge.acme.plugins.module_utils.input_checks import check_absolute_path, check_file_mode


def challenge_files(params: dict[str, t.Any]) -> dict[str, bytes]:
    """Absolute path -> content for every wanted http-01 challenge."""
    return http01_files.challenge_files(params["webroot"], params["challenge_data"], params["identifiers"])


def ensure_directories(module: AnsibleModule, path: str) -> None:
    """Create `.well-known/acme-challenge` readable by the web server, owned like the files."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o755)
        except FileExistsError:
            # Another run writing into the same web root made it since we looked; theirs is as good as ours.
            if not os.path.isdir(directory):
                raise
        apply_file_attributes(module, directory, owner=module.params["owner"], group=module.params["group"], mode="0755")


def main() -> None:
    module = create_host_module(
        argument_spec={
            "webroot": {"type": "path", "required": True},
            "challenge_data": {"type": "dict", "required": True},
            "identifiers": {"type": "list", "elements": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "mode": {"type": "raw", "default": "0644"},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        check_absolute_path(params["webroot"], option="webroot")
        check_file_mode(params["mode"], option="mode")
    except ConfigurationError as error:
        module.fail_json(msg=str(error))
    try:
        files = challenge_files(params)
    except (KeyError, ValueError) as error:
        module.fail_json(msg=f"challenge_data: not the challenge data of acme_order ({error})")
    touched = []
    try:
        if params["state"] == "absent":
            touched = [path for path in files if os.path.exists(path)]
            if not module.check_mode:
                for path in touched:
                    os.unlink(path)
        else:
            if files and not module.check_mode:
                ensure_directories(module, os.path.join(params["webroot"], CHALLENGE_DIR))
            for path, content in files.items():
                current = read_file(path, option="webroot") if os.path.isfile(path) else None
                if current != content:
                    touched.append(path)
                    if not module.check_mode:
                        write_file_atomically(path, content, mode=0o644)
                attributes_changed = os.path.exists(path) and apply_file_attributes(
                    module, path, owner=params["owner"], group=params["group"], mode=params["mode"]
                )
                if attributes_changed and path not in touched:
                    touched.append(path)
    except ConfigurationError as error:
        module.fail_json(msg=str(error))
    except OSError as error:
        module.fail_json(msg=f"webroot: cannot write {error.filename}: {error.strerror}")
    module.exit_json(changed=bool(touched), files=touched)


if __name__ == "__main__":
    main()
