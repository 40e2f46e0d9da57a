#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_order
short_description: Create or resume an ACME order and return what each challenge needs
version_added: 0.1.0
description:
  - Creates an order (RFC 8555 section 7.4) for DNS names, wildcards and IP addresses (RFC 8738),
    or resumes the order given by O(order_uri) when it is still usable for the same identifiers.
  - Returns, for every authorization that still needs validating, what to provision for each challenge
    type the CA offers (http-01 file, dns-01 TXT record, tls-alpn-01 certificate), ready to loop over.
  - The next steps are M(certforge.acme.acme_challenge) and M(certforge.acme.acme_finalize).
  - An order on record is never resumed when it can no longer be finalized (it is invalid or expired, or one of
    its authorizations is V(invalid), V(deactivated), V(expired) or V(revoked), or pending under an invalid
    challenge, as some CAs leave it); a new order is made and RV(new_order_reason) says why. So a run after a
    failed validation, once the cause is fixed, succeeds at once.
  - When the body of the CA's answer to the new order is lost or unreadable but its C(Location) came, the
    order is read there. When the whole answer is lost (or lacks its C(Location)), the order it may have
    created is looked for in the account's orders list (RFC 8555 section 7.1.2.1) and used; a CA
    without that list gets the order again, with a warning that it may hold an unused duplicate
    (unused orders expire).
extends_documentation_fragment:
  - certforge.acme.acme
  - certforge.acme.acme.actiongroup
attributes:
  check_mode:
    description: A resumable order is read and returned; no new order is created.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: With O(order_uri) of a usable order for the same identifiers, that order is returned unchanged.
    support: full
options:
  identifiers:
    description:
      - The names and addresses the certificate is for.
      - A string is typed automatically (an IP address becomes C(type=ip), anything else C(type=dns));
        a dict with C(type) (V(dns) or V(ip)) and C(value) is taken as it is.
      - Internationalized names are converted to A-labels; case and duplicates are normalised.
      - Wildcards (V(*.example.com)) can only be validated with dns-01.
    type: list
    elements: raw
    required: true
  order_uri:
    description:
      - An order from an earlier run. When it is still V(pending), V(ready), V(processing) or V(valid)
        and is for the same identifiers, it is returned instead of creating a new order.
      - An order that says it was asked with another O(profile), O(not_before) or O(not_after) than this task asks is not resumed.
      - An invalid, expired or unknown order (the CA answers HTTP 404 or 410, with or without a problem document,
        as after a reset of the CA), or one for other identifiers, is replaced by a new one.
      - A value that is not an https:// URL is refused before anything is signed.
    type: str
  order_uri_file:
    description:
      - A file that keeps the URL of the order in flight, so that an interrupted run resumes it.
      - When O(order_uri) is not given, the URL is read from this file (a missing file means no earlier order);
        a file that holds anything but an https:// URL is refused before anything is signed.
        A new order's URL is written to it atomically with mode C(0600), creating its directory (mode C(0700)).
      - The first line of the file is the order's URL; the second is JSON with what the order was asked with
        (identifiers, O(profile), O(not_before), O(not_after)). An order asked otherwise is not resumed for a
        different request. A file of an earlier version (the URL alone) is read as it is, and its order compared
        with what the order itself says it was asked with (where the CA echoes it).
      - M(certforge.acme.acme_finalize) removes it once the certificate is downloaded (its O(certforge.acme.acme_finalize#module:order_uri_file)).
    type: path
  not_before:
    description: Requested start of validity, an RFC 3339 date-time with its offset (V(2026-12-01T00:00:00Z)). Many CAs refuse it.
    type: str
  not_after:
    description: Requested end of validity, an RFC 3339 date-time later than O(not_before). Many CAs refuse it.
    type: str
  replaces:
    description:
      - The ARI certificate identifier (RFC 9773) of the certificate this order renews, as returned by
        RV(certforge.acme.acme_finalize#module:ari_id).
      - Only for CAs whose directory offers C(renewalInfo); refused otherwise.
      - When the CA answers that another order already replaced it (C(alreadyReplaced), or C(conflict) as some
        CAs say), the order is made again without O(replaces) and a warning says so.
    type: str
  profile:
    description:
      - A certificate profile the CA advertises in its directory (C(meta.profiles)); refused when not offered.
    type: str
seealso:
  - module: certforge.acme.acme_account
  - module: certforge.acme.acme_challenge
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

- name: A wildcard with dns-01, records grouped by name
  certforge.acme.acme_order:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    identifiers: ["*.example.com", example.com]
  register: wildcard_order
  # wildcard_order.challenge_data_dns == {"_acme-challenge.example.com": ["value1", "value2"]}

- name: An IP address certificate (RFC 8738)
  certforge.acme.acme_order:
    acme_directory: https://acme.example-ca.com/directory
    account_key_src: /etc/ansible/acme/account.key
    identifiers:
      - 192.0.2.10
      - {type: dns, value: host.example.com}
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
order_uri:
  description: URL of the order; pass it to the next modules and keep it to resume an interrupted run.
  returned: success, except in check mode when a new order would be created
  type: str
  sample: https://acme-staging-v02.api.letsencrypt.org/acme/order/123/456
account_uri:
  description: The account URL used.
  returned: success
  type: str
new_order_reason:
  description:
    - Why the order on record (O(order_uri), or the one in O(order_uri_file)) was not taken up and a new order
      was made (or would be, in check mode); the module also warns with it.
    - V(null) when the order on record was taken up, or when there was none.
    - "For example: the CA does not know it (HTTP 404), it is invalid or expired, it is for other identifiers,
      or one of its authorizations was refused (C(the order URL can no longer be finalized: the CA refused NAME: REASON))."
  returned: success
  type: str
  sample: "the order https://ca.example/order/1 can no longer be finalized: the CA refused www.example.com: unauthorized: 404 for the token"
order:
  description: The order.
  returned: success, except in check mode when a new order would be created
  type: dict
  contains:
    uri:
      description: URL of the order.
      type: str
    status:
      description: V(pending), V(ready), V(processing) or V(valid).
      type: str
    expires:
      description: When the order expires (RFC 3339).
      type: str
    identifiers:
      description: The identifiers as C({type, value}).
      type: list
      elements: dict
    authorizations:
      description: URLs of the authorizations.
      type: list
      elements: str
    finalize:
      description: URL to finalize the order at.
      type: str
    certificate:
      description: URL of the certificate, once the order is V(valid).
      type: str
authorizations:
  description:
    - One entry per identifier. Entries with C(status=valid) need nothing provisioned and have no C(challenges).
  returned: success, except in check mode when a new order would be created
  type: list
  elements: dict
  contains:
    identifier:
      description: The name (with C(*.) for a wildcard) or IP address.
      type: str
      sample: www.example.com
    identifier_type:
      description: V(dns) or V(ip).
      type: str
    status:
      description: Status of the authorization.
      type: str
      sample: pending
    uri:
      description: URL of the authorization.
      type: str
    expires:
      description: When the authorization expires (RFC 3339).
      type: str
    challenges:
      description: Challenge type -> what to provision; see RV(challenge_data).
      type: dict
  sample:
    - identifier: www.example.com
      identifier_type: dns
      status: pending
      uri: https://ca.example/authz/1
      challenges: {}
challenge_data:
  description:
    - Identifier -> challenge type -> what to provision, for the authorizations still pending.
    - C(http-01) gives C(resource) (the path below the document root, V(.well-known/acme-challenge/TOKEN)) and C(resource_value) (the file's content).
    - C(dns-01) gives C(record) (V(_acme-challenge.NAME); a wildcard maps to its base name) and C(record_value) (the TXT value).
    - C(tls-alpn-01) gives C(resource) (the TLS SNI name; the reverse name for an IP address),
      C(certificate) and C(private_key) (PEM of the self-signed challenge certificate with the acmeIdentifier extension, RFC 8737).
    - C(dns-persist-01) (draft-ietf-acme-dns-persist) gives every field of the CA's challenge as sent (C(issuer-domain-names)
      among them), C(record) (V(_validation-persist.NAME); a wildcard maps to its base name), and the default record to publish
      once and keep - C(record_value) (the CA's first issuer domain name, C(accounturi=) this account, C(policy=wildcard) for
      a wildcard), C(issuer_domain_name) and C(account_uri) - or, for a challenge the draft says to reject, C(problem) instead.
      P(certforge.acme.dns_persist_record#filter) computes other values (O(certforge.acme.dns_persist_record#filter:persist_until),
      policy=wildcard for a base name). See the collection's C(docs/dns-persist-01.md).
    - Every entry also has the challenge's C(url), C(status) and C(token) (V(null) for dns-persist-01).
    - Any other challenge type this collection does not answer itself (C(dns-account-01), C(onion-csr-01), ...)
      is passed on as the CA's challenge object, every field as the CA sent it.
  returned: success, except in check mode when a new order would be created
  type: dict
  sample:
    www.example.com:
      http-01:
        resource: .well-known/acme-challenge/evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA
        resource_value: evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ
      dns-01:
        record: _acme-challenge.www.example.com
        record_value: yUoWMtJbGRkXf0s5GCFmIM8c4mfpE1cVwMXwxA1B7j4
      dns-persist-01:
        issuer-domain-names: [letsencrypt.org]
        record: _validation-persist.www.example.com
        record_value: "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/123"
        issuer_domain_name: letsencrypt.org
        account_uri: https://acme-v02.api.letsencrypt.org/acme/acct/123
challenge_data_dns:
  description: TXT record name -> all values it must carry, for the pending dns-01 challenges (a wildcard and its base name share one record).
  returned: success, except in check mode when a new order would be created
  type: dict
  sample:
    _acme-challenge.example.com: [yUoWMtJbGRkXf0s5GCFmIM8c4mfpE1cVwMXwxA1B7j4, 8vD6s0bmRRJ2a5tg4SctX7UTZgLqXZk2NNUXUGnISqc]
"""

import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import Authorization, AuthorizationClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.challenges import authorization_data
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import require_creatable_file
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import Identifier, parse_identifiers
from ansible_collections.certforge.acme.plugins.module_utils._acme.order_record import OrderRequest, read_order_record, write_order_record
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import Order, OrderClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.renewal_info import check_ari_id
from ansible_collections.certforge.acme.plugins.module_utils._acme.resume import resume_order
from ansible_collections.certforge.acme.plugins.module_utils._acme.timestamps import check_validity_period
from ansible_collections.certforge.acme.plugins.module_utils.module_support import (
    create_module,
    failing_on_errors,
    open_session,
    require_https_url,
    resolve_account,
)


def describe_authorizations(known: list[Authorization], thumbprint: str, account_uri: str) -> dict[str, t.Any]:
    authorizations: list[dict[str, t.Any]] = []
    challenge_data: dict[str, dict[str, dict[str, t.Any]]] = {}
    challenge_data_dns: dict[str, list[str]] = {}
    for authorization in known:
        needs_work = authorization.status == "pending"
        challenges = authorization_data(authorization, thumbprint, account_uri=account_uri) if needs_work else {}
        name = authorization.identifier.value
        authorizations.append(
            {
                "identifier": name,
                "identifier_type": authorization.identifier.type,
                "status": authorization.status,
                "uri": authorization.uri,
                "expires": authorization.expires,
                "challenges": challenges,
            }
        )
        if needs_work:
            challenge_data[name] = challenges
            if "dns-01" in challenges:
                record = challenges["dns-01"]
                challenge_data_dns.setdefault(record["record"], []).append(record["record_value"])
    return {"authorizations": authorizations, "challenge_data": challenge_data, "challenge_data_dns": challenge_data_dns}


def create_order(module: t.Any, orders: OrderClient, identifiers: list[Identifier]) -> Order:
    params = module.params
    return orders.create(identifiers, not_before=params["not_before"], not_after=params["not_after"], replaces=params["replaces"], profile=params["profile"])


def main() -> None:
    module = create_module(
        {
            "identifiers": {"type": "list", "elements": "raw", "required": True},
            "order_uri": {"type": "str"},
            "order_uri_file": {"type": "path"},
            "not_before": {"type": "str"},
            "not_after": {"type": "str"},
            "replaces": {"type": "str"},
            "profile": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    with failing_on_errors(module):
        identifiers = parse_identifiers(params["identifiers"])
        check_validity_period(params["not_before"], params["not_after"])
        if params["replaces"]:
            check_ari_id(params["replaces"], option="replaces")
        require_https_url(params["order_uri"], option="order_uri")
        if params["order_uri_file"]:
            require_creatable_file(params["order_uri_file"], option="order_uri_file")
        session = open_session(module)
        key, account_uri = resolve_account(module, session)
        orders = OrderClient(session, key, account_uri, warn=module.warn)
        orders.check_extensions(replaces=params["replaces"], profile=params["profile"])
        authz_client = AuthorizationClient(session, key, account_uri)
        request = OrderRequest(identifiers, profile=params["profile"], not_before=params["not_before"], not_after=params["not_after"])
        on_record, asked = (params["order_uri"], None) if params["order_uri"] else read_order_record(params["order_uri_file"])
        order, authorizations, reason = resume_order(orders, authz_client, on_record, request, asked=asked)
        if reason:
            module.warn(f"{reason}; {'a new order would be made' if module.check_mode else 'ordered anew'}")
        changed = order is None
        if order is None:
            if module.check_mode:
                module.exit_json(changed=True, account_uri=account_uri, order_uri=None, order=None, new_order_reason=reason)
            order = create_order(module, orders, identifiers)
            authorizations = None
            if params["order_uri_file"]:
                write_order_record(params["order_uri_file"], order.uri, request)
        described = describe_authorizations(authorizations or authz_client.get_all(order.authorizations), key.thumbprint, account_uri)
    module.exit_json(changed=changed, account_uri=account_uri, order_uri=order.uri, order=order.summary(), new_order_reason=reason, **described)


if __name__ == "__main__":
    main()
