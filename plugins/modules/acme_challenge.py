#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_challenge
short_description: Have the CA validate an order's challenges, or deactivate its authorizations
version_added: 0.1.0
description:
  - Tells the CA to validate the chosen challenge of every pending authorization of an order
    (RFC 8555 section 7.5.1), all at once, then waits until the CA has decided on all of them.
  - Waiting reads the authorizations not yet valid, starting after a fraction of a second and backing off,
    until all are valid or one is refused, then the order until it is V(ready), all within O(timeout).
  - A failed validation ends the wait at once and fails the task with each refused identifier and the CA's
    reason (or C(the CA gave no reason)), whether the CA marks the order V(invalid) or leaves it V(pending)
    (RFC 8555 allows both); the status the challenge's answer comes back with and the authorizations are
    looked at, not only the order. An order with a refused authorization is not answered again; order anew
    with M(certforge.acme.acme_order).
  - With O(state=deactivated), deactivates the order's authorizations instead (clean-up after a failed run).
    A CA that answers without deactivating (acme2certifier keeps them V(valid)) is reported as it left them, with a warning.
  - An order whose authorizations are all valid already is not answered again.
  - When the CA's answer to a challenge or a deactivation is lost, the resource is read back and the
    request is sent again only if the CA did not act on it.
  - Provision the challenges (files, DNS records, TLS responder) with the data from
    M(certforge.acme.acme_order) before this task.
  - C(dns-persist-01) (draft-ietf-acme-dns-persist) is answered like the others, once its C(_validation-persist) record
    is published (see P(certforge.acme.dns_persist_record#filter)); a challenge without issuer domain names, or with more
    than ten, is refused without answering it, as the draft asks.
extends_documentation_fragment:
  - certforge.acme.acme
  - certforge.acme.acme.actiongroup
attributes:
  check_mode:
    description: Reads the order and authorizations and reports which challenges would be answered.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: An order whose authorizations are all valid is reported unchanged without answering anything.
    support: full
options:
  order_uri:
    description: The order, as returned by M(certforge.acme.acme_order) in RV(certforge.acme.acme_order#module:order_uri).
    type: str
    required: true
  challenge:
    description: The challenge type to use for every identifier not listed in O(challenge_overrides).
    type: str
    choices: [http-01, dns-01, tls-alpn-01, dns-persist-01]
    default: http-01
  challenge_overrides:
    description:
      - "Identifier -> challenge type, for identifiers validated differently, for example
        C({\"*.example.com\": \"dns-01\"}) when O(challenge=http-01) covers the rest."
      - Wildcards can only be validated with dns-01 or dns-persist-01.
    type: dict
    default: {}
  state:
    description:
      - V(validated) answers the challenges and waits for the result.
      - V(deactivated) deactivates every pending or valid authorization of the order.
    type: str
    choices: [validated, deactivated]
    default: validated
  authorizations:
    description:
      - The authorizations as M(certforge.acme.acme_order) returned them in RV(certforge.acme.acme_order#module:authorizations),
        to save fetching each one again. Ignored unless they are exactly the order's authorizations.
    type: list
    elements: dict
  order:
    description:
      - The order as M(certforge.acme.acme_order) returned it in RV(certforge.acme.acme_order#module:order), to save reading
        it again. Ignored unless it is the order of O(order_uri).
    type: dict
  timeout:
    description: Seconds to wait for the CA to validate all authorizations; V(0) looks once without waiting.
    type: int
    default: 120
seealso:
  - module: certforge.acme.acme_order
  - module: certforge.acme.acme_finalize
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
# The whole flow: account -> order -> provision -> challenge -> finalize.
- name: Set the CA and account once for all ACME tasks
  module_defaults:
    group/certforge.acme.acme:
      acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
      account_key_src: /etc/ansible/acme/account.key
  delegate_to: localhost
  block:
    - name: Register or find the account
      certforge.acme.acme_account:
        terms_agreed: true
      register: account

    - name: Order a certificate, or resume the order of an interrupted run
      certforge.acme.acme_order:
        account_uri: "{{ account.account_uri }}"
        identifiers: [www.example.com, example.com]
        order_uri_file: /etc/ansible/acme/www.example.com.order
      register: cert_order

    - name: Validate
      block:
        - name: Put all http-01 files into the web server's document root, in one run
          certforge.acme.acme_http01_files:
            webroot: /var/www/html
            challenge_data: "{{ cert_order.challenge_data }}"
          delegate_to: "{{ inventory_hostname }}"

        - name: Let the CA validate every name, and wait for it
          certforge.acme.acme_challenge:
            account_uri: "{{ account.account_uri }}"
            order_uri: "{{ cert_order.order_uri }}"
            authorizations: "{{ cert_order.authorizations }}"
            challenge: http-01
      always:
        - name: Remove the http-01 files
          certforge.acme.acme_http01_files:
            webroot: /var/www/html
            challenge_data: "{{ cert_order.challenge_data }}"
            state: absent
          delegate_to: "{{ inventory_hostname }}"

    - name: Get the certificate
      certforge.acme.acme_finalize:
        account_uri: "{{ account.account_uri }}"
        order_uri: "{{ cert_order.order_uri }}"
        order_uri_file: /etc/ansible/acme/www.example.com.order
        csr_src: /etc/ansible/acme/www.example.com.csr
        dest: /etc/ansible/acme/www.example.com.crt
        fullchain_dest: /etc/ansible/acme/www.example.com-fullchain.crt

- name: Validate with http-01, but dns-01 for the wildcard
  certforge.acme.acme_challenge:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    account_uri: "{{ account.account_uri }}"
    order_uri: "{{ cert_order.order_uri }}"
    challenge: http-01
    challenge_overrides:
      "*.example.com": dns-01
  delegate_to: localhost

- name: Give the authorizations up after a failed run
  certforge.acme.acme_challenge:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    order_uri: "{{ cert_order.order_uri }}"
    state: deactivated
  delegate_to: localhost
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
order:
  description:
    - The order as last read from the CA (C(uri), C(status), C(expires), C(identifiers), C(authorizations), C(finalize),
      C(certificate)); pass it to M(certforge.acme.acme_finalize) as O(certforge.acme.acme_finalize#module:order) to save reading it again.
  returned: success
  type: dict
order_status:
  description: Status of the order afterwards; V(ready) once every authorization is valid.
  returned: success
  type: str
  sample: ready
authorizations:
  description: The result per identifier.
  returned: success
  type: list
  elements: dict
  contains:
    identifier:
      description: The name (with C(*.) for a wildcard) or IP address.
      type: str
    status:
      description: Status of the authorization (V(valid), V(invalid), V(deactivated), ...); in check mode, the current status.
      type: str
    challenge:
      description: The challenge type used; V(null) when nothing needed answering.
      type: str
    error:
      description: "The CA's reason when validation failed (C(type: detail)), or C(the CA gave no reason); V(null) otherwise."
      type: str
  sample:
    - identifier: www.example.com
      status: valid
      challenge: http-01
      error: null
"""

import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import (
    Authorization,
    AuthorizationClient,
    Challenge,
)
from ansible_collections.certforge.acme.plugins.module_utils._acme.challenges import CHALLENGE_TYPES, dns01_record_name
from ansible_collections.certforge.acme.plugins.module_utils._acme.dns_persist import CHALLENGE_TYPE as DNS_PERSIST
from ansible_collections.certforge.acme.plugins.module_utils._acme.dns_persist import challenge_issuer_domain_names, record_name
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import AcmeError, ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import Identifier, parse_identifier
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import Order, OrderClient, handed_order
from ansible_collections.certforge.acme.plugins.module_utils._acme.validation import answer_and_wait, is_refused, refusal_reason
from ansible_collections.certforge.acme.plugins.module_utils.module_support import (
    create_module,
    failing_on_errors,
    open_session,
    require_https_url,
    require_wait_seconds,
    resolve_account,
)

_DONE_STATUSES = ("ready", "processing", "valid")


class ValidationFailed(AcmeError):
    def __init__(self, message: str, *, results: list[dict[str, t.Any]]) -> None:
        self.results = results
        super().__init__(message)

    def to_result(self) -> dict[str, t.Any]:
        return {"authorizations": self.results}


def chosen_types(default: str, overrides: dict[str, t.Any]) -> t.Callable[[Identifier], str]:
    normalized = {}
    for name, challenge_type in overrides.items():
        if challenge_type not in CHALLENGE_TYPES:
            raise ConfigurationError(f"{name}: {challenge_type!r} is not one of {', '.join(CHALLENGE_TYPES)}", option="challenge_overrides")
        normalized[parse_identifier(name, option="challenge_overrides")] = challenge_type
    return lambda identifier: normalized.get(identifier, default)


def known_authorizations(described: list[dict[str, t.Any]] | None, order: Order) -> list[Authorization] | None:
    """acme_order's description of the order's authorizations, when it is complete and fits."""
    try:
        if not described or sorted(str(item.get("uri")) for item in described) != sorted(order.authorizations):
            return None
        return [
            Authorization(
                uri=item["uri"],
                status=item["status"],
                identifier=Identifier(item["identifier_type"], item["identifier"]),
                expires=item.get("expires"),
                challenges=[
                    Challenge(type=kind, url=data["url"], status=data["status"], token=data.get("token"), error=None, data=data)
                    for kind, data in (item.get("challenges") or {}).items()
                ],
            )
            for item in described
        ]
    except (AttributeError, KeyError, TypeError):
        return None  # not acme_order's shape: ask the CA instead


def pick_challenge(authorization: Authorization, challenge_type: str) -> Challenge:
    challenge = authorization.challenge(challenge_type)
    if challenge is None:
        offered = ", ".join(item.type for item in authorization.challenges) or "none"
        option = "challenge_overrides" if authorization.identifier.is_wildcard else "challenge"
        raise ConfigurationError(
            f"the CA does not offer {challenge_type} for {authorization.identifier.value} (it offers: {offered}); set challenge_overrides for it",
            option=option,
        )
    if challenge.type == DNS_PERSIST and challenge.data is not None:
        challenge_issuer_domain_names(challenge.data)  # the draft: a client must reject a malformed one
    return challenge


def _hint(identifier: Identifier, challenge_type: str | None) -> str:
    if challenge_type == "http-01":
        return f"is .well-known/acme-challenge/ of {identifier.value} served by its web server on port 80?"
    if challenge_type == "dns-01":
        return f"is the TXT record {dns01_record_name(identifier)} published on every authoritative name server?"
    if challenge_type == DNS_PERSIST:
        return (
            f"does {record_name(identifier)} hold a TXT value naming one of the CA's issuer domain names and this account's URL"
            + (", with policy=wildcard" if identifier.is_wildcard else "")
            + ", on every authoritative name server?"
        )
    if challenge_type == "tls-alpn-01":
        return f"does a responder with ALPN acme-tls/1 answer for {identifier.value} on port 443?"
    return ""


def result_of(authorization: Authorization, challenge_type: str | None) -> dict[str, t.Any]:
    return {
        "identifier": authorization.identifier.value,
        "status": authorization.status,
        "challenge": challenge_type,
        "error": refusal_reason(authorization) if is_refused(authorization) else None,
    }


def validate(module: t.Any, orders: OrderClient, authz_client: AuthorizationClient) -> dict[str, t.Any]:
    params = module.params
    order = handed_order(params.get("order"), params["order_uri"]) or orders.get(params["order_uri"])
    if order.status in _DONE_STATUSES:
        results = [{"identifier": item.value, "status": "valid", "challenge": None, "error": None} for item in order.identifiers]
        return {"changed": False, "order_status": order.status, "authorizations": results, "order": order.summary()}
    type_for = chosen_types(params["challenge"], params["challenge_overrides"])
    authorizations = known_authorizations(params["authorizations"], order) or authz_client.get_all(order.authorizations)
    used: dict[str, str | None] = {}
    answers: dict[str, Challenge] = {}
    for authorization in authorizations:
        used[authorization.uri] = None
        if authorization.status != "pending":
            continue
        challenge = pick_challenge(authorization, type_for(authorization.identifier))
        used[authorization.uri] = challenge.type
        answers[authorization.uri] = challenge
    to_answer = [challenge for challenge in answers.values() if challenge.status == "pending"]
    if order.status == "invalid" or any(is_refused(authorization) for authorization in authorizations):
        raise failure(authorizations, used, order_status=order.status)  # answering the others cannot save this order
    if module.check_mode or order.status != "pending":
        results = [result_of(authorization, used[authorization.uri]) for authorization in authorizations]
        return {"changed": bool(to_answer), "order_status": order.status, "authorizations": results, "order": order.summary()}
    validation = answer_and_wait(orders, authz_client, order, authorizations, answers, timeout=params["timeout"])
    if validation.refused or validation.order.status not in _DONE_STATUSES:
        raise failure(validation.authorizations, used, order_status=validation.order.status)
    results = [
        {"identifier": authorization.identifier.value, "status": "valid", "challenge": used[authorization.uri], "error": None}
        for authorization in authorizations
    ]
    return {"changed": bool(to_answer), "order_status": validation.order.status, "authorizations": results, "order": validation.order.summary()}


def failure(authorizations: list[Authorization], used: dict[str, str | None], *, order_status: str) -> ValidationFailed:
    """Name every identifier the CA refused, with its reason (or that it gave none); the others are only counted."""
    results = [result_of(authorization, used[authorization.uri]) for authorization in authorizations]
    refused = [(item, result) for item, result in zip(authorizations, results) if is_refused(item)]
    unfinished = [result["identifier"] for item, result in zip(authorizations, results) if result["status"] != "valid" and not is_refused(item)]
    reasons = []
    for authorization, result in refused:
        hint = _hint(authorization.identifier, result["challenge"])
        reasons.append(f"{result['identifier']} ({result['challenge'] or 'no challenge'}): {result['error']}" + (f" ({hint})" if hint else ""))
    if unfinished:
        reasons.append(f"not decided when the order failed: {', '.join(unfinished)}")
    if not refused:
        reasons.insert(0, f"the order is {order_status} and no authorization says why")
    return ValidationFailed(
        f"validation failed for {len(refused)} of {len(results)} identifiers (order is {order_status}): " + "; ".join(reasons),
        results=results,
    )


def deactivate(module: t.Any, orders: OrderClient, authz_client: AuthorizationClient) -> dict[str, t.Any]:
    order = orders.get(module.params["order_uri"])
    results, changed = [], False
    for authorization in authz_client.get_all(order.authorizations):
        if authorization.status in ("pending", "valid"):
            if module.check_mode:
                changed = True
            else:
                before = authorization.status
                authorization = authz_client.deactivate(authorization)
                changed = changed or authorization.status != before
                if authorization.status != "deactivated":
                    # RFC 8555 section 7.5.2 lets a client give an authorization up; some CAs answer without doing it
                    module.warn(
                        f"the CA kept the authorization of {authorization.identifier.value} {authorization.status} when asked to deactivate it: "
                        f"it is still {authorization.status} and usable by this account until it expires ({authorization.expires or 'no expiry given'})"
                    )
        results.append({"identifier": authorization.identifier.value, "status": authorization.status, "challenge": None, "error": None})
    return {"changed": changed, "order_status": order.status, "authorizations": results}


def main() -> None:
    module = create_module(
        {
            "order_uri": {"type": "str", "required": True},
            "challenge": {"type": "str", "choices": list(CHALLENGE_TYPES), "default": "http-01"},
            "challenge_overrides": {"type": "dict", "default": {}},
            "state": {"type": "str", "choices": ["validated", "deactivated"], "default": "validated"},
            "timeout": {"type": "int", "default": 120},
            "authorizations": {"type": "list", "elements": "dict"},
            "order": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    with failing_on_errors(module):
        require_https_url(module.params["order_uri"], option="order_uri")
        require_wait_seconds(module.params["timeout"], option="timeout")
        session = open_session(module)
        key, account_uri = resolve_account(module, session)
        orders = OrderClient(session, key, account_uri)
        authz_client = AuthorizationClient(session, key, account_uri)
        run = validate if module.params["state"] == "validated" else deactivate
        result = run(module, orders, authz_client)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
