# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which order of an earlier run acme_order takes up, and when it orders anew instead."""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import OrderClient
from ansible_collections.certforge.acme.plugins.modules import acme_order

BASE = "https://acme.example"
ACCOUNT = f"{BASE}/acct/1"
ORDER = f"{BASE}/order/1"
NAMES = ("example.org", "www.example.org")
IDENTIFIERS = parse_identifiers(NAMES)


@pytest.fixture
def orders(session, account_key):
    return OrderClient(session, account_key, ACCOUNT)


@pytest.mark.parametrize("status", [404, 410])
@pytest.mark.parametrize("body", [b"", b"<html>Not Found</html>"], ids=["empty", "html"])
def test_an_order_the_ca_does_not_know_without_a_problem_document_is_replaced(http, orders, status, body):
    http.on("POST", ORDER, http.reply(status, content=body, content_type="text/html" if body else None))
    assert acme_order.resumable_order(orders, ORDER, IDENTIFIERS) is None


@pytest.mark.parametrize("status", [404, 410])
def test_an_order_the_ca_does_not_know_with_a_problem_document_is_replaced(http, orders, status):
    http.on("POST", ORDER, http.reply(status, {"type": "urn:ietf:params:acme:error:malformed", "detail": "no such order"}))
    assert acme_order.resumable_order(orders, ORDER, IDENTIFIERS) is None


@pytest.mark.parametrize("content", ["http://acme.example/order/1", "acme.example/order/1", "garbage\x00"])
def test_an_order_uri_file_holding_no_https_url_is_refused_before_anything_is_signed(tmp_path, content):
    path = tmp_path / "www.uri"
    path.write_text(content + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        acme_order.read_order_uri_file(str(path))
    assert str(caught.value).startswith("order_uri_file: ") and "\n" not in str(caught.value)
