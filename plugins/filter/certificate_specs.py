# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: certificate_specs
short_description: Complete the certificate list of the acme_certificate role with its defaults
version_added: 0.1.0
description:
  - Fills in every field of each entry of C(acme_certificate_certificates) from the role-wide defaults,
    derives the file paths, and adds the bare domain for C(www.) names when asked.
  - Used by the C(certforge.acme.acme_certificate) role; documented so the role's behaviour can be read in one place.
positional: defaults
options:
  _input:
    description: The list of certificates, as C(acme_certificate_certificates).
    type: list
    elements: dict
    required: true
  defaults:
    description: Role-wide values for fields an entry leaves out (key_type, challenge, dir, owner, ...).
    type: dict
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Complete the list
  ansible.builtin.set_fact:
    specs: "{{ [{'name': 'www', 'identifiers': ['www.example.com']}] | certforge.acme.certificate_specs({'dir': '/etc/ssl/acme', 'add_bare_domain': true}) }}"
  # specs[0].identifiers == ['www.example.com', 'example.com'], specs[0].cert_path == '/etc/ssl/acme/www/cert.pem'
"""

RETURN = r"""
_value:
  description: The entries with every field set.
  type: list
  elements: dict
"""

import re
import typing as t

from ansible.errors import AnsibleFilterError

# Fields an entry may set for itself, falling back to the role-wide value of the same name.
INHERITED = (
    "key_type",
    "reuse_key",
    "renew_before_days",
    "force",
    "owner",
    "group",
    "mode",
    "key_mode",
    "backup",
    "verify_key",
    "notify",
    "challenge",
    "webroot",
    "webroot_owner",
    "webroot_group",
    "add_bare_domain",
)
FILE_NAMES = {"cert_path": "cert.pem", "key_path": "privkey.pem", "chain_path": "chain.pem", "fullchain_path": "fullchain.pem"}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _identifiers(entry: dict[str, t.Any], add_bare_domain: bool) -> list[str]:
    names = [str(name).strip().lower() for name in entry.get("identifiers") or []]
    if not names:
        raise AnsibleFilterError(f"acme_certificate_certificates: {entry.get('name')!r} lists no identifiers")
    if add_bare_domain:
        for name in list(names):
            bare = name[4:] if name.startswith("www.") else None
            if bare and bare not in names:
                names.append(bare)
    return names


def _webroot_hosts(entry: dict[str, t.Any], name: str) -> list[str]:
    hosts = entry.get("webroot_hosts") or []
    # A bare string would be read letter by letter as host names to connect to.
    if not isinstance(hosts, list) or not all(isinstance(host, str) and host for host in hosts):
        raise AnsibleFilterError(f"acme_certificate_certificates: {name}: webroot_hosts must be a list of inventory host names, e.g. [web1, web2]")
    return list(hosts)


def complete(entry: dict[str, t.Any], defaults: dict[str, t.Any]) -> dict[str, t.Any]:
    name = str(entry.get("name") or "")
    if not _SAFE_NAME.match(name):
        raise AnsibleFilterError(
            f"acme_certificate_certificates: each entry needs a name of letters, digits, '.', '_' or '-' "
            f"(it names the files and the order state), not {name!r}"
        )
    spec = {field: entry[field] if entry.get(field) is not None else defaults.get(field) for field in INHERITED}
    directory = f"{str(defaults.get('dir', '/etc/ssl/acme')).rstrip('/')}/{name}"
    for field, file_name in FILE_NAMES.items():
        spec[field] = entry.get(field) or f"{directory}/{file_name}"
    spec.update(
        name=name,
        identifiers=_identifiers(entry, bool(spec["add_bare_domain"])),
        combined_path=entry.get("combined_path") or "",
        challenge_overrides=entry.get("challenge_overrides") or {},
        webroot_hosts=_webroot_hosts(entry, name),
        notify=list(spec["notify"] or []),
    )
    return spec


def certificate_specs(entries: list[dict[str, t.Any]], defaults: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    specs = [complete(entry, defaults) for entry in entries or []]
    names = [spec["name"] for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AnsibleFilterError(f"acme_certificate_certificates: the names {', '.join(duplicates)} are used more than once")
    return specs


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"certificate_specs": certificate_specs}
