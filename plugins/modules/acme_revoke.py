#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_revoke
short_description: Revoke a certificate with the account key or the certificate's own key
version_added: 0.1.0
description:
  - Revokes a certificate at the ACME CA that issued it (RFC 8555 section 7.6).
  - Signs with the account key (O(account_key_src) or O(account_key_content)) of an account
    authorized for the certificate, or with the certificate's own private key (O(private_key_src)
    or O(private_key_content)), which works even when the account key is lost.
  - A certificate the CA reports as already revoked is V(changed=false), not a failure.
  - A request whose answer was lost is sent again; if the CA then reports the certificate as already
    revoked, the lost request revoked it, and the result is V(changed=true).
extends_documentation_fragment:
  - certforge.acme.acme
  - certforge.acme.acme.actiongroup
attributes:
  check_mode:
    description:
      - Revokes nothing and reports V(changed=true), because ACME offers no way to ask whether a certificate
        is revoked without revoking it; the inputs (certificate, key, reason) are fully checked.
    support: partial
    details: An already revoked certificate is reported as changed in check mode.
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: Revoking a revoked certificate reports no change.
    support: full
options:
  certificate_src:
    description:
      - Path to the certificate to revoke (PEM; a full chain is fine, the first certificate is revoked).
      - Mutually exclusive with O(certificate_content).
    type: path
  certificate_content:
    description:
      - The certificate to revoke as PEM text.
      - Mutually exclusive with O(certificate_src).
    type: str
  private_key_src:
    description:
      - Path to the certificate's private key, to sign the revocation with it instead of the account key.
      - Mutually exclusive with O(private_key_content) and with the account key options.
    type: path
  private_key_content:
    description:
      - The certificate's private key as PEM text.
      - Mutually exclusive with O(private_key_src) and with the account key options.
    type: str
  private_key_passphrase:
    description: Passphrase of an encrypted certificate key.
    type: str
  reason:
    description:
      - Why the certificate is revoked, by RFC 5280 name or number
        (V(unspecified)=0, V(keyCompromise)=1, V(cACompromise)=2, V(affiliationChanged)=3, V(superseded)=4,
        V(cessationOfOperation)=5, V(certificateHold)=6, V(removeFromCRL)=8, V(privilegeWithdrawn)=9,
        V(aACompromise)=10).
      - Omitted, the CA records no reason. Let's Encrypt accepts 0, 1, 3, 4 and 5.
    type: raw
seealso:
  - module: certforge.acme.acme_finalize
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Revoke a superseded certificate with the account key
  certforge.acme.acme_revoke:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    certificate_src: /etc/ssl/www.example.com.crt
    reason: superseded
  delegate_to: localhost

- name: The key leaked and the account key is gone - revoke with the certificate's own key
  certforge.acme.acme_revoke:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    certificate_src: /etc/ssl/www.example.com.crt
    private_key_src: /etc/ssl/private/www.example.com.key
    reason: keyCompromise
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
revoked:
  description: Whether this run revoked the certificate (V(false) when it already was, and in check mode).
  returned: always
  type: bool
serial:
  description: Serial number of the certificate, lower-case hex.
  returned: always
  type: str
  sample: 4b3c2d1e0f
reason:
  description: The RFC 5280 reason code sent, or V(null).
  returned: always
  type: int
  sample: 4
signed_with:
  description: V(account_key) or V(certificate_key).
  returned: always
  type: str
"""

import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.certificates import certificate_info, load_certificate
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import read_file
from ansible_collections.certforge.acme.plugins.module_utils._acme.keys import public_key_pem
from ansible_collections.certforge.acme.plugins.module_utils._acme.revocation import reason_code, revoke
from ansible_collections.certforge.acme.plugins.module_utils.module_support import (
    ACCOUNT_KEY_OPTIONS,
    create_module,
    failing_on_errors,
    load_signing_key,
    open_session,
    resolve_account,
)

PRIVATE_KEY_OPTIONS = ("private_key_src", "private_key_content")


def load_module_certificate(module: t.Any) -> t.Any:
    if module.params["certificate_src"]:
        return load_certificate(read_file(module.params["certificate_src"], option="certificate_src"), option="certificate_src")
    return load_certificate(module.params["certificate_content"], option="certificate_content")


def main() -> None:
    module = create_module(
        {
            "certificate_src": {"type": "path"},
            "certificate_content": {"type": "str"},
            "private_key_src": {"type": "path"},
            "private_key_content": {"type": "str", "no_log": True},
            "private_key_passphrase": {"type": "str", "no_log": True},
            "reason": {"type": "raw"},
        },
        account_key_required=False,
        mutually_exclusive=[
            ("certificate_src", "certificate_content"),
            PRIVATE_KEY_OPTIONS,
            *[(account_option, key_option) for account_option in ACCOUNT_KEY_OPTIONS for key_option in PRIVATE_KEY_OPTIONS],
        ],
        required_one_of=[("certificate_src", "certificate_content"), (*ACCOUNT_KEY_OPTIONS, *PRIVATE_KEY_OPTIONS)],
        supports_check_mode=True,
    )
    with failing_on_errors(module):
        reason = reason_code(module.params["reason"])
        certificate = load_module_certificate(module)
        certificate_key = load_signing_key(
            module, src_option="private_key_src", content_option="private_key_content", passphrase_option="private_key_passphrase"
        )
        if certificate_key is not None and public_key_pem(certificate_key.private_key) != public_key_pem(certificate.public_key()):
            option = "private_key_src" if module.params["private_key_src"] else "private_key_content"
            raise ConfigurationError("this private key does not belong to the certificate", option=option)
        session = open_session(module)
        if certificate_key is not None:
            key, kid, signed_with = certificate_key, None, "certificate_key"
        else:
            key, kid = resolve_account(module, session)
            signed_with = "account_key"
        revoked = False if module.check_mode else revoke(session, certificate=certificate, key=key, kid=kid, reason=reason)
    module.exit_json(
        changed=revoked or module.check_mode,
        revoked=revoked,
        serial=certificate_info(certificate).serial_hex,
        reason=reason,
        signed_with=signed_with,
    )


if __name__ == "__main__":
    main()
