# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A CA refusing a signature by a key it does not know (any more), whichever problem type it uses.

A key rollover rerun (the old key and account_uri, after an earlier run rolled the key over) finds
the account under the new key; advice in errors fits the key that signed.
"""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.account import AccountClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ProblemError
from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import SigningKey
from ansible_collections.certforge.acme.plugins.module_utils._acme.revocation import revoke
from ansible_collections.certforge.acme.tests.unit.utils.helpers import TestPki, load_fixture

BASE = "https://acme-staging-v02.api.letsencrypt.org"
NEW_ACCOUNT = f"{BASE}/acme/new-acct"
ACCOUNT = f"{BASE}/acme/acct/123456789"
REVOKE = f"{BASE}/acme/revoke-cert"


def problem(http, kind, status):
    return http.reply(status, {"type": f"urn:ietf:params:acme:error:{kind}", "detail": f"signature refused ({kind})", "status": status})


@pytest.mark.parametrize(
    "kind, status",
    [
        ("malformed", 400),  # pebble and Boulder: "JWS verification error"
        ("unauthorized", 403),
        ("accountDoesNotExist", 400),
        ("badSignature", 400),
    ],
)
def test_a_rollover_rerun_with_the_old_key_and_account_uri_finds_the_account_under_the_new_key(http, session, account_key, private_keys, kind, status):
    http.on("POST", ACCOUNT, problem(http, kind, status))
    http.on("POST", NEW_ACCOUNT, http.reply(200, load_fixture("account_valid.json"), headers={"Location": ACCOUNT}))
    new_key = SigningKey(private_keys["ec384"])

    existing, rolled = AccountClient(session, account_key, account_uri=ACCOUNT).find_for_key_change(new_key)

    assert existing is None and rolled.uri == ACCOUNT


def test_a_refusal_is_raised_when_the_new_key_does_not_have_the_account_either(http, session, account_key, private_keys):
    http.on("POST", ACCOUNT, problem(http, "malformed", 400))
    http.on("POST", NEW_ACCOUNT, problem(http, "accountDoesNotExist", 400))
    with pytest.raises(ProblemError) as caught:
        AccountClient(session, account_key, account_uri=ACCOUNT).find_for_key_change(SigningKey(private_keys["ec384"]))
    assert caught.value.has_type("malformed")


@pytest.mark.parametrize("kind", ["accountDoesNotExist", "unauthorized"])
def test_a_certificate_key_revocation_refused_does_not_advise_registering_an_account(http, session, kind):
    pki = TestPki()
    http.on("POST", REVOKE, problem(http, kind, 403))
    with pytest.raises(ProblemError) as caught:
        revoke(session, certificate=pki.leaf("example.org"), key=SigningKey(pki.leaf_key), kid=None, reason=None)
    message = str(caught.value)
    assert "register" not in message and "acme_account" not in message
    assert "certificate's own key" in message
