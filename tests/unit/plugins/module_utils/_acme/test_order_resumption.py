# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which order of an earlier run acme_order takes up, and when it orders anew instead."""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import AuthorizationClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from ansible_collections.certforge.acme.plugins.module_utils._acme.order_record import OrderRequest, read_order_record
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import OrderClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.resume import resume_order

BASE = "https://acme.example"
ACCOUNT = f"{BASE}/acct/1"
ORDER = f"{BASE}/order/1"
NAMES = ("example.org", "www.example.org")
IDENTIFIERS = tuple(parse_identifiers(NAMES))


@pytest.fixture
def orders(session, account_key):
    return OrderClient(session, account_key, ACCOUNT)


@pytest.fixture
def resume(orders, session, account_key):
    """Resume ORDER for IDENTIFIERS; returns (order or None, why not)."""

    def run(identifiers=IDENTIFIERS):
        resumption = resume_order(orders, AuthorizationClient(session, account_key, ACCOUNT), ORDER, OrderRequest(identifiers))
        return resumption.order, resumption.reason

    return run


@pytest.mark.parametrize("status", [404, 410])
@pytest.mark.parametrize("body", [b"", b"<html>Not Found</html>"], ids=["empty", "html"])
def test_an_order_the_ca_does_not_know_without_a_problem_document_is_replaced(http, resume, status, body):
    http.on("POST", ORDER, http.reply(status, content=body, content_type="text/html" if body else None))
    order, reason = resume()
    assert order is None and reason == f"the CA does not know the order {ORDER} (HTTP {status})"


@pytest.mark.parametrize("status, kind", [(404, "malformed"), (410, "malformed"), (403, "unauthorized"), (403, "orderNotReady")])
def test_an_order_the_ca_does_not_know_with_a_problem_document_is_replaced(http, resume, status, kind):
    # acme2certifier 0.46 answers an unknown order with 403 orderNotReady "order not found"
    http.on("POST", ORDER, http.reply(status, {"type": f"urn:ietf:params:acme:error:{kind}", "detail": "order not found"}))
    order, reason = resume()
    assert order is None and reason == f"the CA does not know the order {ORDER} ({kind}, HTTP {status}: order not found)"


@pytest.mark.parametrize("content", ["http://acme.example/order/1", "acme.example/order/1", "garbage\x00"])
def test_an_order_uri_file_holding_no_https_url_is_refused_before_anything_is_signed(tmp_path, content):
    path = tmp_path / "www.uri"
    path.write_text(content + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        read_order_record(str(path))
    assert str(caught.value).startswith("order_uri_file: ") and "\n" not in str(caught.value)


def pending_order_body():
    return {
        "status": "pending",
        "expires": "2099-01-01T00:00:00Z",
        "identifiers": [{"type": "dns", "value": name} for name in NAMES],
        "authorizations": [f"{BASE}/authz/{name}" for name in NAMES],
        "finalize": f"{ORDER}/finalize",
    }


def authz_body(name, status, challenge_status="pending"):
    return {
        "status": status,
        "identifier": {"type": "dns", "value": name},
        "challenges": [{"type": "http-01", "url": f"{BASE}/chall/{name}", "status": challenge_status, "token": "tok"}],
    }


@pytest.mark.parametrize(
    "status, challenge_status",
    [
        ("invalid", "invalid"),
        ("deactivated", "pending"),
        ("expired", "pending"),
        ("revoked", "valid"),
        ("pending", "invalid"),  # a CA that leaves the authorization pending after its challenge failed
    ],
)
def test_a_pending_order_with_an_authorization_that_can_no_longer_be_valid_is_not_resumed(http, resume, status, challenge_status):
    http.on("POST", ORDER, http.reply(200, pending_order_body()))
    http.on("POST", f"{BASE}/authz/{NAMES[0]}", http.reply(200, authz_body(NAMES[0], "valid", "valid")))
    http.on("POST", f"{BASE}/authz/{NAMES[1]}", http.reply(200, authz_body(NAMES[1], status, challenge_status)))
    order, reason = resume()
    assert order is None
    assert reason.startswith(f"the order {ORDER} can no longer be finalized: the CA refused www.example.org: ")


def test_a_pending_order_whose_authorizations_can_still_be_validated_is_resumed_with_them(http, resume):
    http.on("POST", ORDER, http.reply(200, pending_order_body()))
    http.on("POST", f"{BASE}/authz/{NAMES[0]}", http.reply(200, authz_body(NAMES[0], "valid", "valid")))
    http.on("POST", f"{BASE}/authz/{NAMES[1]}", http.reply(200, authz_body(NAMES[1], "pending")))
    order, reason = resume()
    assert order.uri == ORDER and reason is None


@pytest.mark.parametrize("status", ["invalid"])
def test_an_invalid_order_is_not_resumed_and_says_why(http, resume, status):
    http.on("POST", ORDER, http.reply(200, {**pending_order_body(), "status": status, "error": {"type": "x", "detail": "authz failed"}}))
    order, reason = resume()
    assert order is None and reason == f"the order {ORDER} is invalid: authz failed"


def test_an_order_for_other_identifiers_is_not_resumed(http, resume):
    http.on("POST", ORDER, http.reply(200, pending_order_body()))
    order, reason = resume(identifiers=IDENTIFIERS[:1])
    assert order is None and reason == f"the order {ORDER} is for other identifiers (example.org, www.example.org)"
