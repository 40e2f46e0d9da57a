# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""role_input_problems on the account: the key as a file or a vault value (never both), EAB complete and as issued.

No message may contain the key, its passphrase or the HMAC key: they are shown to the user at any verbosity.
"""

from __future__ import annotations

import base64
import typing as t

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.certforge.acme.plugins.filter._role_input_problems import role_input_problems

PASSPHRASE = "correct horse"


def key_pem(passphrase: str | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode("ascii")


KEY = key_pem()
ENCRYPTED_KEY = key_pem(PASSPHRASE)
HMAC_KEY = base64.urlsafe_b64encode(b"k" * 32).decode("ascii").rstrip("=")


def account(**variables: t.Any) -> dict[str, t.Any]:
    """The account variables as the role passes them, with the role's defaults."""
    return {
        "acme_certificate_account_key_path": "",
        "acme_certificate_account_key_content": "",
        "acme_certificate_account_key_passphrase": "",
        "acme_certificate_eab_kid": "",
        "acme_certificate_eab_hmac_key": "",
        "acme_certificate_eab_alg": "HS256",
        **variables,
    }


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"acme_certificate_account_key_path": "/etc/ansible/acme/account.key"},
        {"acme_certificate_account_key_content": KEY},
        {"acme_certificate_account_key_content": ENCRYPTED_KEY, "acme_certificate_account_key_passphrase": PASSPHRASE},
        {"acme_certificate_eab_kid": "kid-1", "acme_certificate_eab_hmac_key": HMAC_KEY},
        {"acme_certificate_eab_kid": "kid-1", "acme_certificate_eab_hmac_key": HMAC_KEY, "acme_certificate_eab_alg": "HS512"},
    ],
)
def test_a_usable_account_has_no_problem(variables: dict[str, t.Any]) -> None:
    if variables.get("acme_certificate_eab_alg") == "HS512":
        variables = {**variables, "acme_certificate_eab_hmac_key": base64.urlsafe_b64encode(b"k" * 64).decode("ascii")}
    assert role_input_problems(account(**variables)) == []


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"acme_certificate_account_key_content": KEY, "acme_certificate_account_key_path": "/etc/ansible/acme/account.key"},
            "acme_certificate_account_key_content: set together with acme_certificate_account_key_path; give the account key in one of them only",
        ),
        (
            {"acme_certificate_account_key_content": "vault lookup went wrong"},
            "acme_certificate_account_key_content: is not a PEM private key (no '-----BEGIN' line found)",
        ),
        (
            {"acme_certificate_account_key_content": KEY.replace(KEY.splitlines()[1], KEY.splitlines()[1][:20])},
            "acme_certificate_account_key_content: cannot read the PEM private key",
        ),
        (
            {"acme_certificate_account_key_content": ENCRYPTED_KEY},
            "acme_certificate_account_key_content: the key is encrypted; set acme_certificate_account_key_passphrase",
        ),
        (
            {"acme_certificate_account_key_content": ENCRYPTED_KEY, "acme_certificate_account_key_passphrase": "wrong"},
            "acme_certificate_account_key_content: cannot decrypt the key: acme_certificate_account_key_passphrase is wrong",
        ),
        ({"acme_certificate_eab_kid": "kid-1"}, "acme_certificate_eab_hmac_key: empty while acme_certificate_eab_kid is set"),
        ({"acme_certificate_eab_hmac_key": HMAC_KEY}, "acme_certificate_eab_kid: empty while acme_certificate_eab_hmac_key is set"),
        (
            {"acme_certificate_eab_kid": "kid-1", "acme_certificate_eab_hmac_key": HMAC_KEY + "+/!"},
            "acme_certificate_eab_hmac_key: key is not base64url-encoded; pass the HMAC key exactly as the CA issued it",
        ),
        (
            {"acme_certificate_eab_kid": "kid-1", "acme_certificate_eab_hmac_key": HMAC_KEY, "acme_certificate_eab_alg": "HS384"},
            "acme_certificate_eab_hmac_key: ",
        ),
        (
            {"acme_certificate_eab_kid": "kid-1", "acme_certificate_eab_hmac_key": HMAC_KEY, "acme_certificate_eab_alg": "HS1"},
            "acme_certificate_eab_alg: must be one of HS256, HS384, HS512",
        ),
    ],
)
def test_each_account_problem_is_one_line_naming_the_variable_without_the_secret(variables: dict[str, t.Any], message: str) -> None:
    problems = role_input_problems(account(**variables))
    assert len(problems) == 1, problems
    assert problems[0].startswith(message), problems[0]
    assert "\n" not in problems[0]
    for secret in (KEY, ENCRYPTED_KEY, PASSPHRASE, HMAC_KEY):
        for line in secret.splitlines():
            if "-----" not in line and len(line) > 8:
                assert line not in problems[0]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"acme_certificate_profile": ["shortlived"]}, "acme_certificate_profile: must be the name of a profile the CA offers"),
        ({"acme_certificate_select_chain": {"issuer_common_name": "ISRG Root X1"}}, "acme_certificate_select_chain: must be a list of criteria"),
        ({"acme_certificate_select_chain": ["ISRG Root X1"]}, "acme_certificate_select_chain[0]: must be a criterion with issuer_common_name"),
        (
            {"acme_certificate_select_chain": [{"issuer": "ISRG Root X1"}]},
            "acme_certificate_select_chain[0]: unknown criteria issuer; use issuer_common_name, root_subject, subject_key_identifier",
        ),
        (
            {"acme_certificate_select_chain": [{"issuer_common_name": "X"}, {"root_subject": None}]},
            "acme_certificate_select_chain[1]: is empty and would match any chain",
        ),
        (
            {"acme_certificate_certificates": [{"name": "ip", "identifiers": ["192.0.2.1"], "profile": 6}]},
            "acme_certificate_certificates[0].profile: must be the name of a profile",
        ),
        (
            {"acme_certificate_certificates": [{"name": "www", "identifiers": ["www.example.com"], "select_chain": [{}]}]},
            "acme_certificate_certificates[0].select_chain[0]: is empty",
        ),
    ],
)
def test_profile_and_chain_problems_name_the_variable(variables: dict[str, t.Any], message: str) -> None:
    problems = role_input_problems(variables)
    assert len(problems) == 1, problems
    assert problems[0].startswith(message), problems[0]


def test_profile_and_chain_criteria_as_documented_have_no_problem() -> None:
    assert (
        role_input_problems(
            {
                "acme_certificate_profile": "tlsserver",
                "acme_certificate_select_chain": [{"issuer_common_name": "ISRG Root X2", "root_subject": None, "subject_key_identifier": None}],
                "acme_certificate_certificates": [{"name": "ip", "identifiers": ["192.0.2.1"], "profile": "shortlived", "select_chain": []}],
            }
        )
        == []
    )


def test_an_hs384_key_shorter_than_the_hash_is_refused_naming_the_role_variable() -> None:
    [problem] = role_input_problems(account(acme_certificate_eab_kid="kid-1", acme_certificate_eab_hmac_key=HMAC_KEY, acme_certificate_eab_alg="HS384"))
    assert problem.startswith("acme_certificate_eab_hmac_key: ") and "48 bytes" in problem, problem
    assert "external_account_binding" not in problem
    assert "set acme_certificate_eab_alg to" in problem
