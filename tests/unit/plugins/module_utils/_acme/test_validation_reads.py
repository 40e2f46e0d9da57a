# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wait for validation reads the order first: once it is ready, one read says so for every authorization."""

from __future__ import annotations

from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import AuthorizationClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import OrderClient
from ansible_collections.certforge.acme.plugins.modules import acme_challenge

BASE = "https://acme.example"
ACCOUNT = f"{BASE}/acct/1"
ORDER = f"{BASE}/order/1"
NAMES = ("one.example.org", "two.example.org")


def order(status):
    return {
        "status": status,
        "identifiers": [{"type": "dns", "value": name} for name in NAMES],
        "authorizations": [f"{BASE}/authz/{name}" for name in NAMES],
        "finalize": f"{ORDER}/finalize",
    }


def authz(name, status):
    challenge_status = "valid" if status == "valid" else "pending"
    return {
        "status": status,
        "identifier": {"type": "dns", "value": name},
        "challenges": [{"type": "http-01", "url": f"{BASE}/chall/{name}", "status": challenge_status, "token": f"tok-{name[:3]}"}],
    }


class FakeModule:
    check_mode = False

    def __init__(self, **params):
        self.params = {"order_uri": ORDER, "challenge": "http-01", "challenge_overrides": {}, "timeout": 120, "authorizations": None, "order": None, **params}

    def warn(self, message):
        raise AssertionError(message)


def validate(session, account_key, **params):
    return acme_challenge.validate(FakeModule(**params), OrderClient(session, account_key, ACCOUNT), AuthorizationClient(session, account_key, ACCOUNT))


def test_an_order_read_ready_after_the_answers_ends_the_wait_without_reading_the_authorizations_again(http, session, account_key):
    http.on("POST", ORDER, http.reply(200, order("pending")), http.reply(200, order("ready")))
    for name in NAMES:
        http.on("POST", f"{BASE}/authz/{name}", http.reply(200, authz(name, "pending")))
        http.on("POST", f"{BASE}/chall/{name}", http.reply(200, {"type": "http-01", "url": f"{BASE}/chall/{name}", "status": "processing"}))

    result = validate(session, account_key)

    assert result["order_status"] == "ready" and result["order"]["status"] == "ready"
    assert [item["status"] for item in result["authorizations"]] == ["valid", "valid"]
    for name in NAMES:
        assert len(http.requests_to("POST", f"{BASE}/authz/{name}")) == 1  # read once, before answering
    assert len(http.requests_to("POST", ORDER)) == 2  # before answering, and once after


def test_a_handed_order_is_not_read_again_before_answering(http, session, account_key):
    http.on("POST", ORDER, http.reply(200, order("ready")))
    for name in NAMES:
        http.on("POST", f"{BASE}/authz/{name}", http.reply(200, authz(name, "pending")))
        http.on("POST", f"{BASE}/chall/{name}", http.reply(200, {"type": "http-01", "url": f"{BASE}/chall/{name}", "status": "processing"}))

    validate(session, account_key, order={"uri": ORDER, **order("pending")})

    assert len(http.requests_to("POST", ORDER)) == 1  # only the read that found it ready
