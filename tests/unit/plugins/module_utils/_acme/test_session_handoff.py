# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One step hands the next what it read from the CA: the directory, a nonce (once), the order."""

from __future__ import annotations

from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import handed_order
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DIRECTORY_URL

BASE = "https://acme-staging-v02.api.letsencrypt.org"
NEW_NONCE = f"{BASE}/acme/new-nonce"
NEW_ORDER = f"{BASE}/acme/new-order"
ACCOUNT = f"{BASE}/acme/acct/123456789"
ORDER = f"{BASE}/acme/order/123456789/987654321"


def post(session, key):
    return session.post(NEW_ORDER, key=key, payload={"identifiers": []}, kid=ACCOUNT)


def test_a_session_started_from_a_handoff_reads_neither_the_directory_nor_a_nonce(http, make_session, account_key):
    http.on("POST", NEW_ORDER, http.reply(201, {"status": "pending"}, nonce="nonce-for-the-next-step"))
    first = make_session()
    post(first, account_key)
    handoff = first.handoff()
    assert handoff["directory_url"] == DIRECTORY_URL and handoff["nonce"] == "nonce-for-the-next-step"
    requests_before = len(http.calls)

    second = make_session()
    second.adopt(handoff)
    post(second, account_key)
    new_calls = http.calls[requests_before:]
    assert [(call.method, call.url) for call in new_calls] == [("POST", NEW_ORDER)]
    assert new_calls[0].jws().protected["nonce"] == "nonce-for-the-next-step"


def test_a_nonce_goes_to_one_next_step_only(http, make_session, account_key):
    http.on("POST", NEW_ORDER, http.reply(201, {"status": "pending"}, nonce="only-once"))
    session = make_session()
    post(session, account_key)
    assert session.handoff()["nonce"] == "only-once"
    assert session.handoff()["nonce"] is None


def test_a_handoff_of_another_ca_is_ignored(http, make_session, account_key):
    http.on("POST", NEW_ORDER, http.reply(201, {"status": "pending"}))
    session = make_session()
    session.adopt(
        {"directory_url": "https://other-ca.example/directory", "directory": {"newNonce": "x", "newAccount": "y", "newOrder": "z"}, "nonce": "foreign"}
    )
    post(session, account_key)
    assert len(http.requests_to("GET", DIRECTORY_URL)) == 1
    assert len(http.requests_to("HEAD", NEW_NONCE)) == 1


def test_a_session_that_read_nothing_hands_nothing_over(make_session):
    assert make_session().handoff() is None


ORDER_SUMMARY = {
    "uri": ORDER,
    "status": "ready",
    "expires": None,
    "identifiers": [{"type": "dns", "value": "www.example.com"}],
    "authorizations": [f"{BASE}/acme/authz/1"],
    "finalize": f"{ORDER}/finalize",
    "certificate": None,
}


def test_a_handed_order_is_taken_when_it_is_that_order_and_whole():
    order = handed_order(ORDER_SUMMARY, ORDER)
    assert order is not None and order.status == "ready" and order.finalize == f"{ORDER}/finalize"


def test_a_handed_order_of_another_url_in_an_early_state_or_damaged_is_not_taken():
    assert handed_order(ORDER_SUMMARY, f"{ORDER}0") is None
    assert handed_order(ORDER_SUMMARY, ORDER, statuses=("valid",)) is None
    assert handed_order({**ORDER_SUMMARY, "finalize": None}, ORDER) is None
    assert handed_order(None, ORDER) is None
