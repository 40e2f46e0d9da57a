#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_account_key
short_description: Create an ACME account key, atomically and with a private mode
version_added: 0.1.0
description:
  - Creates the private key of an ACME account when it is missing, writes it atomically with mode
    C(0600), and returns its public JWK thumbprint.
  - O(mode) defaults to V('0600') here, not to the umask. A missing directory is created with mode C(0700).
  - An existing key is never replaced unless O(force=true), because losing an account key loses the
    ability to manage (and revoke with) the account.
  - Runs where the account key lives, normally the controller (C(delegate_to=localhost)).
extends_documentation_fragment:
  - ansible.builtin.files
  - certforge.acme.host_requirements
attributes:
  check_mode:
    description: Reports whether the key would be created without writing it.
    support: full
  diff_mode:
    description: File attribute changes are shown.
    support: partial
  idempotent:
    description: An existing, readable key of the requested type is left untouched.
    support: full
options:
  path:
    description: Where the PEM private key is kept.
    type: path
    required: true
  key_type:
    description:
      - The kind of key to create. V(ec256) (ECDSA P-256, C(ES256)) is fast and accepted by every ACME CA.
      - V(ed25519) is only accepted by some CAs.
      - An existing key of another type makes the module fail unless O(force=true).
    type: str
    choices: [ec256, ec384, ec521, rsa2048, rsa3072, rsa4096, ed25519]
    default: ec256
  passphrase:
    description: Encrypt the key with this passphrase; also used to read an existing key.
    type: str
  force:
    description:
      - Replace an existing key that cannot be read or has another type. The old key is lost
        unless O(backup=true).
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of a key that O(force=true) replaces.
    type: bool
    default: false
seealso:
  - module: certforge.acme.acme_account
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Create the account key once, on the controller
  certforge.acme.acme_account_key:
    path: "{{ playbook_dir }}/acme/account.key"
  delegate_to: localhost
  run_once: true

- name: An encrypted RSA account key
  certforge.acme.acme_account_key:
    path: /etc/ansible/acme/account.key
    key_type: rsa3072
    passphrase: "{{ vault_account_key_passphrase }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
path:
  description: The key file.
  returned: always
  type: str
  sample: /etc/ansible/acme/account.key
key_type:
  description: The type of the key in the file (or of the key that would be created in check mode).
  returned: always
  type: str
  sample: ec256
thumbprint:
  description: RFC 7638 thumbprint of the public key; V(null) in check mode when the key does not exist yet.
  returned: always
  type: str
  sample: 3K2WnvZbUHQAntm3dnH7_SEWzKMzfcMzFXEqUQa1AS8
backup_file:
  description: Copy of the replaced key, when O(backup=true) and a key was replaced.
  returned: changed and O(backup=true)
  type: str
  sample: /etc/ansible/acme/account.key.2026-11-23@10:00:00~
"""

import os
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import (
    create_file_exclusively,
    read_file,
    require_creatable_file,
    write_file_atomically,
)
from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import SigningKey
from ansible_collections.certforge.acme.plugins.module_utils._acme.keys import (
    KEY_TYPES,
    generate_private_key,
    key_type_of,
    load_private_key,
    private_key_pem,
)
from ansible_collections.certforge.acme.plugins.module_utils.host_support import create_host_module, failing_on_host_errors


def existing_key(module: AnsibleModule) -> t.Any:
    """The key already at `path`, or None when it is missing or (with force) unusable."""
    params = module.params
    if not os.path.exists(params["path"]):
        return None
    try:
        key = load_private_key(read_file(params["path"], option="path"), passphrase=params["passphrase"], option="path", passphrase_option="passphrase")
    except ConfigurationError as error:
        if params["force"]:
            return None
        raise ConfigurationError(f"{error}; set force: true to replace it (the old key is lost unless backup: true)") from None
    if key_type_of(key) != params["key_type"]:
        if params["force"]:
            return None
        raise ConfigurationError(
            f"{params['path']} holds a {key_type_of(key)} key, not {params['key_type']}; set key_type: {key_type_of(key)} "
            "to keep it, or force: true to replace it",
            option="key_type",
        )
    return key


def main() -> None:
    module = create_host_module(
        argument_spec={
            "path": {"type": "path", "required": True},
            "key_type": {"type": "str", "choices": list(KEY_TYPES), "default": "ec256"},
            "passphrase": {"type": "str", "no_log": True},
            "force": {"type": "bool", "default": False},
            "backup": {"type": "bool", "default": False},
        },
        add_file_common_args=True,
        libraries=["cryptography"],
        supports_check_mode=True,
    )
    params = module.params
    result: dict[str, t.Any] = {"path": params["path"], "key_type": params["key_type"], "thumbprint": None}
    with failing_on_host_errors(module):
        try:
            require_creatable_file(params["path"], option="path")
            key = existing_key(module)
            changed = key is None
            if key is None and not module.check_mode:
                replacing = os.path.exists(params["path"])
                if replacing and params["backup"]:
                    result["backup_file"] = module.backup_local(params["path"])
                key = generate_private_key(params["key_type"])
                content = private_key_pem(key, passphrase=params["passphrase"])
                os.makedirs(os.path.dirname(os.path.abspath(params["path"])), mode=0o700, exist_ok=True)
                if replacing:
                    write_file_atomically(params["path"], content, mode=0o600)
                elif not create_file_exclusively(params["path"], content, mode=0o600):
                    # another run created the key at the same moment: use that one
                    key, changed = existing_key(module), False
            if key is not None:
                result["thumbprint"] = SigningKey(key).thumbprint
        except OSError as error:
            module.fail_json(msg=f"path: cannot write {params['path']}: {error.strerror}")
    file_args = module.load_file_common_arguments(params)
    if file_args["mode"] is None:
        file_args["mode"] = "0600"
    if os.path.exists(params["path"]):
        changed = module.set_fs_attributes_if_different(file_args, changed)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
