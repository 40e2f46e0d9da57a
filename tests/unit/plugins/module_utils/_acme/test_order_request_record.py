# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An order on record asked with other parameters (profile, notBefore/notAfter) is not resumed for a different request."""

from __future__ import annotations

import json

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import AuthorizationClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from ansible_collections.certforge.acme.plugins.module_utils._acme.order_record import (
    OrderRequest,
    read_order_record,
    write_order_record,
)
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import OrderClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.resume import resume_order

BASE = "https://acme.example"
ACCOUNT = f"{BASE}/acct/1"
ORDER = f"{BASE}/order/1"
IDENTIFIERS = parse_identifiers(["example.org"])


def order_body(**echoed):
    return {
        "status": "ready",
        "identifiers": [{"type": "dns", "value": "example.org"}],
        "authorizations": [f"{BASE}/authz/1"],
        "finalize": f"{ORDER}/finalize",
        **echoed,
    }


@pytest.fixture
def resume(http, session, account_key):
    http.on(
        "POST",
        f"{BASE}/authz/1",
        http.reply(
            200,
            {
                "status": "valid",
                "identifier": {"type": "dns", "value": "example.org"},
                "challenges": [],
            },
        ),
    )

    def run(request, *, asked=None, echoed=None):
        http.on("POST", ORDER, http.reply(200, order_body(**(echoed or {}))))
        orders = OrderClient(session, account_key, ACCOUNT)
        resumption = resume_order(orders, AuthorizationClient(session, account_key, ACCOUNT), ORDER, request, asked=asked)
        return resumption.order, resumption.reason

    return run


@pytest.mark.parametrize(
    "asked, wanted, named",
    [
        (OrderRequest(IDENTIFIERS, profile="classic"), OrderRequest(IDENTIFIERS, profile="shortlived"), "profile"),
        (OrderRequest(IDENTIFIERS), OrderRequest(IDENTIFIERS, profile="shortlived"), "profile"),
        (OrderRequest(IDENTIFIERS, not_after="2027-01-01T00:00:00Z"), OrderRequest(IDENTIFIERS), "not_after"),
        (OrderRequest(IDENTIFIERS, not_before="2027-01-01T00:00:00Z"), OrderRequest(IDENTIFIERS, not_before="2027-01-02T00:00:00Z"), "not_before"),
    ],
)
def test_an_order_asked_otherwise_is_not_resumed(resume, asked, wanted, named):
    order, reason = resume(wanted, asked=asked)
    assert order is None and named in reason


def test_the_same_request_resumes_its_order_times_compared_as_instants(resume):
    asked = OrderRequest(IDENTIFIERS, profile="classic", not_after="2027-01-01T00:00:00Z")
    order, reason = resume(OrderRequest(IDENTIFIERS, profile="classic", not_after="2027-01-01T01:00:00+01:00"), asked=asked)
    assert order is not None and reason is None


def test_without_a_record_what_the_order_itself_says_was_asked_is_compared(resume):
    order, reason = resume(OrderRequest(IDENTIFIERS, profile="shortlived"), echoed={"profile": "classic"})
    assert order is None and "profile" in reason
    order, reason = resume(OrderRequest(IDENTIFIERS, profile="classic"), echoed={"profile": "classic"})
    assert order is not None


def test_the_record_follows_the_url_which_stays_the_first_line(tmp_path):
    path = str(tmp_path / "orders" / "web1-www.uri")
    request = OrderRequest(IDENTIFIERS, profile="shortlived", not_before="2027-01-01T00:00:00Z")
    write_order_record(path, ORDER, request)

    url_line, record_line = (tmp_path / "orders" / "web1-www.uri").read_text(encoding="utf-8").splitlines()
    assert url_line == ORDER and json.loads(record_line)["order_uri"] == ORDER
    assert read_order_record(path) == (ORDER, request)


def test_an_order_uri_file_of_an_earlier_version_reads_without_a_record(tmp_path):
    path = tmp_path / "web1-www.uri"
    path.write_text(f"{ORDER}\n", encoding="utf-8")
    assert read_order_record(str(path)) == (ORDER, None)


@pytest.mark.parametrize(
    "second_line",
    [
        json.dumps({"order_uri": f"{BASE}/order/0", "identifiers": [{"type": "dns", "value": "example.org"}], "profile": "classic"}),
        "{not json",
        json.dumps({"order_uri": ORDER}),
    ],
)
def test_a_record_for_another_order_or_unreadable_counts_as_none(tmp_path, second_line):
    path = tmp_path / "web1-www.uri"
    path.write_text(f"{ORDER}\n{second_line}\n", encoding="utf-8")
    assert read_order_record(str(path)) == (ORDER, None)
