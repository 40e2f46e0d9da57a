# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Challenge types the client does not know never break an authorization; they are passed through raw."""

from __future__ import annotations

from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import AuthorizationClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.challenges import authorization_data

BASE = "https://acme.example"
ACCOUNT = f"{BASE}/acct/1"
AUTHZ = f"{BASE}/authz/1"

DNS_PERSIST = {
    "type": "dns-persist-01",
    "url": f"{BASE}/chall/persist",
    "status": "pending",
    "issuer-domain-names": ["authority.example", "ca.example.net"],
}
# Whatever a CA may invent: no token, no url, a status RFC 8555 does not list, fields of its own.
ODD_ONES = [
    {"type": "dns-account-01", "url": f"{BASE}/chall/account", "status": "pending", "token": "tok-acct"},
    {"type": "onion-csr-01", "url": f"{BASE}/chall/onion", "status": "pending", "token": "tok-onion", "authKey": {"kty": "OKP"}},
    {"type": "future-02", "status": "waiting-for-the-moon", "nested": {"list": [1, 2]}},
]
HTTP01 = {"type": "http-01", "url": f"{BASE}/chall/http", "status": "pending", "token": "tok-http"}


def test_unknown_challenge_types_are_kept_whole_next_to_known_ones(http, session, account_key):
    http.on(
        "POST",
        AUTHZ,
        http.reply(
            200,
            {
                "status": "pending",
                "identifier": {"type": "dns", "value": "example.org"},
                "challenges": [HTTP01, DNS_PERSIST, *ODD_ONES],
            },
        ),
    )

    authorization = AuthorizationClient(session, account_key, ACCOUNT).get(AUTHZ)
    offered = authorization_data(authorization, account_key.thumbprint)

    assert offered["http-01"]["resource"] == ".well-known/acme-challenge/tok-http"
    # dns-persist-01 is answered by this collection: every field the CA sent is kept, its record added beside them.
    assert {key: offered["dns-persist-01"][key] for key in DNS_PERSIST} == DNS_PERSIST
    for raw in ODD_ONES:
        assert offered[raw["type"]] == raw
