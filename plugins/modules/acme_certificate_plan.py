#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_certificate_plan
short_description: Decide on the host whether a certificate is needed, and make its key and CSR
version_added: 0.1.0
description:
  - Runs on the host that uses the certificate. Inspects the certificate and key in place and decides
    whether a new one is needed, and why - missing, other names, other key type, key mismatch,
    expiring (by default when less than a third of its lifetime is left), or forced.
  - Without O(renew_before_days), the rule fits any lifetime, from a 6-day C(shortlived) certificate to a
    90-day one - renewal is due once a third of the lifetime is left, moved earlier by up to a twentieth of the
    lifetime (4.5 days of 90, 2.25 days of 45, 7.2 hours of 6 days) at a point fixed by the certificate's serial
    number. Certificates issued together thus renew at different moments, and every run agrees on each one's
    moment (RV(certificate.renewal_due)). RV(reason) counts in hours (or minutes) when less than two days are left.
  - Only when one is needed, makes the private key (or reuses the current one with O(reuse_key=true))
    and returns a CSR. A new key is staged beside the current one as C(<key_path>.pending) with mode
    C(0600) and only replaces it when M(certforge.acme.acme_certificate_deploy) installs the new
    certificate, so a failed renewal leaves the working pair untouched. The key never leaves the host.
  - A staged key left by an interrupted run is reused, so a resumed order gets a matching CSR.
  - A certificate that is fine by date, names and key but whose deployed O(chain_path) or O(fullchain_path) is
    not whole (incomplete or unparseable PEM, an empty chain, a full chain that is not the certificate followed
    by the chain, a certificate not signed by the chain's first certificate) needs a repair (V(renew), with the reason).
  - With O(lock_holder), a needed certificate is locked first - C(.acme_certificate.lock) in the directory of
    O(cert_path), as M(certforge.acme.acme_certificate_lock) takes locks - and decided again once the lock is
    held, since the run it waited for may have renewed it; release it with M(certforge.acme.acme_certificate_lock).
  - O(certificates) decides about all certificates of the host in one run (one module process, not one per
    C(loop) item); each gets its entry in RV(certificates), and RV(msg) says what was decided for each.
    Without it, O(cert_path), O(key_path) and O(identifiers) describe the one certificate.
extends_documentation_fragment:
  - certforge.acme.host_requirements
  - certforge.acme._certificate_options.plan
attributes:
  check_mode:
    description: Decides and reports; writes no key and returns no CSR. A certificate that would be issued counts as a change.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: A certificate that is fine changes nothing; a needed one reuses the staged key.
    support: full
options:
  lock_holder:
    description:
      - Who locks the certificate directory while a certificate is needed, as C(lookup('certforge.acme.lock_holder'))
        gives it. Without it, nothing is locked.
    type: dict
  lock_timeout:
    description: Seconds to wait for the lock another live run holds, before failing with who holds it.
    type: int
    default: 300
  lock_lease:
    description: Seconds after which the lock counts as abandoned by a run on another machine.
    type: int
    default: 3600
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Decide about every certificate of the host in one module run
  certforge.acme.acme_certificate_plan:
    certificates:
      - name: www
        cert_path: /etc/ssl/www/cert.pem
        key_path: /etc/ssl/www/privkey.pem
        identifiers: [www.example.com]
      - name: mail
        cert_path: /etc/ssl/mail/cert.pem
        key_path: /etc/ssl/mail/privkey.pem
        identifiers: [mail.example.com]
        key_type: ec384
  register: plans

- name: Say which are needed
  ansible.builtin.debug:
    msg: "{{ plans.certificates | selectattr('needed') | map(attribute='name') | list }}"

- name: Decide whether www needs a certificate; make its key and CSR if so
  certforge.acme.acme_certificate_plan:
    cert_path: /etc/ssl/www.example.com.crt
    key_path: /etc/ssl/private/www.example.com.key
    identifiers: [www.example.com, example.com]
  register: plan

- name: Say why
  ansible.builtin.debug:
    msg: "{{ plan.action }}: {{ plan.reason }}"
"""

RETURN = r"""
certificates:
  description:
    - With O(certificates), one entry per certificate in the same order, with its O(certificates[].name) and every
      key below that a single certificate returns (RV(action), RV(needed), RV(reason), RV(csr), ...).
  returned: with O(certificates)
  type: list
  elements: dict
msg:
  description: With O(certificates), what was decided for each certificate and why, in one line.
  returned: with O(certificates)
  type: str
  sample: "www: none (valid until 2027-02-01T00:00:00+00:00); mail: renew (the names differ)"
action:
  description: V(new) (no usable certificate), V(renew) or V(none).
  returned: without O(certificates)
  type: str
  sample: renew
needed:
  description: Whether a certificate must be ordered (with O(certificates), whether any must).
  returned: always
  type: bool
reason:
  description: Why, in words.
  returned: without O(certificates)
  type: str
  sample: it expires in 29 hours, within a third of its lifetime (and its share of the spread)
csr:
  description: The CSR (PEM) for the order, when a certificate is needed (not in check mode).
  returned: when needed
  type: str
key_src:
  description: The key the CSR belongs to; pass it to M(certforge.acme.acme_certificate_deploy).
  returned: when needed
  type: str
  sample: /etc/ssl/private/www.example.com.key.pending
key_made:
  description:
    - Whether the key was made by this run. When it was, no earlier order can belong to it - an order recorded
      for this certificate is of an issuance that ended (its certificate deployed) and must not be resumed.
  returned: when needed
  type: bool
completed_deploy:
  description:
    - Whether this run found the certificate deployed with the staged key still beside it (a deploy killed after it put
      every file in place) and removed that staged key. The order of that certificate is finished.
  returned: without O(certificates)
  type: bool
lock_path:
  description: The lock this run holds on the certificate directory, with O(lock_holder), when a certificate is needed.
  returned: when needed and locked
  type: str
certificate:
  description: The certificate found, or V(null).
  returned: without O(certificates)
  type: dict
  contains:
    identifiers:
      description: Its names and IP addresses.
      type: list
      elements: str
    not_before:
      description: Start of validity (ISO 8601, UTC).
      type: str
    not_after:
      description: End of validity (ISO 8601, UTC).
      type: str
    serial:
      description: Serial number, hex.
      type: str
    issuer:
      description: The issuer's distinguished name (RFC 4514).
      type: str
    ari_id:
      description: ARI certificate identifier (RFC 9773), for renewal information and O(certforge.acme.acme_order#module:replaces).
      type: str
    key_type:
      description: Type of the current private key, or V(null) when missing.
      type: str
    renewal_due:
      description: When renewal becomes due by the expiry rule, the spread included (ISO 8601, UTC).
      type: str
"""

import datetime
import os
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certforge.acme.plugins.module_utils._acme.certificates import certificate_info, load_certificate
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import AcmeError, ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import read_file, write_file_atomically
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from ansible_collections.certforge.acme.plugins.module_utils._acme.keys import (
    build_csr,
    generate_private_key,
    key_type_of,
    load_private_key,
    private_key_pem,
    public_key_pem,
)
from ansible_collections.certforge.acme.plugins.module_utils._acme.renewal import Decision, decide, renewal_time
from ansible_collections.certforge.acme.plugins.module_utils.deploy_files import leftovers
from ansible_collections.certforge.acme.plugins.module_utils.deployed_chain import chain_problem
from ansible_collections.certforge.acme.plugins.module_utils.host_support import create_host_module
from ansible_collections.certforge.acme.plugins.module_utils.input_checks import check_at_least, check_not_directory
from ansible_collections.certforge.acme.plugins.module_utils.run_locks import LockHeld, acquire, release

PENDING_SUFFIX = ".pending"
LOCK_NAME = ".acme_certificate.lock"


def read_key(path: str) -> t.Any:
    """The private key at `path`, or None when it is missing or unreadable."""
    if not os.path.isfile(path):
        return None
    try:
        return load_private_key(read_file(path, option="key_path"), passphrase=None, option="key_path", passphrase_option="")
    except ConfigurationError:
        return None


def read_certificate(path: str) -> tuple[t.Any, str | None]:
    if not os.path.exists(path):
        return None, f"there is no certificate at {path}"
    try:
        return load_certificate(read_file(path, option="cert_path"), option="cert_path"), None
    except ConfigurationError as error:
        return None, f"the certificate at {path} is unreadable ({error})"


def signing_key(params: dict[str, t.Any], current_key: t.Any) -> tuple[t.Any, str, bool]:
    """The key for the CSR, its path, and whether it was just made.

    That is the current key (reuse_key), a staged one left by an interrupted run, or a new staged one.
    """
    if params["reuse_key"] and current_key is not None and key_type_of(current_key) == params["key_type"]:
        return current_key, params["key_path"], False
    staged_path = params["key_path"] + PENDING_SUFFIX
    staged = read_key(staged_path)
    if staged is not None and key_type_of(staged) == params["key_type"]:
        return staged, staged_path, False
    staged = generate_private_key(params["key_type"])
    directory = os.path.dirname(staged_path) or "."
    if not os.path.isdir(directory):
        # Like acme_certificate_deploy: the directory must let the files' owner (a service user) in;
        # the key file's own mode keeps others out.
        os.makedirs(directory, mode=0o755, exist_ok=True)
    write_file_atomically(staged_path, private_key_pem(staged), mode=0o600)
    return staged, staged_path, True


class Found(t.NamedTuple):
    """What is deployed now, and what follows from it."""

    certificate: t.Any
    current_key: t.Any
    decision: Decision


def inspect(params: dict[str, t.Any], wanted: list[t.Any]) -> Found:
    """Read the deployed certificate, key and chain, and decide."""
    certificate, problem = read_certificate(params["cert_path"])
    current_key = read_key(params["key_path"])
    info = certificate_info(certificate) if certificate is not None else None
    key_matches = certificate is not None and current_key is not None and public_key_pem(current_key) == public_key_pem(certificate.public_key())
    decision = decide(
        info=info,
        problem=problem,
        wanted=wanted,
        wanted_key_type=params["key_type"],
        current_key_type=key_type_of(current_key) if current_key is not None else None,
        key_matches=key_matches,
        now=datetime.datetime.now(datetime.timezone.utc),
        renew_before_days=params["renew_before_days"],
        force=params["force"],
    )
    if decision.reason == "renewal is forced" and params["force_reason"]:
        decision = decision._replace(reason=params["force_reason"])
    if not decision.needed and certificate is not None:
        broken = chain_problem(certificate, chain_path=params["chain_path"], fullchain_path=params["fullchain_path"])
        if broken:
            decision = Decision("renew", f"{broken}: getting the certificate again")
    return Found(certificate, current_key, decision)


def finished_staged_key(params: dict[str, t.Any], found: Found) -> bool:
    """Whether a staged key is the one the deployed certificate already has: left by a deploy killed
    after it installed the key, before it removed the staged copy."""
    staged = read_key(params["key_path"] + PENDING_SUFFIX)
    return staged is not None and found.certificate is not None and public_key_pem(staged) == public_key_pem(found.certificate.public_key())


def lock_path(params: dict[str, t.Any]) -> str:
    return os.path.join(os.path.dirname(params["cert_path"]) or ".", LOCK_NAME)


def take_lock(params: dict[str, t.Any]) -> str:
    path = lock_path(params)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o755, exist_ok=True)  # as the deploy makes it; another run may make it at the same moment
    acquire(path, params["lock_holder"], timeout=params["lock_timeout"], lease=params["lock_lease"])
    return path


def check_options(params: dict[str, t.Any]) -> None:
    """What the argument spec cannot say, checked before any file is read or written."""
    check_at_least(params["renew_before_days"], 0, option="renew_before_days", meaning="renew once it has expired")
    check_at_least(params["lock_timeout"], 0, option="lock_timeout", meaning="do not wait")
    check_at_least(params["lock_lease"], 1, option="lock_lease")
    for option in ("cert_path", "key_path", "chain_path", "fullchain_path"):
        check_not_directory(params[option], option=option)


class PlanFailed(Exception):
    """A certificate could not be planned; the message names the option (and the certificate, in a list)."""

    def __init__(self, msg: str, result: dict[str, t.Any] | None = None) -> None:
        super().__init__(msg)
        self.result = result or {}


def plan_certificate(params: dict[str, t.Any], *, check_mode: bool) -> dict[str, t.Any]:
    """Decide about one certificate (and lock, key and CSR it when needed): its part of the result."""
    result: dict[str, t.Any] = {"changed": False, "certificate": None, "completed_deploy": False}
    locking = params["lock_holder"] is not None and not check_mode
    held = None
    try:
        check_options(params)
        wanted = parse_identifiers(params["identifiers"])
        found = inspect(params, wanted)
        if locking and (found.decision.needed or finished_staged_key(params, found)):
            # Decide again under the lock: the run it waited for may have deployed a certificate.
            held = take_lock(params)
            found = inspect(params, wanted)
            if not found.decision.needed and finished_staged_key(params, found):
                os.unlink(params["key_path"] + PENDING_SUFFIX)
                for option in ("key_path", "cert_path", "chain_path", "fullchain_path"):
                    for leftover in leftovers(params[option]) if params[option] else []:
                        os.unlink(leftover)  # the killed deploy's saved copies of the previous files
                result["changed"] = result["completed_deploy"] = True
        decision = found.decision
        if found.certificate is not None:
            info = certificate_info(found.certificate)
            result["certificate"] = {
                "identifiers": info.dns_names + info.ip_addresses,
                "not_before": info.not_before.isoformat(),
                "not_after": info.not_after.isoformat(),
                "serial": info.serial_hex,
                "issuer": info.issuer,
                "ari_id": info.ari_id,
                "key_type": key_type_of(found.current_key) if found.current_key is not None else None,
                "renewal_due": renewal_time(info, renew_before_days=params["renew_before_days"]).isoformat(),
            }
        if decision.needed and not check_mode:
            key, key_src, made = signing_key(params, found.current_key)
            first_dns = next((item.value for item in wanted if item.type == "dns" and len(item.value) <= 64), None)
            csr = build_csr(key, wanted, common_name=first_dns)
            result.update(csr=csr.decode("ascii"), key_src=key_src, key_made=made, changed=result["changed"] or made)
            if held:
                result["lock_path"] = held
        elif held:
            release(held, params["lock_holder"])
            held = None
    except LockHeld as error:
        raise PlanFailed(f"cert_path: {error}") from None
    except AcmeError as error:
        release_quietly(held, params["lock_holder"])
        raise PlanFailed(str(error), error.to_result()) from None
    except OSError as error:
        release_quietly(held, params["lock_holder"])
        raise PlanFailed(f"key_path: cannot write the new key beside {params['key_path']}: {error.strerror}") from None
    # In check mode a certificate that would be issued is the change the run would make.
    result["changed"] = result["changed"] or (check_mode and decision.needed)
    return {"action": decision.action, "needed": decision.needed, "reason": decision.reason, **result}


def plan_certificates(params: dict[str, t.Any], *, check_mode: bool) -> dict[str, t.Any]:
    """Every certificate of O(certificates) in turn; a failure releases the locks taken for the others."""
    shared = {option: params[option] for option in SHARED_OPTIONS}
    planned: list[dict[str, t.Any]] = []
    for entry in params["certificates"]:
        try:
            planned.append({"name": entry["name"], **plan_certificate({**entry, **shared}, check_mode=check_mode)})
        except PlanFailed as error:
            for earlier in planned:
                release_quietly(earlier.get("lock_path"), params["lock_holder"])
            raise PlanFailed(f"{error} (certificate {entry['name']})", error.result) from None
    decisions = "; ".join(f"{entry['name']}: {entry['action']} ({entry['reason']})" for entry in planned)
    return {
        "changed": any(entry["changed"] for entry in planned),
        "needed": any(entry["needed"] for entry in planned),
        "certificates": planned,
        "msg": decisions or "no certificates",
    }


# What every certificate of O(certificates) shares; the rest is per certificate.
SHARED_OPTIONS = ("lock_holder", "lock_timeout", "lock_lease")
CERTIFICATE_OPTIONS: dict[str, dict[str, t.Any]] = {
    "cert_path": {"type": "path"},
    "key_path": {"type": "path", "no_log": False},  # a path, not the key
    "identifiers": {"type": "list", "elements": "raw"},
    "key_type": {"type": "str", "choices": ["ec256", "ec384", "rsa2048", "rsa3072", "rsa4096"], "default": "ec256"},
    "reuse_key": {"type": "bool", "default": False},
    "renew_before_days": {"type": "int"},
    "force": {"type": "bool", "default": False},
    "force_reason": {"type": "str"},
    "chain_path": {"type": "path"},
    "fullchain_path": {"type": "path"},
}
REQUIRED_PER_CERTIFICATE = ("cert_path", "key_path", "identifiers")


def main() -> None:
    module: AnsibleModule = create_host_module(
        argument_spec={
            **CERTIFICATE_OPTIONS,
            "certificates": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "name": {"type": "str", "required": True},
                    **{option: {**spec, "required": True} if option in REQUIRED_PER_CERTIFICATE else spec for option, spec in CERTIFICATE_OPTIONS.items()},
                },
            },
            "lock_holder": {"type": "dict"},
            "lock_timeout": {"type": "int", "default": 300},
            "lock_lease": {"type": "int", "default": 3600},
        },
        mutually_exclusive=[("certificates", option) for option in REQUIRED_PER_CERTIFICATE],
        required_one_of=[("certificates", "cert_path")],
        required_by={"cert_path": ("key_path", "identifiers")},
        libraries=["cryptography"],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["certificates"] is not None:
            result = plan_certificates(params, check_mode=module.check_mode)
        else:
            result = plan_certificate(params, check_mode=module.check_mode)
    except PlanFailed as error:
        module.fail_json(msg=str(error), **error.result)
    module.exit_json(**result)


def release_quietly(path: str | None, holder: dict[str, t.Any] | None) -> None:
    """Give the lock back after a failure; a lock left behind is taken over by the next run anyway."""
    if path and holder is not None:
        try:
            release(path, holder)
        except OSError:
            pass


if __name__ == "__main__":
    main()
