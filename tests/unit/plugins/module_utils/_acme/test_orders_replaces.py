# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""newOrder with `replaces` (RFC 9773 section 5): a CA that refuses the replacement still gets the order."""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ProblemError
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import OrderClient

BASE = "https://acme-staging-v02.api.letsencrypt.org"
NEW_ORDER = f"{BASE}/acme/new-order"
ACCOUNT = f"{BASE}/acme/acct/123456789"
ORDER = f"{BASE}/acme/order/123456789/1001"
REPLACED = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
NAMES = ("example.org",)


def order_reply(http):
    body = {
        "status": "pending",
        "expires": "2099-01-01T00:00:00Z",
        "identifiers": [{"type": "dns", "value": name} for name in NAMES],
        "authorizations": [f"{BASE}/acme/authz/{name}" for name in NAMES],
        "finalize": f"{ORDER}/finalize",
    }
    return http.reply(201, body, headers={"Location": ORDER})


def refusal(http, kind, status):
    return http.reply(status, {"type": f"urn:ietf:params:acme:error:{kind}", "detail": f"{REPLACED} is already replaced", "status": status})


@pytest.mark.parametrize("kind, status", [("alreadyReplaced", 409), ("conflict", 409), ("alreadyReplaced", 400)])
def test_a_refused_replacement_is_ordered_again_without_replaces_and_warned(http, session, account_key, kind, status):
    warnings: list[str] = []
    http.on("POST", NEW_ORDER, refusal(http, kind, status), order_reply(http))
    order = OrderClient(session, account_key, ACCOUNT, warn=warnings.append).create(parse_identifiers(NAMES), replaces=REPLACED)
    assert order.uri == ORDER
    sent = [call.jws().payload for call in http.requests_to("POST", NEW_ORDER)]
    assert [payload.get("replaces") for payload in sent] == [REPLACED, None]
    assert len(warnings) == 1 and REPLACED in warnings[0] and "without replaces" in warnings[0] and kind in warnings[0]


def test_a_conflict_without_replaces_is_not_hidden(http, session, account_key):
    http.on("POST", NEW_ORDER, refusal(http, "conflict", 409))
    with pytest.raises(ProblemError, match="already replaced"):
        OrderClient(session, account_key, ACCOUNT).create(parse_identifiers(NAMES))
    assert len(http.requests_to("POST", NEW_ORDER)) == 1


def test_other_refusals_of_a_replacement_are_not_retried(http, session, account_key):
    http.on("POST", NEW_ORDER, refusal(http, "rejectedIdentifier", 400))
    with pytest.raises(ProblemError):
        OrderClient(session, account_key, ACCOUNT).create(parse_identifiers(NAMES), replaces=REPLACED)
    assert len(http.requests_to("POST", NEW_ORDER)) == 1
