# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _certificate_specs
short_description: Role glue - complete the certificate list of the acme_certificate role with its defaults
description:
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
  - Fills in every field of each entry of C(acme_certificate_certificates) from the role-wide defaults,
    derives the file paths, and adds the bare domain for C(www.) names when asked.
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
    specs: "{{ [{'name': 'www', 'identifiers': ['www.example.com']}] | certforge.acme._certificate_specs({'dir': '/etc/ssl/acme', 'add_bare_domain': true}) }}"
  # specs[0].identifiers == ['www.example.com', 'example.com'], specs[0].cert_path == '/etc/ssl/acme/www/cert.pem'
"""

RETURN = r"""
_value:
  description: The entries with every field set.
  type: list
  elements: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.certforge.acme.plugins.filter._role_input_problems import certificate_problems

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
    "profile",
    "select_chain",
)
FILE_NAMES = {"cert_path": "cert.pem", "key_path": "privkey.pem", "chain_path": "chain.pem", "fullchain_path": "fullchain.pem"}


def _identifiers(entry: dict[str, t.Any], add_bare_domain: bool) -> list[str]:
    names = [str(name).strip().lower() for name in entry["identifiers"]]
    if add_bare_domain:
        for name in list(names):
            bare = name[4:] if name.startswith("www.") else None
            if bare and bare not in names:
                names.append(bare)
    return names


def complete(entry: dict[str, t.Any], defaults: dict[str, t.Any], *, index: int = 0) -> dict[str, t.Any]:
    name = entry["name"]
    spec = {field: entry[field] if entry.get(field) is not None else defaults.get(field) for field in INHERITED}
    directory = f"{str(defaults.get('dir', '/etc/ssl/acme')).rstrip('/')}/{name}"
    for field, file_name in FILE_NAMES.items():
        spec[field] = entry.get(field) or f"{directory}/{file_name}"
    spec.update(
        name=name,
        identifiers=_identifiers(entry, bool(spec["add_bare_domain"])),
        combined_path=entry.get("combined_path") or "",
        challenge_overrides=entry.get("challenge_overrides") or {},
        webroot_hosts=list(entry.get("webroot_hosts") or []),
        notify=list(spec["notify"] or []),
        profile=str(spec["profile"] or ""),
        select_chain=list(spec["select_chain"] or []),
        # Which variable set the profile, so that a profile the CA does not offer is refused naming it.
        profile_variable=f"acme_certificate_certificates[{index}].profile" if entry.get("profile") is not None else "acme_certificate_profile",
        # Likewise for a challenge type the CA does not offer for a name.
        challenge_variable=f"acme_certificate_certificates[{index}].challenge" if entry.get("challenge") is not None else "acme_certificate_challenge",
        overrides_variable=f"acme_certificate_certificates[{index}].challenge_overrides",
    )
    return spec


def certificate_specs(entries: list[dict[str, t.Any]], defaults: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    # The role checks the entries in a task of its own first (role_input_problems), where the message
    # reaches the user as it is; raising here, inside a template, would wrap it in Ansible's error.
    problems = certificate_problems(entries or [])
    if problems:
        raise AnsibleFilterError(problems[0])
    return [complete(entry, defaults, index=index) for index, entry in enumerate(entries or [])]


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_certificate_specs": certificate_specs}
