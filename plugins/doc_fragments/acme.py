# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of plugins/module_utils/module_support.py acme_argument_spec(), one for one.
    DOCUMENTATION = r"""
options:
  acme_directory:
    description:
      - The ACME directory URL of the CA, for example
        V(https://acme-staging-v02.api.letsencrypt.org/directory) for Let's Encrypt staging or
        V(https://acme-v02.api.letsencrypt.org/directory) for Let's Encrypt production.
      - Must be an C(https://) URL; the directory is fetched once per module run.
    type: str
    required: true
  account_key_src:
    description:
      - Path to the PEM private key of the ACME account (RSA, EC P-256/P-384/P-521 or Ed25519).
      - Create one with M(certforge.acme.acme_account_key).
      - Mutually exclusive with O(account_key_content).
    type: path
    aliases: [account_key]
  account_key_content:
    description:
      - The PEM private key of the ACME account as text, for example from a vault.
      - Mutually exclusive with O(account_key_src).
    type: str
  account_key_passphrase:
    description:
      - Passphrase of an encrypted account key.
    type: str
  account_uri:
    description:
      - The account URL as returned by M(certforge.acme.acme_account) in RV(certforge.acme.acme_account#module:account_uri).
      - Saves looking the account up. The key must belong to this account.
    type: str
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the CA.
      - Keep this on. For a CA with a private root, such as a test CA, set O(ca_path) instead.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM bundle of CA certificates used to verify the ACME server instead of the system's trust store.
    type: path
  request_timeout:
    description:
      - Seconds to wait for each HTTP request to the CA.
    type: int
    default: 10
  retry_timeout:
    description:
      - Seconds one request may keep being retried after a rate limit (HTTP 429), service
        unavailable (HTTP 503, honouring C(Retry-After)), another server error or a lost connection.
      - V(0) disables retries. Rejected nonces (C(badNonce)) are always retried at once.
    type: int
    default: 60
requirements:
  - python >= 3.9
  - cryptography >= 3.4
  - requests >= 2.25
notes:
  - Requests are signed as RFC 8555 requires; reads use POST-as-GET, and every C(Replay-Nonce) the CA sends is reused.
  - These modules talk to the CA from where they run; use them with C(delegate_to) on the host that holds the account key.
seealso:
  - name: RFC 8555 (ACME)
    description: Automatic Certificate Management Environment.
    link: https://www.rfc-editor.org/rfc/rfc8555
"""

    ACTIONGROUP = r"""
attributes:
  action_group:
    description: Use C(group/certforge.acme.acme) in C(module_defaults) to set the shared options once.
    support: full
    membership:
      - certforge.acme.acme
"""
