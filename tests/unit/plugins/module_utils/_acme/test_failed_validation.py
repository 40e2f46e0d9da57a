# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A validation that fails ends the wait at once, whether the CA marks the order invalid or leaves it pending.

RFC 8555 section 7.1.6 lets a CA leave the order `pending` after an authorization failed
(acme2certifier does); the challenge's answer and the authorizations say what happened.
"""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import AuthorizationClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import OrderClient
from ansible_collections.certforge.acme.plugins.modules import acme_challenge

BASE = "https://acme.example"
ACCOUNT = f"{BASE}/acct/1"
ORDER = f"{BASE}/order/1"
NAMES = ("good.example.org", "bad.example.org")
REFUSED = {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "Invalid response from http://bad.example.org/: 404"}


def authz_url(name):
    return f"{BASE}/authz/{name}"


def chall_url(name):
    return f"{BASE}/chall/{name}"


def challenge(name, status, error=None):
    body = {"type": "http-01", "url": chall_url(name), "status": status, "token": f"tok-{name.split('.')[0]}"}
    return {**body, "error": error} if error else body


def authz(name, status, challenge_status=None, error=None):
    return {
        "status": status,
        "identifier": {"type": "dns", "value": name},
        "challenges": [challenge(name, challenge_status or ("valid" if status == "valid" else "pending"), error)],
    }


class FakeModule:
    check_mode = False

    def __init__(self):
        self.params = {"order_uri": ORDER, "challenge": "http-01", "challenge_overrides": {}, "timeout": 120, "authorizations": None}
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture
def pending_order(http):
    """An order the CA leaves pending whatever happens to its authorizations."""
    http.on(
        "POST",
        ORDER,
        http.reply(
            200,
            {
                "status": "pending",
                "identifiers": [{"type": "dns", "value": name} for name in NAMES],
                "authorizations": [authz_url(name) for name in NAMES],
                "finalize": f"{ORDER}/finalize",
            },
        ),
    )


def run_validation(session, account_key):
    return acme_challenge.validate(FakeModule(), OrderClient(session, account_key, ACCOUNT), AuthorizationClient(session, account_key, ACCOUNT))


def test_a_challenge_answered_invalid_ends_the_wait_with_the_cas_reason(http, session, account_key, pending_order):
    http.on("POST", authz_url(NAMES[0]), http.reply(200, authz(NAMES[0], "pending")), http.reply(200, authz(NAMES[0], "valid")))
    http.on("POST", authz_url(NAMES[1]), http.reply(200, authz(NAMES[1], "pending")))
    http.on("POST", chall_url(NAMES[0]), http.reply(200, challenge(NAMES[0], "processing")))
    http.on("POST", chall_url(NAMES[1]), http.reply(200, challenge(NAMES[1], "invalid", REFUSED)))

    with pytest.raises(acme_challenge.ValidationFailed) as caught:
        run_validation(session, account_key)

    message = str(caught.value)
    assert "bad.example.org" in message and "Invalid response from http://bad.example.org/: 404" in message


def test_an_authorization_turning_invalid_under_a_pending_order_ends_the_wait(http, session, account_key, pending_order):
    http.on("POST", authz_url(NAMES[0]), http.reply(200, authz(NAMES[0], "pending")), http.reply(200, authz(NAMES[0], "valid")))
    http.on("POST", authz_url(NAMES[1]), http.reply(200, authz(NAMES[1], "pending")), http.reply(200, authz(NAMES[1], "invalid", "invalid")))
    for name in NAMES:
        http.on("POST", chall_url(name), http.reply(200, challenge(name, "processing")))

    with pytest.raises(acme_challenge.ValidationFailed) as caught:
        run_validation(session, account_key)

    assert "bad.example.org (http-01): the CA gave no reason" in str(caught.value)
    [result] = [item for item in caught.value.results if item["identifier"] == "bad.example.org"]
    assert result["status"] == "invalid"


def test_a_challenge_answered_invalid_without_a_reason_reports_the_authorization_as_the_ca_left_it(http, session, account_key, pending_order):
    # acme2certifier: the challenge POST answers invalid with no error, the authorization is invalid, the order stays pending
    http.on("POST", authz_url(NAMES[0]), http.reply(200, authz(NAMES[0], "pending")), http.reply(200, authz(NAMES[0], "valid")))
    http.on("POST", authz_url(NAMES[1]), http.reply(200, authz(NAMES[1], "pending")), http.reply(200, authz(NAMES[1], "invalid", "invalid")))
    http.on("POST", chall_url(NAMES[0]), http.reply(200, challenge(NAMES[0], "valid")))
    http.on("POST", chall_url(NAMES[1]), http.reply(200, challenge(NAMES[1], "invalid")))

    with pytest.raises(acme_challenge.ValidationFailed) as caught:
        run_validation(session, account_key)

    [result] = [item for item in caught.value.results if item["identifier"] == "bad.example.org"]
    assert result == {"identifier": "bad.example.org", "status": "invalid", "challenge": "http-01", "error": "the CA gave no reason"}
