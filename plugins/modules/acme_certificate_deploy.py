#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_certificate_deploy
short_description: Install a certificate, its chain and its key on the host, atomically
version_added: 0.1.0
description:
  - Runs on the host that uses the certificate. Writes the certificate, chain, full chain and
    optionally one combined PEM (full chain and key, as HAProxy wants it) in one invocation,
    each atomically and only when its content changes, keeping a backup of the previous files.
  - Installs the key staged by M(certforge.acme.acme_certificate_plan) (O(key_src)) in place of the
    old key, after checking that the certificate belongs to it; nothing is written when it does not.
  - Every changed file is staged beside its target first, then renamed in place key first, so a new
    certificate never stands beside the old key. A failure part way puts the previous files back and
    the error says which files are in place. The staged key is removed only after all files are in place,
    so a run killed part way is completed by the next one.
  - O(certificates) deploys all certificates of the host in one run (one module process, not one per C(loop) item);
    one that cannot be deployed does not keep the others from being deployed, and the module fails naming it.
  - O(remove_http01) removes the host's http-01 challenge files in the same run, once the certificates are here
    (the CA has looked at them by then), whether or not each one could be deployed.
extends_documentation_fragment:
  - certforge.acme.host_requirements
  - certforge.acme._certificate_options.deploy
attributes:
  check_mode:
    description: Reports which files would change; writes nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: Files whose content and attributes are already right are left alone.
    support: full
options:
  release_locks:
    description:
      - Locks taken by M(certforge.acme.acme_certificate_plan) (its RV(certforge.acme.acme_certificate_plan#module:lock_path))
        to release in the same run, once the certificates are deployed or not, as
        M(certforge.acme.acme_certificate_lock) with O(certforge.acme.acme_certificate_lock#module:state=absent) would.
        A lock another run holds now is left alone.
    type: list
    elements: path
    default: []
  lock_holder:
    description: Who took the locks of O(release_locks), as C(lookup('certforge.acme.lock_holder')) gives it.
    type: dict
  remove_http01:
    description:
      - http-01 challenge files to remove from this host once the certificates are deployed, as
        M(certforge.acme.acme_http01_files) with O(certforge.acme.acme_http01_files#module:state=absent) would.
    type: list
    elements: dict
    default: []
    suboptions:
      webroot:
        description: The document root the files are in.
        type: path
        required: true
      challenge_data:
        description: RV(certforge.acme.acme_order#module:challenge_data) of the orders; only its http-01 files are removed.
        type: dict
        required: true
  metrics_file:
    description:
      - A file in node_exporter's textfile directory (name ending in C(.prom)) where the outcome of each certificate of
        O(certificates) is recorded, as M(certforge.acme.acme_certificate_metrics) does - its expiry, the time of this
        renewal, and whether it failed. Requires O(certificates). Not written in check mode.
      - A file that cannot be written is a warning, not a failure - the certificates are deployed by then.
    type: path
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Deploy what acme_finalize returned, with the key acme_certificate_plan staged
  certforge.acme.acme_certificate_deploy:
    cert: "{{ issued.cert }}"
    chain: "{{ issued.chain }}"
    key_src: "{{ plan.key_src }}"
    cert_path: /etc/ssl/www.example.com.crt
    fullchain_path: /etc/ssl/www.example.com-fullchain.crt
    key_path: /etc/ssl/private/www.example.com.key
    owner: root
    group: ssl-cert
  notify: Reload nginx
"""

RETURN = r"""
certificates:
  description:
    - With O(certificates), one entry per certificate in the same order - C(name), C(failed), C(msg) (when failed),
      C(changed), C(changed_files) and C(backup_files).
  returned: with O(certificates)
  type: list
  elements: dict
locks_released:
  description: The locks of O(release_locks) this run released (none in check mode).
  returned: always
  type: list
  elements: str
http01_removed:
  description: The http-01 files of O(remove_http01) that were (or in check mode would be) removed.
  returned: always
  type: list
  elements: str
changed_files:
  description: The files that were (or in check mode would be) written (of every certificate, with O(certificates)).
  returned: always
  type: list
  elements: str
backup_files:
  description: Copies of the replaced files.
  returned: always
  type: list
  elements: str
metrics_changed:
  description: Whether O(metrics_file) was written (never in check mode).
  returned: with O(metrics_file)
  type: bool
"""

import grp
import os
import pwd
import time
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certforge.acme.plugins.module_utils._acme.certificates import load_certificate
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import AcmeError, ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import read_file
from ansible_collections.certforge.acme.plugins.module_utils.certificate_metrics import (
    Attempt,
    certificate_expiry,
    check_metrics_file,
    deployed_expiry,
    update_metrics_file,
)
from ansible_collections.certforge.acme.plugins.module_utils.deploy_files import DeployFailed, DeployFile, install
from ansible_collections.certforge.acme.plugins.module_utils._acme.keys import load_private_key, public_key_pem
from ansible_collections.certforge.acme.plugins.module_utils.file_attributes import apply_file_attributes
from ansible_collections.certforge.acme.plugins.module_utils.http01_files import challenge_files
from ansible_collections.certforge.acme.plugins.module_utils.host_support import create_host_module, failing_on_host_errors
from ansible_collections.certforge.acme.plugins.module_utils.input_checks import check_file_mode, check_not_directory
from ansible_collections.certforge.acme.plugins.module_utils.run_locks import release


def _text(pem: str) -> bytes:
    return (pem.strip() + "\n").encode("ascii") if pem.strip() else b""


class PlannedFile(t.NamedTuple):
    option: str
    path: str
    content: bytes
    mode: t.Any


def planned_files(params: dict[str, t.Any], key_pem: bytes) -> list[PlannedFile]:
    """Every file to deploy, with the option that names it (for error messages), in the order they are
    put in place: the key before any certificate that needs it."""
    cert, chain = _text(params["cert"]), _text(params["chain"])
    files = [PlannedFile("key_path", params["key_path"], key_pem, params["key_mode"]), PlannedFile("cert_path", params["cert_path"], cert, params["mode"])]
    if params["chain_path"]:
        files.append(PlannedFile("chain_path", params["chain_path"], chain, params["mode"]))
    if params["fullchain_path"]:
        files.append(PlannedFile("fullchain_path", params["fullchain_path"], cert + chain, params["mode"]))
    if params["combined_path"]:
        files.append(PlannedFile("combined_path", params["combined_path"], cert + chain + key_pem, params["key_mode"]))
    return files


def owner_ids(params: dict[str, t.Any]) -> tuple[int | None, int | None]:
    """uid and gid of owner/group, checked before anything is written."""
    uid = gid = None
    try:
        if params["owner"]:
            uid = int(params["owner"]) if params["owner"].isdigit() else pwd.getpwnam(params["owner"]).pw_uid
    except KeyError:
        raise ConfigurationError(f"there is no user {params['owner']!r} on this host; nothing was deployed", option="owner") from None
    try:
        if params["group"]:
            gid = int(params["group"]) if params["group"].isdigit() else grp.getgrnam(params["group"]).gr_gid
    except KeyError:
        raise ConfigurationError(f"there is no group {params['group']!r} on this host; nothing was deployed", option="group") from None
    return uid, gid


def check_options(params: dict[str, t.Any]) -> None:
    """What the argument spec cannot say, checked before anything is read or written."""
    check_file_mode(params["mode"], option="mode")
    check_file_mode(params["key_mode"], option="key_mode")
    for option in ("cert_path", "key_path", "key_src", "chain_path", "fullchain_path", "combined_path"):
        check_not_directory(params[option], option=option)


class CertificateNotDeployed(Exception):
    """One certificate could not be deployed; the message says which files are in place."""


def deploy_certificate(module: AnsibleModule, params: dict[str, t.Any]) -> dict[str, t.Any]:
    """Put one certificate's files in place: which changed, and the backups of the replaced ones."""
    # Name the option the user gave: without key_src, the key is read from key_path.
    key_src, key_option = (params["key_src"], "key_src") if params["key_src"] else (params["key_path"], "key_path")
    backups: list[str] = []
    try:
        check_options(params)
        certificate = load_certificate(params["cert"], option="cert")
        key_pem = read_file(key_src, option=key_option)
        key = load_private_key(key_pem, passphrase=None, option=key_option, passphrase_option="")
        if params["verify_key"] and public_key_pem(key) != public_key_pem(certificate.public_key()):
            raise ConfigurationError(f"the certificate does not belong to the key {key_src}; nothing was deployed", option="cert")
        uid, gid = owner_ids(params)  # a typo in owner/group fails here, in check mode too
        files = planned_files(params, key_pem)
        changed = [item for item in files if not os.path.isfile(item.path) or read_file(item.path, option=item.option) != item.content]
        changed_files = [item.path for item in changed]
        if changed and not module.check_mode:
            backups = install(
                [DeployFile(item.option, item.path, item.content) for item in changed],
                uid=uid,
                gid=gid,
                backup=module.backup_local if params["backup"] else None,
            )
        for item in files:
            attributes_changed = os.path.exists(item.path) and apply_file_attributes(
                module, item.path, owner=params["owner"], group=params["group"], mode=item.mode
            )
            if attributes_changed and item.path not in changed_files:
                changed_files.append(item.path)
        if key_src != params["key_path"] and not module.check_mode and os.path.exists(key_src):
            os.unlink(key_src)  # its content is now at key_path
    except DeployFailed as error:
        raise CertificateNotDeployed(str(error)) from None
    except AcmeError as error:
        raise CertificateNotDeployed(str(error)) from None
    except OSError as error:
        raise CertificateNotDeployed(f"cannot deploy to {error.filename}: {error.strerror}; the previous files are in place") from None
    return {"changed": bool(changed_files), "changed_files": changed_files, "backup_files": backups}


def remove_http01_files(module: AnsibleModule, places: list[dict[str, t.Any]]) -> list[str]:
    """Remove the http-01 files the CA has looked at; which were there."""
    removed = []
    for place in places:
        try:
            paths = challenge_files(place["webroot"], place["challenge_data"])
        except (KeyError, ValueError) as error:
            module.fail_json(msg=f"remove_http01: not the challenge data of acme_order ({error})")
        for path in paths:
            if os.path.exists(path):
                removed.append(path)
                if not module.check_mode:
                    os.unlink(path)
    return removed


def release_locks(module: AnsibleModule, paths: list[str], holder: dict[str, t.Any] | None) -> list[str]:
    """Give back the locks of O(release_locks) this run holds; which were released."""
    if not paths:
        return []
    if holder is None:
        module.fail_json(msg="lock_holder: give the holder that took the locks of release_locks (lookup('certforge.acme.lock_holder'))")
    if module.check_mode:
        return []
    return [path for path in paths if release(path, holder)]


def record_metrics(module: AnsibleModule, path: str, entries: list[dict[str, t.Any]], deployed: list[dict[str, t.Any]]) -> bool:
    """Record each certificate's outcome in the textfile-collector file; whether it changed. A failed one keeps
    the expiry of the certificate still in place."""
    attempts = [
        Attempt(entry["name"], outcome["failed"], deployed_expiry(entry["cert_path"]) if outcome["failed"] else certificate_expiry(entry["cert"]))
        for entry, outcome in zip(entries, deployed)
    ]
    try:
        return update_metrics_file(path, attempts=attempts, now=time.time())
    except OSError as error:
        module.warn(f"metrics_file: cannot write {error.filename or path}: {error.strerror}; the certificates are deployed")
        return False


# The options of one certificate; with O(certificates) each entry has them (and a name).
CERTIFICATE_OPTIONS: dict[str, dict[str, t.Any]] = {
    "cert": {"type": "str"},
    "chain": {"type": "str", "default": ""},
    "cert_path": {"type": "path"},
    "key_path": {"type": "path", "no_log": False},
    "key_src": {"type": "path", "no_log": False},
    "chain_path": {"type": "path"},
    "fullchain_path": {"type": "path"},
    "combined_path": {"type": "path"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "mode": {"type": "raw", "default": "0644"},
    "key_mode": {"type": "raw", "default": "0600", "no_log": False},
    "backup": {"type": "bool", "default": True},
    "verify_key": {"type": "bool", "default": True},
}
REQUIRED_PER_CERTIFICATE = ("cert", "cert_path", "key_path")


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
            "release_locks": {"type": "list", "elements": "path", "default": []},
            "metrics_file": {"type": "path"},
            "lock_holder": {"type": "dict"},
            "remove_http01": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {"webroot": {"type": "path", "required": True}, "challenge_data": {"type": "dict", "required": True}},
            },
        },
        mutually_exclusive=[("certificates", option) for option in REQUIRED_PER_CERTIFICATE],
        required_one_of=[("certificates", "cert")],
        required_by={"cert": ("cert_path", "key_path"), "metrics_file": ("certificates",)},
        libraries=["cryptography"],
        supports_check_mode=True,
    )
    params = module.params
    if params["metrics_file"]:
        with failing_on_host_errors(module):  # before anything is deployed
            check_metrics_file(params["metrics_file"], option="metrics_file")
    if params["certificates"] is None:
        try:
            result = deploy_certificate(module, params)
        except CertificateNotDeployed as error:
            module.fail_json(
                msg=str(error),
                http01_removed=remove_http01_files(module, params["remove_http01"]),
                locks_released=release_locks(module, params["release_locks"], params["lock_holder"]),
            )
        module.exit_json(
            **result,
            http01_removed=remove_http01_files(module, params["remove_http01"]),
            locks_released=release_locks(module, params["release_locks"], params["lock_holder"]),
        )
    deployed = []
    for entry in params["certificates"]:
        try:
            deployed.append({"name": entry["name"], "failed": False, **deploy_certificate(module, entry)})
        except CertificateNotDeployed as error:
            # One certificate that cannot be deployed must not keep the others of the host from being deployed.
            deployed.append({"name": entry["name"], "failed": True, "msg": str(error), "changed": False, "changed_files": [], "backup_files": []})
    # Once the certificates are here the CA has looked at the challenges: they go in the same run, and so do
    # the locks of the certificate directories (nothing else happens on the host for them in this run).
    removed = remove_http01_files(module, params["remove_http01"])
    released = release_locks(module, params["release_locks"], params["lock_holder"])
    result = {
        "locks_released": released,
        "changed": any(entry["changed"] for entry in deployed) or bool(removed),
        "certificates": deployed,
        "http01_removed": removed,
        "changed_files": [path for entry in deployed for path in entry["changed_files"]],
        "backup_files": [path for entry in deployed for path in entry["backup_files"]],
    }
    if params["metrics_file"]:
        result["metrics_changed"] = not module.check_mode and record_metrics(module, params["metrics_file"], params["certificates"], deployed)
        result["changed"] = result["changed"] or result["metrics_changed"]
    failures = [f"{entry['name']}: {entry['msg']}" for entry in deployed if entry["failed"]]
    if failures:
        module.fail_json(msg="; ".join(failures), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
