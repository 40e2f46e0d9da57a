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
      - Seconds to wait for the CA to accept a connection, and then for each part of its answer, in one HTTP request.
      - A request that gets no answer within this time counts as a read timeout (see O(retry_timeout)).
    type: int
    default: 10
  retry_timeout:
    description:
      - Seconds for which one request to the CA may be sent again after a fault; the time already spent on the
        request counts, and no wait that would end past this limit is started. In the worst case one request
        takes O(retry_timeout) plus O(request_timeout).
      - Reads (fetching the directory, a nonce, renewal information, and every POST-as-GET of an account, order,
        authorization, challenge or certificate) are sent again, with a fresh nonce and signature, after a lost
        connection, a read timeout, an answer cut short or that cannot be read, an HTTP 5xx answer, or an HTTP 4xx
        answer that is not an ACME problem document (a page of something in front of the CA), up to
        6 tries with waits of 0.5, 1, 2, 4 and 8 seconds. A O(retry_timeout) under 31 seconds starts these waits
        lower (O(retry_timeout) divided by 62, at least 0.1 seconds), so that waiting takes at most half of it.
      - HTTP 429 (rate limited) and 503 (service unavailable) answers are waited out as their C(Retry-After) says
        (seconds or a date; at least the backoff above, at most 10 tries). This also holds for requests that change
        state, such as creating an order, answering a challenge, finalizing or revoking, because the CA did not act on them.
      - A request that changes state is B(not) sent again when the CA may have acted on it (the connection was lost
        after it was sent, no answer within O(request_timeout), an answer cut short, or HTTP 500, 502 or 504);
        the same holds for a success answer that cannot be read. The module then reads the resource back where it
        can, or fails saying that the CA may have processed it. Only a connection that could not be made at all, and
        an HTTP 4xx answer that is not an ACME problem document, are retried for these.
      - Rejected nonces (C(badNonce)) are sent again at once with the nonce the CA sent, up to 100 times in a row,
        whatever this option says.
      - V(0) disables every other retry.
      - Each module returns the number of requests sent again by kind in RV(retries), and warns when there was any.
    type: int
    default: 60
  ca_session:
    description:
      - What the previous ACME step of the same run returned as its C(ca_session), so that this one does not ask the CA
        again - the CA's directory (when it is of O(acme_directory)) and a C(Replay-Nonce).
      - A nonce is good for one request only (RFC 8555 section 7.2) - hand a step's C(ca_session) to one next step of
        the same host, never to several; to share only the directory among many, pass C({directory_url, directory})
        without C(nonce). A nonce the CA no longer accepts costs one C(badNonce) answer and is replaced.
    type: dict
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
