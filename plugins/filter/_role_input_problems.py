# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _role_input_problems
short_description: Role glue - what is wrong with the variables of the acme_certificate role, before it does anything
description:
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
  - Checks what C(meta/argument_specs.yml) cannot express - number ranges, file modes, absolute paths, an
    https directory URL, IP addresses, an account key given both as a file and as a value or one that does not open,
    a profile that is no name, chain criteria that are not criteria, an incomplete External Account Binding or one
    whose HMAC key is not as the CA issued it, a contact address that is no address (or a C(mailto:) URL), a
    dns-persist-01 end that is no time, and for each entry of C(acme_certificate_certificates) a usable name
    used once, identifiers the CA can take, and C(webroot_hosts) as a list.
  - Returns the problems instead of raising, so that the role fails in an C(ansible.builtin.assert) with the
    problem itself as its one-line message, naming the variable (C(acme_certificate_certificates[1].name)) and the fix.
options:
  _input:
    description: Role variable name -> value, for the variables to check; names the check does not know are ignored.
    type: dict
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Refuse bad variables before anything is done
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
    quiet: true
  vars:
    problems: "{{ {'acme_certificate_challenge_timeout': -5} | certforge.acme._role_input_problems }}"
  # problems == ['acme_certificate_challenge_timeout: must be 0 (look once, do not wait) or more, not -5']
"""

RETURN = r"""
_value:
  description: One line per problem, each naming the variable and what to give instead; empty when all is well.
  type: list
  elements: str
"""

import os
import re
import typing as t
from urllib.parse import urlparse

from ansible_collections.certforge.acme.plugins.module_utils._acme.chains import CRITERIA as CHAIN_CRITERIA
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifier, parse_identifiers
from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import EAB_ALGORITHMS, eab_secret
from ansible_collections.certforge.acme.plugins.module_utils._acme.keys import load_private_key
from ansible_collections.certforge.acme.plugins.module_utils._acme.timestamps import parse_rfc3339
from ansible_collections.certforge.acme.plugins.module_utils.input_checks import check_at_least, check_file_mode, check_ip_address, check_port

CERTIFICATES = "acme_certificate_certificates"
CHALLENGE_TYPES = ("http-01", "dns-01", "tls-alpn-01", "dns-persist-01")
# The name becomes a directory on the host and part of state file names on the controller.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Role variable -> (smallest value, what that smallest value does).
MINIMUMS = {
    "acme_certificate_request_timeout": (1, ""),
    "acme_certificate_retry_timeout": (0, "no retries"),
    "acme_certificate_lock_timeout": (0, "do not wait"),
    "acme_certificate_lock_lease": (1, ""),
    "acme_certificate_renew_before_days": (0, "renew when a third of the lifetime is left"),
    "acme_certificate_challenge_timeout": (0, "look once, do not wait"),
    "acme_certificate_dns_propagation_timeout": (0, "do not wait"),
}
PORTS = ("acme_certificate_rfc2136_port", "acme_certificate_tls_alpn_port")
MODES = ("acme_certificate_mode", "acme_certificate_key_mode")
# The state directory too: modules and the role's lookups would resolve a relative one against different directories.
ABSOLUTE_PATHS = (
    "acme_certificate_dir",
    "acme_certificate_webroot",
    "acme_certificate_state_dir",
    "acme_certificate_metrics_file",
    "acme_certificate_report_dir",
)
ENTRY_PATHS = ("webroot", "cert_path", "key_path", "chain_path", "fullchain_path", "combined_path")


class Problems:
    """Collects the message of every check that fails, instead of stopping at the first."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def check(self, function: t.Callable[..., None], *args: t.Any, **kwargs: t.Any) -> bool:
        """Run one check; False (and its message kept) when it fails."""
        try:
            function(*args, **kwargs)
        except ConfigurationError as error:
            self.lines.append(str(error))
            return False
        return True


def _check_minimum(value: t.Any, minimum: int, *, name: str, meaning: str) -> None:
    # argument_specs accepts "10" from extra vars as an int without converting it.
    number = None if isinstance(value, bool) else _as_int(value)
    if number is None:
        raise ConfigurationError(f"must be a whole number, not {value!r}", option=name)
    check_at_least(number, minimum, option=name, meaning=meaning)


def _check_port(value: t.Any, *, name: str) -> None:
    number = None if isinstance(value, bool) else _as_int(value)
    if number is None:
        raise ConfigurationError(f"must be a port between 1 and 65535, not {value!r}", option=name)
    check_port(number, option=name)


def _as_int(value: t.Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _check_absolute(value: t.Any, *, name: str) -> None:
    text = str(value or "")
    # ~ is expanded on the host by the modules' path options.
    if text and not (os.path.isabs(text) or text.startswith("~")):
        raise ConfigurationError(f"{text!r} is relative; give an absolute path", option=name)


def _check_directory_url(value: t.Any, *, name: str) -> None:
    parsed = urlparse(str(value))
    if parsed.scheme != "https" or not parsed.netloc:
        raise ConfigurationError(
            f"{value!r} is not an https:// URL; give the CA's ACME directory URL, such as https://acme-v02.api.letsencrypt.org/directory",
            option=name,
        )


def _check_name(value: t.Any, *, name: str) -> None:
    if not isinstance(value, str) or not SAFE_NAME.match(value):
        raise ConfigurationError(
            f"{value!r} cannot name the certificate's directory and state files; use letters, digits, '.', '_' or '-', such as www",
            option=name,
        )


def _check_identifiers(value: t.Any, *, name: str) -> None:
    if not isinstance(value, list) or not value:
        raise ConfigurationError(f"must be a list of DNS names and IP addresses, such as [www.example.com], not {value!r}", option=name)
    parse_identifiers(value, option=name)


def _check_challenge_overrides(value: t.Any, *, name: str) -> None:
    if not isinstance(value, dict):
        raise ConfigurationError(f"must map identifiers to challenge types, such as {{'*.example.com': dns-01}}, not {value!r}", option=name)
    for identifier, challenge in value.items():
        parse_identifier(str(identifier), option=name)
        if challenge not in CHALLENGE_TYPES:
            raise ConfigurationError(f"{identifier} maps to {challenge!r}; use one of {', '.join(CHALLENGE_TYPES)}", option=name)


def _check_webroot_hosts(value: t.Any, *, name: str) -> None:
    # A bare string would be read letter by letter as host names to connect to.
    if not isinstance(value, list) or not all(isinstance(host, str) and host for host in value):
        raise ConfigurationError(f"must be a list of inventory host names, such as [web1, web2], not {value!r}", option=name)


def _check_profile(value: t.Any, *, name: str) -> None:
    # The CA's own list decides which names exist; that is checked once the account step has read its directory.
    if not isinstance(value, str):
        raise ConfigurationError(f"must be the name of a profile the CA offers, such as shortlived, or '' for its default; not {value!r}", option=name)


def _check_select_chain(value: t.Any, *, name: str) -> None:
    example = "such as [{issuer_common_name: ISRG Root X1}]"
    if not isinstance(value, list):
        raise ConfigurationError(f"must be a list of criteria, {example}, not {value!r}", option=name)
    for index, criterion in enumerate(value):
        if not isinstance(criterion, dict):
            raise ConfigurationError(f"must be a criterion with {', '.join(CHAIN_CRITERIA)}, {example}, not {criterion!r}", option=f"{name}[{index}]")
        unknown = sorted(str(key) for key in criterion if key not in CHAIN_CRITERIA)
        if unknown:
            raise ConfigurationError(f"unknown criteria {', '.join(unknown)}; use {', '.join(CHAIN_CRITERIA)}", option=f"{name}[{index}]")
        # An empty criterion would match the first chain, whatever the entries after it say.
        if not any(criterion.get(key) not in (None, "") for key in CHAIN_CRITERIA):
            raise ConfigurationError(f"is empty and would match any chain; give {', '.join(CHAIN_CRITERIA)} or remove it", option=f"{name}[{index}]")


def _check_account_email(value: t.Any, *, name: str) -> None:
    text = str(value or "")
    if not text:
        return
    # The role makes the mailto: URL (RFC 8555 section 7.3); the CA refuses one given twice, after the account is made.
    if text.lower().startswith("mailto:"):
        raise ConfigurationError(f"give the address alone, such as {text[7:]!r} (the role adds mailto:), not {text!r}", option=name)
    local, at, domain = text.partition("@")
    if not (local and at and "." in domain) or any(character.isspace() or character in "@,;<>" for character in local + domain):
        raise ConfigurationError(f"{text!r} is not an email address; give one such as admin@example.com, or '' to register none", option=name)


def _check_persist_until(value: t.Any, *, name: str) -> None:
    # A time that has passed is allowed: the role warns and publishes no record (tasks/dns-persist-01.yml).
    text = str(value if value is not None else "").strip()
    if text and not text.isdigit():
        try:
            parse_rfc3339(text, option=name)
        except ConfigurationError:
            raise ConfigurationError(
                f"{text!r} is neither UNIX seconds nor an RFC 3339 date-time; give one such as 2027-06-01T00:00:00Z, or '' for records without an end",
                option=name,
            ) from None


def _check_entry(problems: Problems, entry: dict[str, t.Any], prefix: str) -> None:
    """The fields an entry sets; the others take the role-wide values, checked on their own."""
    problems.check(_check_name, entry.get("name"), name=f"{prefix}.name")
    problems.check(_check_identifiers, entry.get("identifiers"), name=f"{prefix}.identifiers")
    if entry.get("challenge_overrides") is not None:
        problems.check(_check_challenge_overrides, entry["challenge_overrides"], name=f"{prefix}.challenge_overrides")
    if entry.get("webroot_hosts") is not None:
        problems.check(_check_webroot_hosts, entry["webroot_hosts"], name=f"{prefix}.webroot_hosts")
    if entry.get("renew_before_days") is not None:
        minimum, meaning = MINIMUMS["acme_certificate_renew_before_days"]
        problems.check(_check_minimum, entry["renew_before_days"], minimum, name=f"{prefix}.renew_before_days", meaning=meaning)
    if entry.get("profile") is not None:
        problems.check(_check_profile, entry["profile"], name=f"{prefix}.profile")
    if entry.get("select_chain") is not None:
        problems.check(_check_select_chain, entry["select_chain"], name=f"{prefix}.select_chain")
    for field in ("mode", "key_mode"):
        if entry.get(field) is not None:
            problems.check(check_file_mode, entry[field], option=f"{prefix}.{field}")
    for field in ENTRY_PATHS:
        if entry.get(field):
            problems.check(_check_absolute, entry[field], name=f"{prefix}.{field}")


def _reworded(error: ConfigurationError, name: str, *, advice_renames: dict[str, str] | None = None) -> str:
    """The core's message about a module option, naming the role variable instead (also in its advice)."""
    text = str(error)
    if error.option and text.startswith(f"{error.option}: "):
        text = text[len(error.option) + 2 :]
    for option, variable in (advice_renames or {}).items():
        text = re.sub(rf"\bset {option}\b", f"set {variable}", text)
    return f"{name}: {text}"


def account_key_problems(variables: dict[str, t.Any]) -> list[str]:
    """The account key is a file or a vault/sops value, never both; a value must be a key that opens.

    The messages never contain the key or its passphrase: they are what the user is told, at any verbosity.
    """
    content = str(variables.get("acme_certificate_account_key_content") or "")
    if not content:
        return []
    if str(variables.get("acme_certificate_account_key_path") or ""):
        return [
            "acme_certificate_account_key_content: set together with acme_certificate_account_key_path; "
            "give the account key in one of them only (and leave the other empty)"
        ]
    passphrase = str(variables.get("acme_certificate_account_key_passphrase") or "") or None
    try:
        load_private_key(
            content, passphrase=passphrase, option="acme_certificate_account_key_content", passphrase_option="acme_certificate_account_key_passphrase"
        )
    except ConfigurationError as error:
        return [str(error)]
    return []


def eab_problems(variables: dict[str, t.Any]) -> list[str]:
    """External Account Binding needs both its key identifier and its HMAC key, the key as the CA issued it."""
    kid = str(variables.get("acme_certificate_eab_kid") or "")
    hmac_key = str(variables.get("acme_certificate_eab_hmac_key") or "")
    if not kid and not hmac_key:
        return []
    if not kid:
        return ["acme_certificate_eab_kid: empty while acme_certificate_eab_hmac_key is set; give the key identifier the CA issued with the HMAC key"]
    if not hmac_key:
        return ["acme_certificate_eab_hmac_key: empty while acme_certificate_eab_kid is set; give the HMAC key the CA issued with the key identifier"]
    alg = str(variables.get("acme_certificate_eab_alg") or "HS256")
    if alg not in EAB_ALGORITHMS:
        return [f"acme_certificate_eab_alg: must be one of {', '.join(EAB_ALGORITHMS)} (the MAC algorithm the CA names with the key), not {alg!r}"]
    try:
        eab_secret(hmac_key, alg)
    except ConfigurationError as error:
        return [_reworded(error, "acme_certificate_eab_hmac_key", advice_renames={"alg": "acme_certificate_eab_alg"})]
    return []


def certificate_problems(entries: t.Any) -> list[str]:
    """The problems of acme_certificate_certificates, entry by entry, and names used twice."""
    if not isinstance(entries, list):
        return [f"{CERTIFICATES}: must be a list of certificates, such as [{{name: www, identifiers: [www.example.com]}}], not {entries!r}"]
    problems = Problems()
    first_with_name: dict[str, int] = {}
    for index, entry in enumerate(entries):
        prefix = f"{CERTIFICATES}[{index}]"
        if not isinstance(entry, dict):
            problems.lines.append(f"{prefix}: must be a dict with name and identifiers, not {entry!r}")
            continue
        _check_entry(problems, entry, prefix)
        name = entry.get("name")
        if isinstance(name, str) and name in first_with_name:
            problems.lines.append(
                f"{prefix}.name: {name!r} is already the name of {CERTIFICATES}[{first_with_name[name]}]; give each certificate a name of its own"
            )
        elif isinstance(name, str):
            first_with_name[name] = index
    return problems.lines


def role_input_problems(variables: dict[str, t.Any]) -> list[str]:
    """Every problem of the role's variables, one line each; those of the certificates last."""
    problems = Problems()
    for name, (minimum, meaning) in MINIMUMS.items():
        if name in variables:
            problems.check(_check_minimum, variables[name], minimum, name=name, meaning=meaning)
    for name in PORTS:
        if name in variables:
            problems.check(_check_port, variables[name], name=name)
    for name in MODES:
        if name in variables:
            problems.check(check_file_mode, variables[name], option=name)
    for name in ABSOLUTE_PATHS:
        if name in variables:
            problems.check(_check_absolute, variables[name], name=name)
    if str(variables.get("acme_certificate_metrics_file") or "") and not str(variables["acme_certificate_metrics_file"]).endswith(".prom"):
        problems.lines.append("acme_certificate_metrics_file: node_exporter's textfile collector reads only files named *.prom; end the name with .prom")
    if "acme_certificate_directory" in variables:
        problems.check(_check_directory_url, variables["acme_certificate_directory"], name="acme_certificate_directory")
    if "acme_certificate_tls_alpn_listen" in variables:
        problems.check(check_ip_address, str(variables["acme_certificate_tls_alpn_listen"]), option="acme_certificate_tls_alpn_listen")
    if "acme_certificate_profile" in variables:
        problems.check(_check_profile, variables["acme_certificate_profile"], name="acme_certificate_profile")
    if "acme_certificate_select_chain" in variables:
        problems.check(_check_select_chain, variables["acme_certificate_select_chain"], name="acme_certificate_select_chain")
    if "acme_certificate_account_email" in variables:
        problems.check(_check_account_email, variables["acme_certificate_account_email"], name="acme_certificate_account_email")
    if "acme_certificate_dns_persist_until" in variables:
        problems.check(_check_persist_until, variables["acme_certificate_dns_persist_until"], name="acme_certificate_dns_persist_until")
    problems.lines.extend(account_key_problems(variables))
    problems.lines.extend(eab_problems(variables))
    if CERTIFICATES in variables:
        problems.lines.extend(certificate_problems(variables[CERTIFICATES]))
    return problems.lines


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_role_input_problems": role_input_problems}
