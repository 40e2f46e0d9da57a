#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_finalize
short_description: Finalize an ACME order with a CSR and fetch the certificate chain
version_added: 0.1.0
description:
  - Checks that the CSR asks for exactly the order's identifiers, finalizes the order (RFC 8555
    section 7.4), waits until it is valid, and downloads the certificate with every alternate chain
    the CA offers (C(Link rel="alternate")), choosing one with O(select_chain).
  - Writes the certificate, chain and full chain atomically, only when their content changes.
  - An order that is already valid is not finalized again; its certificate is downloaded, so a
    second run changes nothing.
  - A lost answer to the finalize request, or an C(orderNotReady) refusal, is settled by reading the
    order back; the request is sent again only when the order is still C(ready).
  - The download is checked before anything is written (RFC 8555 sections 7.4.2 and 9.1) for whole PEM
    blocks and nothing else, the certificate first, each certificate signed by the next, exactly the
    order's names, and at least one issuer certificate (a certificate alone is refused as an
    incomplete chain; a CA may leave out the root, not every issuer). A download that fails these
    checks is read again, and the module fails naming the URL and the fault if it stays broken.
extends_documentation_fragment:
  - certforge.acme.acme
  - certforge.acme.acme.actiongroup
  - ansible.builtin.files
attributes:
  check_mode:
    description: Finalizes nothing and writes nothing; reports whether it would.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: A valid order whose certificate is already in place reports no change.
    support: full
options:
  order_uri:
    description: The order, as returned by M(certforge.acme.acme_order); its authorizations must be valid.
    type: str
    required: true
  csr_src:
    description:
      - Path to the certificate signing request (PEM or DER). Its private key is not needed here.
      - Mutually exclusive with O(csr_content).
    type: path
  csr_content:
    description:
      - The certificate signing request as PEM text.
      - Mutually exclusive with O(csr_src).
    type: str
  dest:
    description: Where to write the certificate alone.
    type: path
  chain_dest:
    description: Where to write the intermediate certificates.
    type: path
  fullchain_dest:
    description: Where to write the certificate followed by the intermediates.
    type: path
  backup:
    description: Keep a timestamped copy of every file that is replaced.
    type: bool
    default: false
  select_chain:
    description:
      - Criteria to choose among the chains the CA offers; the first criterion that any chain matches wins,
        and the CA's default chain is used when none matches.
      - All keys given in one criterion must match.
    type: list
    elements: dict
    default: []
    suboptions:
      issuer_common_name:
        description: Common name of the root the chain leads to, for example V(ISRG Root X1).
        type: str
      root_subject:
        description: Subject of the root the chain leads to, RFC 4514 form, for example V(CN=ISRG Root X1,O=Internet Security Research Group,C=US).
        type: str
      subject_key_identifier:
        description: SubjectKeyIdentifier (hex, colons optional) of the root or of an intermediate in the chain.
        type: str
  order_uri_file:
    description:
      - The order state file of M(certforge.acme.acme_order) (its O(certforge.acme.acme_order#module:order_uri_file)),
        removed once the certificate is downloaded, because the order is finished.
    type: path
  order:
    description:
      - The order as M(certforge.acme.acme_challenge) returned it in RV(certforge.acme.acme_challenge#module:order), to save
        reading it again. Ignored unless it is the order of O(order_uri) and ready, processing or valid.
    type: dict
  timeout:
    description: Seconds to wait for the CA to issue the certificate; V(0) looks once without waiting.
    type: int
    default: 120
notes:
  - O(mode) of the written files defaults to V('0644').
seealso:
  - module: certforge.acme.acme_order
  - module: certforge.acme.acme_challenge
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

- name: Finalize and write the certificate files
  certforge.acme.acme_finalize:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    account_uri: "{{ account.account_uri }}"
    order_uri: "{{ cert_order.order_uri }}"
    csr_src: /etc/ssl/www.example.com.csr
    dest: /etc/ssl/www.example.com.crt
    chain_dest: /etc/ssl/www.example.com-chain.crt
    fullchain_dest: /etc/ssl/www.example.com-fullchain.crt
    select_chain:
      - issuer_common_name: ISRG Root X1
  delegate_to: localhost
  register: certificate

- name: Show when it expires
  ansible.builtin.debug:
    msg: "{{ certificate.serial }} expires {{ certificate.not_after }}"
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
finalized:
  description: Whether this run finalized the order (V(false) when it was already valid, and in check mode).
  returned: always
  type: bool
cert:
  description: The certificate (PEM).
  returned: success, except in check mode before finalization
  type: str
chain:
  description: The intermediate certificates of the selected chain (PEM).
  returned: success, except in check mode before finalization
  type: str
fullchain:
  description: Certificate and intermediates (PEM).
  returned: success, except in check mode before finalization
  type: str
serial:
  description: Serial number, lower-case hex.
  returned: success, except in check mode before finalization
  type: str
  sample: 4b3c2d1e0f
not_after:
  description: End of validity, ISO 8601 in UTC.
  returned: success, except in check mode before finalization
  type: str
  sample: "2027-02-21T10:00:00+00:00"
issuer:
  description: Issuer of the certificate, RFC 4514.
  returned: success, except in check mode before finalization
  type: str
ari_id:
  description: The ARI certificate identifier (RFC 9773), for O(certforge.acme.acme_order#module:replaces) when renewing.
  returned: success, except in check mode before finalization
  type: str
  sample: aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE
chains_offered:
  description: How many chains the CA offered (1 unless O(select_chain) is set and the CA has alternates).
  returned: success, except in check mode before finalization
  type: int
selected_chain:
  description: Index of the chosen chain among those offered; V(0) is the CA's default.
  returned: success, except in check mode before finalization
  type: int
backup_files:
  description: Copies of replaced files, when O(backup=true).
  returned: changed and O(backup=true)
  type: list
  elements: str
"""

import os
import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.certificates import certificate_info, load_certificate
from ansible_collections.certforge.acme.plugins.module_utils._acme.chains import Chain, select_chain
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import read_file, write_file_atomically
from ansible_collections.certforge.acme.plugins.module_utils._acme.keys import csr_der, csr_identifiers, load_csr, public_key_pem
from ansible_collections.certforge.acme.plugins.module_utils._acme.order_record import remove_order_record
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import Order, OrderClient, handed_order, require_validated

# A handed-over order in one of these states is taken as it is; an earlier one is read again, since validation may have moved it on.
READY_OR_LATER = ("ready", "processing", "valid")
from ansible_collections.certforge.acme.plugins.module_utils.file_attributes import apply_file_attributes
from ansible_collections.certforge.acme.plugins.module_utils.module_support import (
    create_module,
    failing_on_errors,
    open_session,
    require_https_url,
    require_wait_seconds,
    resolve_account,
)


def load_module_csr(module: t.Any) -> tuple[t.Any, str]:
    if module.params["csr_src"]:
        return load_csr(read_file(module.params["csr_src"], option="csr_src"), option="csr_src"), "csr_src"
    return load_csr(module.params["csr_content"], option="csr_content"), "csr_content"


def check_csr_matches(csr: t.Any, option: str, order: Order) -> None:
    wanted, asked = set(order.identifiers), set(csr_identifiers(csr))
    if wanted != asked:
        missing = ", ".join(sorted(item.value for item in wanted - asked)) or "none"
        extra = ", ".join(sorted(item.value for item in asked - wanted)) or "none"
        raise ConfigurationError(
            f"the CSR's names differ from the order's identifiers (missing from the CSR: {missing}; not in the order: {extra}); "
            "make a CSR for exactly the ordered names",
            option=option,
        )


def write_files(module: t.Any, chain: Chain) -> tuple[bool, list[str]]:
    """Write each requested file whose content differs; returns (changed, backups)."""
    params = module.params
    changed, backups = False, []
    for option, content in (("dest", chain.certificate), ("chain_dest", chain.chain), ("fullchain_dest", chain.fullchain)):
        path = params[option]
        if not path:
            continue
        current = read_file(path, option=option) if os.path.isfile(path) else None
        if current != content:
            changed = True
            if not module.check_mode:
                if current is not None and params["backup"]:
                    backups.append(module.backup_local(path))
                try:
                    write_file_atomically(path, content, mode=0o600)  # the requested mode follows
                except OSError as error:
                    raise ConfigurationError(f"cannot write {path}: {error.strerror}", option=option) from None
        if os.path.exists(path) and apply_file_attributes(module, path, owner=params["owner"], group=params["group"], mode=params["mode"] or "0644"):
            changed = True
    return changed, backups


def main() -> None:
    module = create_module(
        {
            "order_uri": {"type": "str", "required": True},
            "csr_src": {"type": "path"},
            "csr_content": {"type": "str"},
            "dest": {"type": "path"},
            "chain_dest": {"type": "path"},
            "fullchain_dest": {"type": "path"},
            "backup": {"type": "bool", "default": False},
            "select_chain": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "issuer_common_name": {"type": "str"},
                    "root_subject": {"type": "str"},
                    "subject_key_identifier": {"type": "str"},
                },
            },
            "timeout": {"type": "int", "default": 120},
            "order_uri_file": {"type": "path"},
            "order": {"type": "dict"},
        },
        mutually_exclusive=[("csr_src", "csr_content")],
        required_one_of=[("csr_src", "csr_content")],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    with failing_on_errors(module):
        require_https_url(module.params["order_uri"], option="order_uri")
        require_wait_seconds(module.params["timeout"], option="timeout")
        csr, csr_option = load_module_csr(module)
        session = open_session(module)
        key, account_uri = resolve_account(module, session)
        orders = OrderClient(session, key, account_uri, warn=module.warn)
        order = handed_order(module.params.get("order"), module.params["order_uri"], statuses=READY_OR_LATER) or orders.get(module.params["order_uri"])
        check_csr_matches(csr, csr_option, order)
        require_validated(order)
        if module.check_mode and order.status == "ready":
            module.exit_json(changed=True, finalized=False, msg="the order is ready: it would be finalized")
        order, finalized = orders.issue(order, csr_der(csr), timeout=module.params["timeout"])
        chains = orders.download_chains(order, alternates=bool(module.params["select_chain"]))
        chain, index = select_chain(chains, module.params["select_chain"])
        certificate = load_certificate(chain.certificate)
        if public_key_pem(certificate.public_key()) != public_key_pem(csr.public_key()):
            raise ConfigurationError(
                "the order was already finalized with another key than this CSR's; omit order_uri in acme_order to order anew",
                option=csr_option,
            )
        files_changed, backups = write_files(module, chain)
        state_file = module.params["order_uri_file"]
        if state_file and not module.check_mode:
            remove_order_record(state_file)  # the order is finished: nothing left to resume
    info = certificate_info(certificate)
    result: dict[str, t.Any] = {
        "changed": finalized or files_changed,
        "finalized": finalized,
        "cert": chain.certificate.decode("ascii"),
        "chain": chain.chain.decode("ascii"),
        "fullchain": chain.fullchain.decode("ascii"),
        "serial": info.serial_hex,
        "not_after": info.not_after.isoformat(),
        "issuer": info.issuer,
        "ari_id": info.ari_id,
        "chains_offered": len(chains),
        "selected_chain": index,
    }
    if backups:
        result["backup_files"] = backups
    module.exit_json(**result)


if __name__ == "__main__":
    main()
