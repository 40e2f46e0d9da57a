# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Orders: reads that parse or fail, lost answers reconciled by reading back, strict downloads."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import OutcomeUnknown, ProblemError, ProtocolError
from ansible_collections.certforge.acme.plugins.module_utils._acme.polling import WaitTimeout
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import RESEND_TRIES, OrderClient
from ansible_collections.certforge.acme.tests.unit.utils.helpers import TestPki, load_fixture, pem

BASE = "https://acme-staging-v02.api.letsencrypt.org"
NEW_ORDER = f"{BASE}/acme/new-order"
ACCOUNT = f"{BASE}/acme/acct/123456789"
ORDERS = f"{BASE}/acme/acct/123456789/orders"
ORDER = f"{BASE}/acme/order/123456789/1001"
OTHER_ORDER = f"{BASE}/acme/order/123456789/1000"
FINALIZE = f"{ORDER}/finalize"
CERT = f"{BASE}/acme/cert/fa1afe1"
ALTERNATE = f"{BASE}/acme/cert/fa1afe1/1"
NAMES = ("example.org", "www.example.org")
IDENTIFIERS = parse_identifiers(NAMES)


def lost() -> requests.exceptions.ReadTimeout:
    return requests.exceptions.ReadTimeout("read timed out")


def order_body(status="pending", names=NAMES, **extra):
    body = {
        "status": status,
        "expires": "2099-01-01T00:00:00Z",
        "identifiers": [{"type": "dns", "value": name} for name in names],
        "authorizations": [f"{BASE}/acme/authz/{name}" for name in names],
        "finalize": FINALIZE,
    }
    if status == "valid":
        body["certificate"] = CERT
    return {**body, **extra}


def order_reply(http, status="pending", *, location=ORDER, http_status=200, **extra):
    return http.reply(http_status, order_body(status, **extra), headers={"Location": location} if location else {})


def problem(http, kind, status=403):
    return http.reply(status, {"type": f"urn:ietf:params:acme:error:{kind}", "detail": f"{kind} detail", "status": status})


@pytest.fixture
def warnings():
    return []


@pytest.fixture
def orders(session, account_key, warnings):
    return OrderClient(session, account_key, ACCOUNT, warn=warnings.append)


@pytest.fixture
def reads(session, monkeypatch):
    """URLs read through session.read (the retried, parsed path)."""
    seen = []
    original = session.read

    def read(url, **options):
        seen.append(url)
        return original(url, **options)

    monkeypatch.setattr(session, "read", read)
    return seen


@pytest.fixture(scope="module")
def pki():
    return TestPki()


# -- reading -------------------------------------------------------------------------------------------


def test_an_order_is_read_through_session_read(http, orders, reads):
    http.on("POST", ORDER, order_reply(http, "ready"))
    order = orders.get(ORDER)
    assert (order.status, order.identifiers) == ("ready", IDENTIFIERS)
    assert reads == [ORDER]


@pytest.mark.parametrize(
    "reply",
    [
        {"content": b'{"status": "ready", "identif', "content_type": "application/json"},
        {"content": b"<html>bad gateway</html>", "content_type": "text/html"},
        {"body": {"status": "ready", "identifiers": [], "authorizations": []}},
        {"body": {**order_body(), "status": "sleeping"}},
        {"body": {**order_body(), "identifiers": [{"type": "dns", "value": "not a name"}]}},
    ],
    ids=["truncated", "html", "no-finalize", "unknown-status", "bad-identifier"],
)
def test_an_order_that_cannot_be_parsed_is_a_failed_read(http, orders, reply):
    http.on("POST", ORDER, http.reply(200, **reply))
    with pytest.raises(ProtocolError, match=ORDER):
        orders.get(ORDER)
    assert len(http.requests_to("POST", ORDER)) > 1  # read again before giving up


def test_an_order_unreadable_once_is_read_again(http, orders):
    http.on("POST", ORDER, http.reply(200, {"status": "ready"}), order_reply(http, "ready"))
    assert orders.get(ORDER).status == "ready"


def test_wait_reads_until_the_status_moves(http, orders, reads, clock):
    http.on("POST", ORDER, order_reply(http, "processing"), order_reply(http, "processing"), order_reply(http, "valid"))
    order = orders.wait(orders.get(ORDER), pending=("processing",), timeout=60, what="issuance")
    assert order.status == "valid" and order.certificate == CERT
    assert reads == [ORDER] * 3


def test_waiting_past_the_timeout_names_the_order_its_status_the_reads_and_what_to_do(http, orders):
    http.on("POST", ORDER, order_reply(http, "processing"))
    with pytest.raises(WaitTimeout) as caught:
        orders.wait(orders.get(ORDER), pending=("processing",), timeout=5, what="the CA to issue the certificate")
    message = str(caught.value)
    assert message.startswith(f"gave up waiting for the CA to issue the certificate: the order {ORDER} was still processing after 5 seconds (")
    assert f"({caught.value.reads} reads); raise timeout" in message and caught.value.reads > 1


def test_a_valid_order_read_without_its_certificate_url_is_read_again(http, orders):
    http.on("POST", ORDER, http.reply(200, {k: v for k, v in order_body("valid").items() if k != "certificate"}), order_reply(http, "valid"))
    assert orders.get(ORDER).certificate == CERT
    assert len(http.requests_to("POST", ORDER)) == 2


# -- newOrder ------------------------------------------------------------------------------------------


def test_create_returns_the_order_at_its_location(http, orders, warnings):
    http.on("POST", NEW_ORDER, order_reply(http, http_status=201))
    order = orders.create(IDENTIFIERS)
    assert order.uri == ORDER and order.status == "pending"
    assert warnings == []


def test_create_with_an_answer_that_is_no_order_reads_the_order_at_its_location(http, orders):
    http.on("POST", NEW_ORDER, http.reply(201, {"status": "pending"}, headers={"Location": ORDER}))
    http.on("POST", ORDER, order_reply(http))
    assert orders.create(IDENTIFIERS).uri == ORDER
    assert len(http.requests_to("POST", NEW_ORDER)) == 1


def account_with_orders(http):
    return http.reply(200, {**load_fixture("account_valid.json"), "orders": ORDERS})


def test_a_lost_new_order_answer_finds_the_order_in_the_accounts_list(http, orders, warnings):
    http.on("POST", NEW_ORDER, lost())
    http.on("POST", ACCOUNT, account_with_orders(http))
    http.on("POST", ORDERS, http.reply(200, {"orders": [OTHER_ORDER, ORDER]}))
    http.on("POST", ORDER, order_reply(http, "pending"))
    http.on("POST", OTHER_ORDER, order_reply(http, "valid"))
    order = orders.create(IDENTIFIERS)
    assert order.uri == ORDER
    assert len(http.requests_to("POST", NEW_ORDER)) == 1
    assert warnings == []


def test_the_orders_list_is_followed_page_by_page(http, orders):
    page_2 = f"{ORDERS}?page=2"
    http.on("POST", NEW_ORDER, lost())
    http.on("POST", ACCOUNT, account_with_orders(http))
    http.on("POST", ORDERS, http.reply(200, {"orders": [OTHER_ORDER]}, headers={"Link": f'<{page_2}>;rel="next"'}))
    http.on("POST", page_2, http.reply(200, {"orders": [ORDER]}))
    http.on("POST", ORDER, order_reply(http, "ready"))
    assert orders.create(IDENTIFIERS).uri == ORDER
    assert http.requests_to("POST", OTHER_ORDER) == []  # the newest is read first, and fits


def test_orders_for_other_names_or_finished_are_not_taken(http, orders, warnings):
    http.on("POST", NEW_ORDER, lost(), order_reply(http, http_status=201))
    http.on("POST", ACCOUNT, account_with_orders(http))
    http.on("POST", ORDERS, http.reply(200, {"orders": [OTHER_ORDER, f"{ORDER}-other-names"]}))
    http.on("POST", f"{ORDER}-other-names", order_reply(http, "pending", names=["example.org"]))
    http.on("POST", OTHER_ORDER, order_reply(http, "valid"))
    assert orders.create(IDENTIFIERS).uri == ORDER
    assert len(http.requests_to("POST", NEW_ORDER)) == 2
    assert len(warnings) == 1 and "may hold an unused duplicate order" in warnings[0]


def test_without_an_orders_list_a_lost_answer_orders_again_and_warns(http, orders, warnings):
    http.on("POST", NEW_ORDER, lost(), order_reply(http, http_status=201))
    http.on("POST", ACCOUNT, http.reply(200, load_fixture("account_valid.json")))
    assert orders.create(IDENTIFIERS).uri == ORDER
    assert len(http.requests_to("POST", NEW_ORDER)) == 2
    assert len(warnings) == 1
    assert warnings == [
        f"the CA's answer to the new order was lost (no answer from {NEW_ORDER} within request_timeout 10 s) and no pending order "
        "of this account matches: ordered again; the CA may hold an unused duplicate order (it expires unused)"
    ]


def test_an_answer_cut_short_after_its_location_reads_the_order_there_without_the_orders_list(http, orders, warnings):
    # Let's Encrypt offers no orders list: the Location of the cut-short answer is where the order is
    cut_short = http.reply(201, content=b'{"status": "pen', content_type="application/json", headers={"Location": ORDER, "Content-Length": "300"})
    http.on("POST", NEW_ORDER, cut_short)
    http.on("POST", ORDER, order_reply(http))
    assert orders.create(IDENTIFIERS).uri == ORDER
    assert len(http.requests_to("POST", NEW_ORDER)) == 1 and http.requests_to("POST", ACCOUNT) == []
    assert warnings == []


def test_an_answer_that_is_not_json_reads_the_order_at_its_location(http, orders):
    http.on("POST", NEW_ORDER, http.reply(201, content=b"<html>Created</html>", content_type="text/html", headers={"Location": ORDER}))
    http.on("POST", ORDER, order_reply(http))
    assert orders.create(IDENTIFIERS).uri == ORDER
    assert len(http.requests_to("POST", NEW_ORDER)) == 1


def test_an_answer_without_location_is_reconciled_like_a_lost_one(http, orders, warnings):
    http.on("POST", NEW_ORDER, order_reply(http, location=None, http_status=201), order_reply(http, http_status=201))
    http.on("POST", ACCOUNT, http.reply(200, load_fixture("account_valid.json")))
    assert orders.create(IDENTIFIERS).uri == ORDER
    assert "without a Location header" in warnings[0]


def test_new_order_answers_lost_every_time_give_up_after_a_bound(http, orders, warnings):
    http.on("POST", NEW_ORDER, lost())
    http.on("POST", ACCOUNT, http.reply(200, load_fixture("account_valid.json")))
    with pytest.raises(OutcomeUnknown) as caught:
        orders.create(IDENTIFIERS)
    assert len(http.requests_to("POST", NEW_ORDER)) == RESEND_TRIES
    assert len(warnings) == RESEND_TRIES - 1
    message = str(caught.value)
    assert message.startswith(f"creating the order: no answer from {NEW_ORDER} within request_timeout 10 s ({RESEND_TRIES} tries over ")
    assert "no pending order of the account matched" in message and "raise request_timeout" in message and "\n" not in message


# -- finalize ------------------------------------------------------------------------------------------


def ready_order(http, orders):
    http.on("POST", ORDER, order_reply(http, "ready"))
    order = orders.get(ORDER)
    http.routes.pop(("POST", ORDER))
    return order


def test_finalize_returns_the_answered_order(http, orders):
    order = ready_order(http, orders)
    http.on("POST", FINALIZE, order_reply(http, "processing"))
    assert orders.finalize(order, b"csr").status == "processing"


@pytest.mark.parametrize("state", ["processing", "valid"])
def test_a_lost_finalize_answer_reads_the_order_and_goes_on(http, orders, state):
    order = ready_order(http, orders)
    http.on("POST", FINALIZE, lost())
    http.on("POST", ORDER, order_reply(http, state))
    assert orders.finalize(order, b"csr").status == state
    assert len(http.requests_to("POST", FINALIZE)) == 1


def test_an_unreadable_finalize_answer_reads_the_order_back(http, orders):
    order = ready_order(http, orders)
    http.on("POST", FINALIZE, http.reply(200, content=b'{"stat', content_type="application/json"))
    http.on("POST", ORDER, order_reply(http, "processing"))
    assert orders.finalize(order, b"csr").status == "processing"
    assert len(http.requests_to("POST", FINALIZE)) == 1


def test_a_lost_finalize_that_did_not_arrive_is_sent_again(http, orders):
    order = ready_order(http, orders)
    http.on("POST", FINALIZE, lost(), order_reply(http, "processing"))
    http.on("POST", ORDER, order_reply(http, "ready"))
    assert orders.finalize(order, b"csr").status == "processing"
    assert len(http.requests_to("POST", FINALIZE)) == 2


def test_a_lost_finalize_of_an_order_gone_invalid_raises_its_error(http, orders):
    order = ready_order(http, orders)
    http.on("POST", FINALIZE, lost())
    error = {"type": "urn:ietf:params:acme:error:badCSR", "detail": "key too small"}
    http.on("POST", ORDER, order_reply(http, "invalid", error=error))
    with pytest.raises(ProblemError, match="badCSR.*key too small"):
        orders.finalize(order, b"csr")
    assert len(http.requests_to("POST", FINALIZE)) == 1


@pytest.mark.parametrize("state", ["processing", "valid"])
def test_order_not_ready_after_a_lost_earlier_finalize_goes_on(http, orders, state):
    order = ready_order(http, orders)
    http.on("POST", FINALIZE, problem(http, "orderNotReady"))
    http.on("POST", ORDER, order_reply(http, state))
    assert orders.finalize(order, b"csr").status == state


@pytest.mark.parametrize("state", ["pending", "invalid"])
def test_order_not_ready_otherwise_is_the_cas_problem(http, orders, state):
    order = ready_order(http, orders)
    http.on("POST", FINALIZE, problem(http, "orderNotReady"))
    http.on("POST", ORDER, order_reply(http, state))
    with pytest.raises(ProblemError, match="orderNotReady"):
        orders.finalize(order, b"csr")


def test_finalize_lost_every_time_gives_up_after_a_bound(http, orders):
    order = ready_order(http, orders)
    http.on("POST", FINALIZE, lost())
    http.on("POST", ORDER, order_reply(http, "ready"))
    with pytest.raises(OutcomeUnknown) as caught:
        orders.finalize(order, b"csr")
    assert len(http.requests_to("POST", FINALIZE)) == RESEND_TRIES
    message = str(caught.value)
    assert message.startswith(f"finalizing the order: no answer from {FINALIZE} within request_timeout 10 s ({RESEND_TRIES} tries over ")
    assert "the order was still ready" in message and "raise request_timeout" in message


def test_finalize_answered_with_a_page_every_time_gives_up_naming_what_came(http, orders):
    order = ready_order(http, orders)
    http.on("POST", FINALIZE, http.reply(200, content=b"<html>ok</html>", content_type="text/html"))
    http.on("POST", ORDER, order_reply(http, "ready"))
    with pytest.raises(OutcomeUnknown, match=f"expected JSON from {FINALIZE} but got text/html .* .{RESEND_TRIES} tries over "):
        orders.finalize(order, b"csr")


# -- issue: finalize only what is ready ------------------------------------------------------------------


def test_issue_of_a_valid_order_does_not_finalize_again(http, orders):
    http.on("POST", ORDER, order_reply(http, "valid"))
    order, finalized = orders.issue(orders.get(ORDER), b"csr", timeout=60)
    assert order.status == "valid" and finalized is False
    assert http.requests_to("POST", FINALIZE) == []


def test_issue_of_a_ready_order_finalizes_and_waits(http, orders):
    http.on("POST", ORDER, order_reply(http, "ready"), order_reply(http, "processing"), order_reply(http, "valid"))
    http.on("POST", FINALIZE, order_reply(http, "processing"))
    order, finalized = orders.issue(orders.get(ORDER), b"csr", timeout=60)
    assert (order.status, order.certificate, finalized) == ("valid", CERT, True)
    assert len(http.requests_to("POST", FINALIZE)) == 1


@pytest.mark.parametrize("state", ["pending", "invalid"])
def test_issue_of_an_unvalidated_order_is_refused(http, orders, state):
    http.on("POST", ORDER, order_reply(http, state))
    with pytest.raises(Exception, match=f"the order is {state}"):
        orders.issue(orders.get(ORDER), b"csr", timeout=60)
    assert http.requests_to("POST", FINALIZE) == []


# -- download ------------------------------------------------------------------------------------------


def pem_reply(http, content, **headers):
    return http.reply(200, content=content, content_type="application/pem-certificate-chain", headers=headers)


def valid_order(http, orders):
    http.on("POST", ORDER, order_reply(http, "valid"))
    return orders.get(ORDER)


def test_download_reads_a_strictly_parsed_chain(http, orders, reads, pki):
    order = valid_order(http, orders)
    content = pki.chain(*NAMES)
    http.on("POST", CERT, pem_reply(http, content))
    (chain,) = orders.download_chains(order, alternates=False)
    assert chain.fullchain == content
    assert reads[-1] == CERT
    assert http.requests_to("POST", CERT)[0].headers["Accept"] == "application/pem-certificate-chain"


@pytest.mark.parametrize(
    "content, what",
    [
        (b"", "the body is empty"),
        (b"-----BEGIN CERTIFICATE-----\n", "certificate 1 is cut off"),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n", "certificate 1 is cut off"),
    ],
)
def test_a_broken_download_is_a_failed_read_naming_the_url(http, orders, content, what):
    order = valid_order(http, orders)
    http.on("POST", CERT, pem_reply(http, content))
    with pytest.raises(ProtocolError, match=f"the certificate chain from {CERT} is unusable: {what}") as caught:
        orders.download_chains(order, alternates=False)
    assert "\n" not in str(caught.value)
    assert len(http.requests_to("POST", CERT)) > 1  # a failed read is read again


def test_a_download_broken_once_is_read_again_and_accepted(http, orders, pki):
    order = valid_order(http, orders)
    whole = pki.chain(*NAMES)
    http.on("POST", CERT, pem_reply(http, whole[:-300]), pem_reply(http, whole))
    (chain,) = orders.download_chains(order, alternates=False)
    assert chain.fullchain == whole
    assert len(http.requests_to("POST", CERT)) == 2


def test_a_leaf_alone_is_refused_as_incomplete(http, orders, pki):
    order = valid_order(http, orders)
    http.on("POST", CERT, pem_reply(http, pem(pki.leaf(*NAMES))))
    with pytest.raises(ProtocolError, match="incomplete chain"):
        orders.download_chains(order, alternates=False)


def test_a_certificate_for_other_names_is_refused(http, orders, pki):
    order = valid_order(http, orders)
    http.on("POST", CERT, pem_reply(http, pki.chain("example.org")))
    with pytest.raises(ProtocolError, match="differ from the order's"):
        orders.download_chains(order, alternates=False)


def test_alternates_are_read_strictly_too(http, orders, reads, pki):
    order = valid_order(http, orders)
    other_root = TestPki()
    leaf = pki.leaf(*NAMES)
    alternate_intermediate = other_root._certificate(
        pki.intermediate_key, other_root.root_key, subject="Certforge Test Intermediate", issuer="Certforge Test Root", ca=True
    )
    http.on("POST", CERT, pem_reply(http, pem(leaf) + pem(pki.intermediate), Link=f'<{ALTERNATE}>;rel="alternate"'))
    http.on("POST", ALTERNATE, pem_reply(http, pem(leaf) + pem(alternate_intermediate)))
    chains = orders.download_chains(order, alternates=True)
    assert [chain.intermediates for chain in chains] == [[pem(pki.intermediate)], [pem(alternate_intermediate)]]
    assert reads[-2:] == [CERT, ALTERNATE]


def test_an_alternate_with_another_leaf_is_refused(http, orders, pki):
    order = valid_order(http, orders)
    http.on("POST", CERT, pem_reply(http, pki.chain(*NAMES), Link=f'<{ALTERNATE}>;rel="alternate"'))
    http.on("POST", ALTERNATE, pem_reply(http, TestPki().chain(*NAMES)))
    with pytest.raises(ProtocolError, match=f"{ALTERNATE}.*another certificate"):
        orders.download_chains(order, alternates=True)


def test_alternates_are_not_fetched_unless_asked(http, orders, pki):
    order = valid_order(http, orders)
    http.on("POST", CERT, pem_reply(http, pki.chain(*NAMES), Link=f'<{ALTERNATE}>;rel="alternate"'))
    assert len(orders.download_chains(order, alternates=False)) == 1
    assert http.requests_to("POST", ALTERNATE) == []
