#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_account
short_description: Register, update, deactivate or re-key an ACME account
version_added: 0.1.0
description:
  - Makes sure an account exists at an ACME CA (RFC 8555 section 7.3) for an account key, with the
    contact addresses you list, and returns its URL for the other C(certforge.acme) modules.
  - Can also deactivate the account or roll it over to a new key (RFC 8555 section 7.3.5).
  - Check mode looks the account up without changing anything and reports what would change.
  - A request whose answer was lost, unreadable or without the account's C(Location) is sent again (a
    registration of the same key finds the same account); a lost key rollover is checked by looking the
    account up with the new key.
extends_documentation_fragment:
  - certforge.acme.acme
  - certforge.acme.acme.actiongroup
attributes:
  check_mode:
    description: Looks the account up read-only (C(onlyReturnExisting)) and reports what would change.
    support: full
  diff_mode:
    description: Shows the account's status and contact before and after.
    support: full
  idempotent:
    description: A second run with the same options reports no change and only looks the account up.
    support: full
options:
  state:
    description:
      - V(present) registers the account if the key has none, and updates its contact.
      - V(absent) deactivates the account. Deactivation is permanent; the key can never register again at this CA.
      - V(changed_key) moves the account to the key given by O(new_account_key_src) or O(new_account_key_content).
        Run again with the old key (and O(account_uri)) after the key was changed, it finds the account under the new
        key and changes nothing, whichever problem type the CA refuses the old key's signature with.
    type: str
    choices: [present, absent, changed_key]
    default: present
  allow_creation:
    description:
      - With O(state=present), whether a new account may be registered.
      - When V(false), the module only finds an existing account and fails if there is none.
    type: bool
    default: true
  contact:
    description:
      - Contact URLs of the account, usually C(mailto:) addresses.
      - When given, the account's contact is made to equal this list (V([]) removes all contacts).
        When omitted, the contact of an existing account is left alone.
    type: list
    elements: str
  terms_agreed:
    description:
      - Agree to the CA's terms of service when registering. Most CAs, Let's Encrypt included, require it.
    type: bool
    default: false
  external_account_binding:
    description:
      - External Account Binding (RFC 8555 section 7.3.4) for CAs that require it, given by the CA out of band.
      - Only used when a new account is registered.
    type: dict
    suboptions:
      kid:
        description: The key identifier the CA gave you.
        type: str
        required: true
      key:
        description: The base64url-encoded HMAC key the CA gave you.
        type: str
        required: true
      alg:
        description:
          - The MAC algorithm.
          - V(HS384) needs a key of at least 48 bytes and V(HS512) one of at least 64 (RFC 7518 section 3.2);
            a shorter one is refused before the CA is contacted.
        type: str
        choices: [HS256, HS384, HS512]
        default: HS256
  account_key_create:
    description:
      - Create O(account_key_src) with a new key of this type when it does not exist yet (mode C(0600), its
        directory C(0700)), before the account is looked up; two runs at once end up with the same key.
      - Not in check mode, which reports the account that the new key would register.
    type: str
    choices: [ec256, ec384, ec521, rsa2048, rsa3072, rsa4096, ed25519]
  ca_info_path:
    description:
      - Keep RV(ca) in this JSON file (mode C(0600), its directory created C(0700)), rewritten only when it changed,
        so that later runs know what the CA offers without asking it. Not written in check mode.
    type: path
  new_account_key_src:
    description:
      - Path to the new account key for O(state=changed_key).
      - Mutually exclusive with O(new_account_key_content).
    type: path
  new_account_key_content:
    description:
      - The new account key as PEM text for O(state=changed_key).
      - Mutually exclusive with O(new_account_key_src).
    type: str
  new_account_key_passphrase:
    description:
      - Passphrase of an encrypted new account key.
    type: str
seealso:
  - module: certforge.acme.acme_account_key
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Create the account key on the controller (mode 0600, only when missing)
  certforge.acme.acme_account_key:
    path: /etc/ansible/acme/account.key
  delegate_to: localhost
  run_once: true

- name: Register the account, or find it
  certforge.acme.acme_account:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    terms_agreed: true
    contact:
      - mailto:hostmaster@example.com
  delegate_to: localhost
  run_once: true
  register: acme_account

- name: Use the account URL in the following ACME tasks
  ansible.builtin.debug:
    msg: "Account {{ acme_account.account_uri }} is {{ acme_account.account.status }}"

- name: Register with a CA that requires External Account Binding
  certforge.acme.acme_account:
    acme_directory: https://acme.example-ca.com/directory
    account_key_src: /etc/ansible/acme/account.key
    terms_agreed: true
    external_account_binding:
      kid: "{{ eab_kid }}"
      key: "{{ eab_hmac_key }}"

- name: Only find an existing account; fail when there is none
  certforge.acme.acme_account:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    allow_creation: false

- name: Roll the account over to a new key
  certforge.acme.acme_account:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    state: changed_key
    new_account_key_src: /etc/ansible/acme/account-2026.key

- name: Deactivate the account for good
  certforge.acme.acme_account:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    state: absent
"""

RETURN = r"""
ca_session:
  description:
    - What the next ACME step of this run may take as its O(ca_session) instead of asking the CA again - C(directory_url),
      C(directory) and C(nonce) (a C(Replay-Nonce) the CA sent, or V(null)); hand it to one next step only.
  returned: when the CA's directory was read
  type: dict
retries:
  description:
    - Requests to the CA sent again during this run, by why they were (see O(retry_timeout)).
    - "When any was, the module also warns once with the count, for example C(retried 3 requests to the CA: 2 badNonce, 1 HTTP 503)."
  returned: always, also on failure
  type: dict
  contains:
    bad_nonce:
      description: The CA rejected the nonce (C(badNonce)); sent again at once.
      type: int
    rate_limited:
      description: The CA answered HTTP 429; sent again after C(Retry-After).
      type: int
    server_error:
      description: The CA answered HTTP 5xx (503 included).
      type: int
    connection:
      description: No connection could be made, it was lost, or no answer came within O(request_timeout).
      type: int
    incomplete_answer:
      description: The answer was cut short, could not be read, or lacked C(Replay-Nonce) where one was needed.
      type: int
  sample: {"bad_nonce": 2, "rate_limited": 0, "server_error": 1, "connection": 0, "incomplete_answer": 0}
account_uri:
  description:
    - The account URL, to pass as O(certforge.acme.acme_order#module:account_uri) to the other modules.
    - V(null) when there is no account (O(state=absent) of an unknown key, or check mode before registration).
  returned: always
  type: str
  sample: https://acme-staging-v02.api.letsencrypt.org/acme/acct/123456
account:
  description: The account as the CA describes it; V(null) when there is none.
  returned: always
  type: dict
  contains:
    status:
      description: V(valid), V(deactivated) or V(revoked).
      type: str
      sample: valid
    contact:
      description: Contact URLs of the account.
      type: list
      elements: str
      sample: ["mailto:hostmaster@example.com"]
    orders:
      description: URL of the account's orders list, if the CA offers one.
      type: str
      sample: https://acme-staging-v02.api.letsencrypt.org/acme/acct/123456/orders
ca:
  description: What the CA's directory offers, to decide on later steps.
  returned: success, except in check mode when the account key does not exist yet
  type: dict
  contains:
    renewal_info:
      description: Whether the CA offers ACME Renewal Information (RFC 9773), so orders can name the certificate they replace.
      type: bool
    profiles:
      description: Names of the certificate profiles the CA offers.
      type: list
      elements: str
    terms_of_service:
      description: URL of the CA's terms of service.
      type: str
    external_account_required:
      description: Whether new accounts need External Account Binding.
      type: bool
    caa_identities:
      description:
        - The domain names the CA identifies itself by in CAA records (the directory's C(caaIdentities)); empty when it lists none.
        - dns-persist-01 records may name one of them as issuer domain name (draft-ietf-acme-dns-persist).
      type: list
      elements: str
"""

import json
import os
import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.account import (
    Account,
    AccountClient,
    ExternalAccountBinding,
)
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import create_file_exclusively, read_file, write_file_atomically
from ansible_collections.certforge.acme.plugins.module_utils._acme.keys import KEY_TYPES, generate_private_key, private_key_pem
from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import SigningKey, eab_secret
from ansible_collections.certforge.acme.plugins.module_utils.module_support import (
    create_module,
    failing_on_errors,
    load_account_key,
    load_signing_key,
    open_session,
)


def _check_contact(contact: list[str] | None) -> None:
    for item in contact or []:
        if ":" not in item:
            raise ConfigurationError(f"{item!r} is not a URL; write mailto:{item}", option="contact")


def _state(account: Account | None) -> dict[str, t.Any]:
    return {"status": account.status, "contact": account.contact} if account else {"status": "absent"}


def ensure_present(module: t.Any, client: AccountClient, existing: Account | None) -> tuple[Account | None, bool]:
    params = module.params
    if existing is None:
        if not params["allow_creation"]:
            raise ConfigurationError("no account exists for this account key; set allow_creation: true to register one", option="allow_creation")
        if client.session.directory.external_account_required and not params["external_account_binding"]:
            raise ConfigurationError(
                "the CA requires External Account Binding for new accounts; set it to the kid and key the CA gave you",
                option="external_account_binding",
            )
        if module.check_mode:
            return None, True
        binding = params["external_account_binding"]
        account, created = client.create(
            contact=params["contact"] or [],
            terms_agreed=params["terms_agreed"],
            binding=ExternalAccountBinding(kid=binding["kid"], hmac_key=binding["key"], alg=binding["alg"]) if binding else None,
        )
        return account, created
    wanted = params["contact"]
    if wanted is None or sorted(wanted) == sorted(existing.contact):
        return existing, False
    if module.check_mode:
        return existing._replace(contact=list(wanted)), True
    return client.update_contact(wanted), True


def _list(value: t.Any) -> list[t.Any]:
    return value if isinstance(value, list) else []


def ensure_absent(module: t.Any, client: AccountClient, existing: Account | None) -> tuple[Account | None, bool]:
    if existing is None:
        return None, False
    if module.check_mode:
        return existing._replace(status="deactivated"), True
    return client.deactivate(), True


def ensure_changed_key(
    module: t.Any, client: AccountClient, existing: Account | None, rolled: Account | None, new_key: SigningKey
) -> tuple[Account | None, bool]:
    if existing is None:
        # Already rolled over by an earlier run? Then the new key has the account.
        if rolled is None:
            raise ConfigurationError(
                "neither the current nor the new account key has an account at this CA; register one first",
                option="account_key_src",
            )
        return rolled, False
    if new_key.thumbprint == client.key.thumbprint:
        return existing, False
    if not module.check_mode:
        client.change_key(new_key)
    return existing, True


def load_new_key(module: t.Any) -> SigningKey:
    new_key = load_signing_key(
        module,
        src_option="new_account_key_src",
        content_option="new_account_key_content",
        passphrase_option="new_account_key_passphrase",
    )
    if new_key is None:  # required_if makes this unreachable; keeps type checkers honest
        raise ConfigurationError("set new_account_key_src or new_account_key_content", option="new_account_key_src")
    return new_key


def create_account_key(path: str, key_type: str) -> bool:
    """Make the account key at `path` (0600, in a 0700 directory); False when another run made it first."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        return create_file_exclusively(path, private_key_pem(generate_private_key(key_type)), mode=0o600)
    except OSError as error:
        raise ConfigurationError(f"cannot create the account key {path}: {error.strerror}", option="account_key_src") from None


def remember_ca(path: str, offers: dict[str, t.Any]) -> None:
    """Keep what the CA offers in `path`, so later runs know it without asking; written only when it changed."""
    content = (json.dumps(offers, indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        if os.path.isfile(path) and read_file(path, option="ca_info_path") == content:
            return
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        write_file_atomically(path, content, mode=0o600)
    except OSError as error:
        raise ConfigurationError(f"cannot write {path}: {error.strerror}", option="ca_info_path") from None


def main() -> None:
    module = create_module(
        {
            "state": {"type": "str", "choices": ["present", "absent", "changed_key"], "default": "present"},
            "allow_creation": {"type": "bool", "default": True},
            "contact": {"type": "list", "elements": "str"},
            "terms_agreed": {"type": "bool", "default": False},
            "external_account_binding": {
                "type": "dict",
                "options": {
                    "kid": {"type": "str", "required": True},
                    "key": {"type": "str", "required": True, "no_log": True},
                    "alg": {"type": "str", "choices": ["HS256", "HS384", "HS512"], "default": "HS256"},
                },
            },
            "account_key_create": {"type": "str", "choices": list(KEY_TYPES)},
            "ca_info_path": {"type": "path"},
            "new_account_key_src": {"type": "path"},
            "new_account_key_content": {"type": "str", "no_log": True},
            "new_account_key_passphrase": {"type": "str", "no_log": True},
        },
        mutually_exclusive=[("new_account_key_src", "new_account_key_content")],
        required_if=[("state", "changed_key", ("new_account_key_src", "new_account_key_content"), True)],
        supports_check_mode=True,
    )
    params = module.params
    key_created = False
    with failing_on_errors(module):
        _check_contact(params["contact"])
        if params["external_account_binding"]:  # a mistyped key must show now, not at the next registration
            eab_secret(params["external_account_binding"]["key"], params["external_account_binding"]["alg"])
        key_path = params["account_key_src"]
        if params["account_key_create"] and key_path and not os.path.exists(key_path) and not module.check_mode:
            key_created = create_account_key(key_path, params["account_key_create"])
        if module.check_mode and key_path and not os.path.exists(key_path) and params["state"] == "present":
            # A key that an earlier task would create in a real run has no account yet.
            if not params["allow_creation"]:  # the real run would fail, so must the prediction
                raise ConfigurationError(
                    f"no account exists for account_key_src {key_path}, which does not exist yet; set allow_creation: true to register one",
                    option="allow_creation",
                )
            module.warn(f"account_key_src {key_path} does not exist yet; a new account would be registered for it")
            diff = {"before": _state(None), "after": {"status": "valid", "contact": params["contact"] or []}}
            module.exit_json(changed=True, account_uri=None, account=None, **({"diff": diff} if module._diff else {}))
        session = open_session(module)
        client = AccountClient(session, load_account_key(module), account_uri=params["account_uri"])
        if params["state"] == "changed_key":
            new_key = load_new_key(module)
            existing, rolled = client.find_for_key_change(new_key)
            account, changed = ensure_changed_key(module, client, existing, rolled, new_key)
        else:
            # A key made a moment ago has no account anywhere: asking for it would only cost a request.
            existing = None if key_created else client.find()
            ensure = ensure_present if params["state"] == "present" else ensure_absent
            account, changed = ensure(module, client, existing)
    directory = session.directory
    result: dict[str, t.Any] = {
        "changed": changed,
        "account_uri": account.uri if account else None,
        "account": account.summary() if account else None,
        "ca": {
            "renewal_info": directory.resource("renewalInfo") is not None,
            "profiles": sorted(directory.profiles),
            "terms_of_service": directory.terms_of_service,
            "external_account_required": directory.external_account_required,
            # The names it identifies itself by (RFC 8555 section 7.1.1), which dns-persist-01 records may name.
            "caa_identities": [name for name in _list(directory.meta.get("caaIdentities")) if isinstance(name, str)],
        },
    }
    if params["ca_info_path"] and not module.check_mode:
        remember_ca(params["ca_info_path"], result["ca"])
    result["changed"] = result["changed"] or key_created
    if module._diff:
        # In check mode a registration has no account object yet: describe the one it would make.
        after = _state(account) if account or not changed else {"status": "valid", "contact": params["contact"] or []}
        result["diff"] = {"before": _state(existing), "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
