# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""role_input_problems: what argument_specs cannot check, one line naming the variable, before the role does anything."""

from __future__ import annotations

import pathlib
import typing as t

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.certforge.acme.plugins.filter._certificate_specs import certificate_specs
from ansible_collections.certforge.acme.plugins.filter._role_input_problems import role_input_problems

DEFAULTS = pathlib.Path(__file__).resolve().parents[4] / "roles" / "acme_certificate" / "defaults" / "main.yml"


def entry(**fields: t.Any) -> dict[str, t.Any]:
    return {"name": "www", "identifiers": ["www.example.com"], **fields}


def test_the_role_defaults_and_a_plain_entry_have_no_problem() -> None:
    variables = {name: value for name, value in yaml.safe_load(DEFAULTS.read_text()).items() if "{{" not in str(value)}
    variables["acme_certificate_certificates"] = [
        entry(mode="0640", key_mode="u=rw,go=", renew_before_days="30", webroot_hosts=["web1"], challenge_overrides={"*.example.com": "dns-01"}),
        entry(name="api_v2.example-1", identifiers=["192.0.2.1", "api.example.com"], cert_path="~/certs/api.pem"),
    ]
    assert role_input_problems(variables) == []


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"acme_certificate_directory": "acme.example.test/directory"}, "acme_certificate_directory: 'acme.example.test/directory' is not an https:// URL"),
        ({"acme_certificate_directory": "http://acme.example.test/directory"}, "acme_certificate_directory: 'http://acme"),
        ({"acme_certificate_challenge_timeout": -5}, "acme_certificate_challenge_timeout: must be 0 (look once, do not wait) or more, not -5"),
        ({"acme_certificate_request_timeout": 0}, "acme_certificate_request_timeout: must be 1 or more, not 0"),
        ({"acme_certificate_retry_timeout": "-1"}, "acme_certificate_retry_timeout: must be 0 (no retries) or more, not -1"),
        ({"acme_certificate_lock_timeout": "soon"}, "acme_certificate_lock_timeout: must be a whole number, not 'soon'"),
        ({"acme_certificate_renew_before_days": -1}, "acme_certificate_renew_before_days: must be 0"),
        ({"acme_certificate_tls_alpn_port": 70000}, "acme_certificate_tls_alpn_port: must be a port between 1 and 65535, not 70000"),
        ({"acme_certificate_rfc2136_port": 0}, "acme_certificate_rfc2136_port: must be a port between 1 and 65535, not 0"),
        ({"acme_certificate_tls_alpn_listen": "localhost"}, "acme_certificate_tls_alpn_listen: 'localhost' is not an IP address"),
        ({"acme_certificate_mode": "rw-r--r--"}, "acme_certificate_mode: 'rw-r--r--' is not a file mode; give an octal mode such as '0644'"),
        ({"acme_certificate_dir": "certs"}, "acme_certificate_dir: 'certs' is relative; give an absolute path"),
        ({"acme_certificate_state_dir": ".acme"}, "acme_certificate_state_dir: '.acme' is relative; give an absolute path"),
        (
            {"acme_certificate_account_email": "mailto:admin@example.com"},
            "acme_certificate_account_email: give the address alone, such as 'admin@example.com' (the role adds mailto:)",
        ),
        ({"acme_certificate_account_email": "admin at example.com"}, "acme_certificate_account_email: 'admin at example.com' is not an email address"),
        ({"acme_certificate_account_email": "admin@localhost"}, "acme_certificate_account_email: 'admin@localhost' is not an email address"),
        (
            {"acme_certificate_dns_persist_until": "next year"},
            "acme_certificate_dns_persist_until: 'next year' is neither UNIX seconds nor an RFC 3339 date-time",
        ),
        ({"acme_certificate_certificates": "www.example.com"}, "acme_certificate_certificates: must be a list of certificates"),
        ({"acme_certificate_certificates": ["www.example.com"]}, "acme_certificate_certificates[0]: must be a dict with name and identifiers"),
        ({"acme_certificate_certificates": [entry(name="www/site")]}, "acme_certificate_certificates[0].name: 'www/site' cannot name"),
        ({"acme_certificate_certificates": [{"identifiers": ["a.example.com"]}]}, "acme_certificate_certificates[0].name: None cannot name"),
        (
            {"acme_certificate_certificates": [entry(), entry(identifiers=["b.example.com"])]},
            "acme_certificate_certificates[1].name: 'www' is already the name of acme_certificate_certificates[0]; give each certificate a name of its own",
        ),
        ({"acme_certificate_certificates": [entry(identifiers="www.example.com")]}, "acme_certificate_certificates[0].identifiers: must be a list"),
        ({"acme_certificate_certificates": [entry(identifiers=[])]}, "acme_certificate_certificates[0].identifiers: must be a list"),
        (
            {"acme_certificate_certificates": [entry(identifiers=["www example.com"])]},
            "acme_certificate_certificates[0].identifiers: 'www example.com' is not a valid domain name",
        ),
        (
            {"acme_certificate_certificates": [entry(identifiers=["https://example.com/"])]},
            "acme_certificate_certificates[0].identifiers: 'https://example.com/' is not a valid domain name",
        ),
        ({"acme_certificate_certificates": [entry(mode="rw-r--r--")]}, "acme_certificate_certificates[0].mode: 'rw-r--r--' is not a file mode"),
        ({"acme_certificate_certificates": [entry(key_mode="600x")]}, "acme_certificate_certificates[0].key_mode: '600x' is not a file mode"),
        ({"acme_certificate_certificates": [entry(renew_before_days=-3)]}, "acme_certificate_certificates[0].renew_before_days: must be 0"),
        (
            {"acme_certificate_certificates": [entry(webroot_hosts="web1")]},
            "acme_certificate_certificates[0].webroot_hosts: must be a list of inventory host names, such as [web1, web2], not 'web1'",
        ),
        ({"acme_certificate_certificates": [entry(webroot="srv/www")]}, "acme_certificate_certificates[0].webroot: 'srv/www' is relative"),
        (
            {"acme_certificate_certificates": [entry(challenge_overrides={"www.example.com": "http-02"})]},
            "acme_certificate_certificates[0].challenge_overrides: www.example.com maps to 'http-02'; use one of http-01, dns-01, tls-alpn-01",
        ),
    ],
)
def test_each_problem_is_one_line_naming_the_variable(variables: dict[str, t.Any], message: str) -> None:
    problems = role_input_problems(variables)
    assert len(problems) == 1, problems
    assert problems[0].startswith(message), problems[0]
    assert "\n" not in problems[0]


@pytest.mark.parametrize(
    "variables",
    [
        {"acme_certificate_account_email": "admin@example.com"},
        {"acme_certificate_account_email": ""},
        {"acme_certificate_dns_persist_until": "1893456000"},
        {"acme_certificate_dns_persist_until": "2027-06-01T00:00:00Z"},
        # One that has passed: the role warns and publishes no record, it does not refuse to run.
        {"acme_certificate_dns_persist_until": "2001-01-01T00:00:00+02:00"},
        {"acme_certificate_state_dir": "~/.acme"},
    ],
)
def test_values_a_user_may_give_are_no_problem(variables: dict[str, t.Any]) -> None:
    assert role_input_problems(variables) == []


def test_every_problem_is_reported_not_only_the_first() -> None:
    problems = role_input_problems({"acme_certificate_challenge_timeout": -5, "acme_certificate_certificates": [entry(name="a/b", mode="rwx")]})
    assert [problem.split(":")[0] for problem in problems] == [
        "acme_certificate_challenge_timeout",
        "acme_certificate_certificates[0].name",
        "acme_certificate_certificates[0].mode",
    ]


def test_certificate_specs_refuses_what_the_check_refuses() -> None:
    with pytest.raises(AnsibleFilterError, match=r"^acme_certificate_certificates\[1\]\.name: 'www' is already the name"):
        certificate_specs([entry(), entry()], {"dir": "/etc/ssl/acme"})


def test_certificate_specs_completes_a_valid_entry() -> None:
    [spec] = certificate_specs([entry(identifiers=["WWW.Example.com"])], {"dir": "/etc/ssl/acme/", "add_bare_domain": True, "mode": "0644"})
    assert spec["identifiers"] == ["www.example.com", "example.com"]
    assert spec["cert_path"] == "/etc/ssl/acme/www/cert.pem"
    assert spec["mode"] == "0644"
    assert spec["webroot_hosts"] == []
