# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A CA that ignores a deactivation (acme2certifier answers 200 with the authorization still valid) is reported as such."""

from __future__ import annotations

from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import AuthorizationClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.orders import OrderClient
from ansible_collections.certforge.acme.plugins.modules import acme_challenge

BASE = "https://acme.example"
ACCOUNT = f"{BASE}/acct/1"
ORDER = f"{BASE}/order/1"
AUTHZ = f"{BASE}/authz/1"


class FakeModule:
    check_mode = False

    def __init__(self):
        self.params = {"order_uri": ORDER}
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


def test_a_deactivation_the_ca_ignores_changes_nothing_and_warns(http, session, account_key):
    valid = {"status": "valid", "identifier": {"type": "dns", "value": "example.org"}, "challenges": []}
    http.on(
        "POST",
        ORDER,
        http.reply(
            200,
            {
                "status": "ready",
                "identifiers": [{"type": "dns", "value": "example.org"}],
                "authorizations": [AUTHZ],
                "finalize": f"{ORDER}/f",
            },
        ),
    )
    http.on("POST", AUTHZ, http.reply(200, valid))
    module = FakeModule()

    result = acme_challenge.deactivate(module, OrderClient(session, account_key, ACCOUNT), AuthorizationClient(session, account_key, ACCOUNT))

    assert result["changed"] is False
    assert result["authorizations"][0]["status"] == "valid"
    [warning] = module.warnings
    assert "example.org" in warning and "still valid" in warning
