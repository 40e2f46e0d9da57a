#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_certificate_metrics
short_description: Record certificate renewals in the host's Prometheus textfile-collector file
version_added: 0.1.0
description:
  - Runs on the host that uses the certificates. Keeps one file for node_exporter's textfile collector with, per
    certificate (label C(certificate), its name), the gauges C(certforge_acme_certificate_expiry_timestamp_seconds),
    C(certforge_acme_certificate_last_renewal_timestamp_seconds), C(certforge_acme_certificate_last_attempt_timestamp_seconds)
    and C(certforge_acme_certificate_last_attempt_failed) (1 or 0).
  - M(certforge.acme.acme_certificate_deploy) writes the same file with its O(certforge.acme.acme_certificate_deploy#module:metrics_file)
    when it deploys; this module records what never reached the deploy (a renewal that failed before it) and forgets
    certificates that are removed. The C(certforge.acme.acme_certificate) role calls it for both.
  - The file is replaced in one rename, under a lock on its directory; the other certificates' lines are kept.
    It is removed when no certificate is left in it.
extends_documentation_fragment:
  - certforge.acme.host_requirements
attributes:
  check_mode:
    description: Reports whether the file would change; writes nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: Each recorded attempt carries the time of the run, so recording attempts changes the file every time; O(remove) alone is idempotent.
    support: partial
options:
  path:
    description: The file, in node_exporter's textfile directory (its C(--collector.textfile.directory)); the name must end with C(.prom).
    type: path
    required: true
  attempts:
    description: The certificates this run tried to get, with the outcome.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The certificate's name (the C(certificate) label).
        type: str
        required: true
      failed:
        description: Whether the attempt failed. A successful one also sets the time of the last renewal.
        type: bool
        required: true
      cert_path:
        description: Where the certificate in use is; its expiry is read from there. Without it, or while it does not exist, the expiry recorded before stays.
        type: path
  remove:
    description: Names of certificates to drop from the file (their certificate was removed from the host).
    type: list
    elements: str
    default: []
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Record that the renewal of www failed (the certificate in place keeps serving)
  certforge.acme.acme_certificate_metrics:
    path: /var/lib/prometheus/node-exporter/acme_certificates.prom
    attempts:
      - name: www
        failed: true
        cert_path: /etc/ssl/acme/www/cert.pem

- name: Forget a certificate that was revoked and removed
  certforge.acme.acme_certificate_metrics:
    path: /var/lib/prometheus/node-exporter/acme_certificates.prom
    remove:
      - www
"""

RETURN = r"""
changed:
  description: Whether the file was (or in check mode would be) written or removed.
  returned: always
  type: bool
"""

import time
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certforge.acme.plugins.module_utils.certificate_metrics import (
    Attempt,
    check_metrics_file,
    deployed_expiry,
    update_metrics_file,
)
from ansible_collections.certforge.acme.plugins.module_utils.host_support import create_host_module, failing_on_host_errors


def would_change(path: str, attempts: list[dict[str, t.Any]], remove: list[str]) -> bool:
    """In check mode: an attempt always changes the file; a removal only of a name it has."""
    if attempts:
        return True
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return False
    return any(f'certificate="{name}"' in text for name in remove)


def main() -> None:
    module: AnsibleModule = create_host_module(
        argument_spec={
            "path": {"type": "path", "required": True},
            "attempts": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "failed": {"type": "bool", "required": True},
                    "cert_path": {"type": "path"},
                },
            },
            "remove": {"type": "list", "elements": "str", "default": []},
        },
        libraries=["cryptography"],
        supports_check_mode=True,
    )
    params = module.params
    with failing_on_host_errors(module):
        check_metrics_file(params["path"], option="path")
    if module.check_mode:
        module.exit_json(changed=would_change(params["path"], params["attempts"], params["remove"]))
    attempts = [Attempt(entry["name"], entry["failed"], deployed_expiry(entry["cert_path"])) for entry in params["attempts"]]
    try:
        changed = update_metrics_file(params["path"], attempts=attempts, remove=params["remove"], now=time.time())
    except OSError as error:
        module.fail_json(msg=f"path: cannot write {error.filename or params['path']}: {error.strerror}")
    module.exit_json(changed=changed)


if __name__ == "__main__":
    main()
