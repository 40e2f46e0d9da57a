#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_renewal_info
short_description: Ask the CA when certificates should be renewed (ACME Renewal Information)
version_added: 0.1.0
description:
  - Fetches the renewal window the CA suggests for each certificate (RFC 9773) and says which
    certificates are due. CAs move the window forward when a certificate must be replaced early,
    for example after a mass revocation.
  - The point in the window at which a certificate becomes due is derived from its identifier, so
    a fleet's renewals are spread over the window and repeated runs agree.
  - For a CA without renewal information (no C(renewalInfo) in its directory), nothing is due and
    RV(supported) is V(false).
  - Renewal information is advice (RFC 9773). When the CA cannot tell about one certificate (it does not
    know it, answers 4xx or 5xx after the retries, does not answer within O(request_timeout), or answers
    something that is not a well-formed window), the module does not fail - that certificate is not due,
    its RV(renewal_info) entry has the C(error), a warning names it, and its renewal follows the client's
    own schedule (for example M(certforge.acme.acme_certificate_plan)'s expiry rule).
extends_documentation_fragment:
  - certforge.acme.acme
  - certforge.acme.acme.actiongroup
attributes:
  check_mode:
    description: Only reads; behaves the same in check mode.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: Only reads.
    support: full
options:
  ari_ids:
    description:
      - ARI certificate identifiers, as RV(certforge.acme.acme_finalize#module:ari_id) or
        RV(certforge.acme.acme_certificate_plan#module:certificate.ari_id) return them.
      - No account key is needed; the request is not signed.
    type: list
    elements: str
    required: true
seealso:
  - module: certforge.acme.acme_certificate_plan
  - module: certforge.acme.acme_order
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Ask Let's Encrypt whether the certificate should be renewed now
  certforge.acme.acme_renewal_info:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    ari_ids: ["{{ plan.certificate.ari_id }}"]
  delegate_to: localhost
  register: ari

- name: Renew early if the CA asks for it
  ansible.builtin.debug:
    msg: "renew now: {{ plan.certificate.ari_id in ari.due }}"
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
supported:
  description: Whether the CA offers renewal information.
  returned: always
  type: bool
due:
  description: The identifiers whose renewal time has come.
  returned: always
  type: list
  elements: str
renewal_info:
  description:
    - Identifier -> the CA's window and our reading of it.
    - When the CA could not tell about a certificate, its window and renewal time are V(null), C(due) is
      V(false) and C(error) says why.
  returned: always
  type: dict
  sample:
    aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE:
      window_start: "2026-12-01T00:00:00+00:00"
      window_end: "2026-12-03T00:00:00+00:00"
      renewal_time: "2026-12-02T07:12:00+00:00"
      due: false
      explanation_url: null
      error: null
    aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyI:
      window_start: null
      window_end: null
      renewal_time: null
      due: false
      explanation_url: null
      error: "the renewal information at https://ca.example/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyI answered HTTP 404"
"""

import datetime
import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.renewal_info import Advice, check_ari_id, fetch_advice
from ansible_collections.certforge.acme.plugins.module_utils.module_support import create_module, failing_on_errors, open_session


def main() -> None:
    module = create_module({"ari_ids": {"type": "list", "elements": "str", "required": True}}, account_key_required=False, supports_check_mode=True)
    result: dict[str, t.Any] = {"changed": False, "supported": False, "due": [], "renewal_info": {}}
    with failing_on_errors(module):
        for ari_id in module.params["ari_ids"]:
            check_ari_id(ari_id, option="ari_ids")
        session = open_session(module)
        if session.directory.resource("renewalInfo") is None:
            module.exit_json(**result)
        result["supported"] = True
        now = datetime.datetime.now(datetime.timezone.utc)
        for ari_id in dict.fromkeys(module.params["ari_ids"]):
            advice = fetch_advice(session, ari_id)
            if advice.error:
                module.warn(f"no renewal information for {ari_id} ({advice.error}); its renewal follows the client's own schedule")
            result["renewal_info"][ari_id] = reading(advice, now)
            if result["renewal_info"][ari_id]["due"]:
                result["due"].append(ari_id)
    module.exit_json(**result)


def reading(advice: Advice, now: datetime.datetime) -> dict[str, t.Any]:
    """One certificate's entry of renewal_info."""
    info = advice.info
    if info is None:
        return dict.fromkeys(("window_start", "window_end", "renewal_time", "explanation_url"), None) | {"due": False, "error": advice.error}
    return {
        "window_start": info.window_start.isoformat(),
        "window_end": info.window_end.isoformat(),
        "renewal_time": info.renewal_time().isoformat(),
        "due": info.renew(now),
        "explanation_url": info.explanation_url,
        "error": None,
    }


if __name__ == "__main__":
    main()
