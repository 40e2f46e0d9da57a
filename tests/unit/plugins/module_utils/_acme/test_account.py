# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import hashlib
import hmac

import pytest
import requests

from ansible_collections.certforge.acme.plugins.module_utils._acme.account import AccountClient, ExternalAccountBinding
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import OutcomeUnknown, ProblemError, ProtocolError, TransportError
from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import SigningKey, b64url_encode
from ansible_collections.certforge.acme.plugins.module_utils._acme.reconcile import RESEND_TRIES
from ansible_collections.certforge.acme.plugins.module_utils._acme.retries import FAULT_TRIES
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DecodedJws, load_fixture, verify_jws

BASE = "https://acme-staging-v02.api.letsencrypt.org"
NEW_ACCOUNT = f"{BASE}/acme/new-acct"
KEY_CHANGE = f"{BASE}/acme/key-change"
ACCOUNT = f"{BASE}/acme/acct/123456789"
EAB_SECRET = b"\x8e\x1f" * 24  # 48 bytes: long enough for HS384 (RFC 7518 section 3.2)


@pytest.fixture
def client(session, account_key):
    return AccountClient(session, account_key)


@pytest.fixture
def known_client(session, account_key):
    return AccountClient(session, account_key, account_uri=ACCOUNT)


def account_reply(http, http_status=200, **changes):
    return http.reply(http_status, {**load_fixture("account_valid.json"), **changes}, headers={"Location": ACCOUNT})


def problem_reply(http, fixture):
    document = load_fixture(fixture)
    return http.reply(document["status"], document)


def only_post(http):
    (call,) = http.requests_to("POST")
    return call


# -- find ----------------------------------------------------------------------------------------------


def test_find_asks_only_return_existing_signed_with_the_jwk(http, client, account_key, private_keys):
    http.on("POST", NEW_ACCOUNT, account_reply(http))
    account = client.find()
    jws = verify_jws(only_post(http).jws().raw, private_keys["ec256"].public_key())
    assert jws.payload == {"onlyReturnExisting": True}
    assert jws.protected["jwk"] == account_key.jwk and "kid" not in jws.protected
    assert account.uri == ACCOUNT and client.account_uri == ACCOUNT
    assert account.status == "valid" and account.contact == ["mailto:hostmaster@example.com"]


@pytest.mark.parametrize("fixture", ["problem_account_does_not_exist.json", "problem_unauthorized_deactivated.json"])
def test_find_returns_none_when_the_key_has_no_usable_account(http, client, fixture):
    http.on("POST", NEW_ACCOUNT, problem_reply(http, fixture))
    assert client.find() is None
    assert client.account_uri is None


def test_find_raises_other_problems(http, client):
    http.on("POST", NEW_ACCOUNT, problem_reply(http, "problem_server_internal.json"))
    with pytest.raises(ProblemError, match="^looking up the account: CA error serverInternal"):
        client.find()


def test_find_with_known_uri_reads_it_with_post_as_get(http, known_client):
    http.on("POST", ACCOUNT, account_reply(http))
    assert known_client.find().uri == ACCOUNT
    jws = only_post(http).jws()
    assert jws.payload_b64 == "" and jws.protected["kid"] == ACCOUNT and jws.protected["url"] == ACCOUNT
    assert http.requests_to("POST", NEW_ACCOUNT) == []


def test_find_with_known_uri_returns_none_when_the_account_is_gone(http, known_client):
    http.on("POST", ACCOUNT, problem_reply(http, "problem_account_does_not_exist.json"))
    assert known_client.find() is None


def test_account_without_location_is_looked_up_again_then_a_protocol_error_naming_url_tries_and_advice(http, client):
    http.on("POST", NEW_ACCOUNT, http.reply(200, load_fixture("account_valid.json")))
    with pytest.raises(ProtocolError) as caught:
        client.find()
    message = str(caught.value)
    assert message.startswith(f"looking up the account: the CA answered {NEW_ACCOUNT} with an account but no Location header ({FAULT_TRIES} tries over ")
    assert "check proxies" in message
    assert len(http.requests_to("POST", NEW_ACCOUNT)) == FAULT_TRIES


def test_a_lookup_answered_once_without_location_is_sent_again(http, client):
    http.on("POST", NEW_ACCOUNT, http.reply(200, load_fixture("account_valid.json")), account_reply(http))
    assert client.find().uri == ACCOUNT


# -- create --------------------------------------------------------------------------------------------


def test_create_sends_contact_and_terms_agreement(http, client, account_key):
    http.on("POST", NEW_ACCOUNT, account_reply(http, 201))
    client.create(contact=["mailto:hostmaster@example.com"], terms_agreed=True)
    jws = only_post(http).jws()
    assert jws.payload == {"contact": ["mailto:hostmaster@example.com"], "termsOfServiceAgreed": True}
    assert jws.protected["jwk"] == account_key.jwk and jws.protected["url"] == NEW_ACCOUNT


def test_create_without_agreement_leaves_terms_out(http, client):
    http.on("POST", NEW_ACCOUNT, account_reply(http, 201))
    client.create(contact=[], terms_agreed=False)
    assert only_post(http).jws().payload == {"contact": []}


@pytest.mark.parametrize("status, created", [(201, True), (200, False)])
def test_create_reports_whether_the_account_is_new(http, client, status, created):
    http.on("POST", NEW_ACCOUNT, account_reply(http, status))
    account, is_new = client.create(contact=[], terms_agreed=True)
    assert is_new is created
    assert account.uri == ACCOUNT and client.account_uri == ACCOUNT


def test_create_with_eab_puts_the_binding_in_the_payload(http, client, account_key):
    http.on("POST", NEW_ACCOUNT, account_reply(http, 201))
    binding = ExternalAccountBinding(kid="kid-from-ca", hmac_key=b64url_encode(EAB_SECRET), alg="HS384")
    client.create(contact=[], terms_agreed=True, binding=binding)
    eab = DecodedJws(only_post(http).jws().payload["externalAccountBinding"])
    assert eab.protected == {"alg": "HS384", "kid": "kid-from-ca", "url": NEW_ACCOUNT}
    assert eab.payload == account_key.jwk
    assert hmac.compare_digest(eab.signature, hmac.new(EAB_SECRET, eab.signing_input, hashlib.sha384).digest())


# -- update, deactivate ------------------------------------------------------------------------------------


def test_update_contact_is_signed_with_kid(http, known_client):
    http.on("POST", ACCOUNT, account_reply(http, contact=["mailto:new@example.com"]))
    account = known_client.update_contact(["mailto:new@example.com"])
    jws = only_post(http).jws()
    assert jws.payload == {"contact": ["mailto:new@example.com"]}
    assert jws.protected["kid"] == ACCOUNT and "jwk" not in jws.protected
    assert account.contact == ["mailto:new@example.com"]


def test_deactivate_sends_status_deactivated(http, known_client):
    http.on("POST", ACCOUNT, account_reply(http, status="deactivated"))
    assert known_client.deactivate().status == "deactivated"
    assert only_post(http).jws().payload == {"status": "deactivated"}


def test_summary_has_no_key_material(http, client):
    http.on("POST", NEW_ACCOUNT, account_reply(http))
    summary = client.find().summary()
    assert summary == {"status": "valid", "contact": ["mailto:hostmaster@example.com"], "orders": None}


# -- key change -------------------------------------------------------------------------------------------


def test_key_change_inner_jws_is_signed_by_the_new_key(http, known_client, account_key, private_keys):
    new_key = SigningKey(private_keys["ed25519"])
    http.on("POST", KEY_CHANGE, account_reply(http))
    known_client.change_key(new_key)
    outer = only_post(http).jws()
    inner = verify_jws(outer.payload, private_keys["ed25519"].public_key())
    assert inner.protected == {"alg": "EdDSA", "jwk": new_key.jwk, "url": KEY_CHANGE}
    assert inner.payload == {"account": ACCOUNT, "oldKey": account_key.jwk}


def test_key_change_outer_jws_is_signed_by_the_old_key_with_kid(http, known_client, private_keys):
    http.on("POST", KEY_CHANGE, account_reply(http))
    known_client.change_key(SigningKey(private_keys["ed25519"]))
    outer = verify_jws(only_post(http).jws().raw, private_keys["ec256"].public_key())
    assert outer.protected["kid"] == ACCOUNT and outer.protected["url"] == KEY_CHANGE
    assert "jwk" not in outer.protected and outer.protected["nonce"]


def test_after_key_change_the_client_signs_with_the_new_key(http, known_client, private_keys):
    http.on("POST", KEY_CHANGE, account_reply(http))
    http.on("POST", ACCOUNT, account_reply(http))
    known_client.change_key(SigningKey(private_keys["rsa2048"]))
    known_client.read()
    verify_jws(http.requests_to("POST", ACCOUNT)[0].jws().raw, private_keys["rsa2048"].public_key())


def test_failed_key_change_keeps_the_old_key(http, known_client, account_key, private_keys):
    http.on("POST", KEY_CHANGE, http.reply(409, {"type": "urn:ietf:params:acme:error:malformed", "detail": "key in use"}))
    with pytest.raises(ProblemError):
        known_client.change_key(SigningKey(private_keys["rsa2048"]))
    assert known_client.key is account_key


# -- reads parse or fail; lost answers ----------------------------------------------------------------


def lost():
    return requests.exceptions.ReadTimeout("read timed out")


def test_read_goes_through_session_read(http, known_client, session, monkeypatch):
    seen = []
    original = session.read
    monkeypatch.setattr(session, "read", lambda url, **options: seen.append(url) or original(url, **options))
    http.on("POST", ACCOUNT, account_reply(http))
    assert known_client.read().status == "valid"
    assert seen == [ACCOUNT]


@pytest.mark.parametrize(
    "reply",
    [
        {"content": b'{"status": "val', "content_type": "application/json"},
        {"body": {"status": "sleeping"}},
        {"content": b'["valid"]', "content_type": "application/json"},
    ],
    ids=["truncated", "unknown-status", "not-an-object"],
)
def test_an_account_that_cannot_be_parsed_is_a_failed_read(http, known_client, reply):
    http.on("POST", ACCOUNT, http.reply(200, **reply))
    with pytest.raises(ProtocolError, match=ACCOUNT):
        known_client.read()


def test_a_lost_lookup_is_asked_again(http, client):
    http.on("POST", NEW_ACCOUNT, lost(), account_reply(http))
    assert client.find().uri == ACCOUNT
    assert len(http.requests_to("POST", NEW_ACCOUNT)) == 2


def test_a_lost_registration_is_sent_again_and_counts_as_new(http, client):
    http.on("POST", NEW_ACCOUNT, lost(), account_reply(http, 200))
    account, created = client.create(contact=[], terms_agreed=True)
    assert account.uri == ACCOUNT and created is True
    payloads = [call.jws().payload for call in http.requests_to("POST", NEW_ACCOUNT)]
    assert payloads == [{"contact": [], "termsOfServiceAgreed": True}] * 2


def test_a_registration_without_location_is_sent_again_and_counts_as_new(http, client):
    # newAccount for a registered key answers with the account (section 7.3.1): sending it again is a lookup
    http.on("POST", NEW_ACCOUNT, http.reply(201, load_fixture("account_valid.json")), account_reply(http, 200))
    account, created = client.create(contact=[], terms_agreed=True)
    assert account.uri == ACCOUNT and created is True
    assert [call.jws().payload for call in http.requests_to("POST", NEW_ACCOUNT)] == [{"contact": [], "termsOfServiceAgreed": True}] * 2


def test_a_registration_of_a_key_already_registered_is_not_new(http, client):
    http.on("POST", NEW_ACCOUNT, account_reply(http, 200))
    assert client.create(contact=[], terms_agreed=True)[1] is False


def test_a_registration_refused_by_a_gateway_once_is_not_new_when_the_ca_answers_200(http, client):
    # a 503 says the CA did not take the request: a 200 afterwards is an account made before this run
    http.on("POST", NEW_ACCOUNT, http.reply(503, content=b"busy", content_type="text/plain"), account_reply(http, 200))
    assert client.create(contact=[], terms_agreed=True)[1] is False


def test_registrations_lost_every_time_give_up_after_a_bound(http, client):
    http.on("POST", NEW_ACCOUNT, lost())
    with pytest.raises(TransportError, match=f"^creating the account: no answer from {NEW_ACCOUNT} .* .{FAULT_TRIES} tries over .*raise"):
        client.create(contact=[], terms_agreed=True)
    assert len(http.requests_to("POST", NEW_ACCOUNT)) == FAULT_TRIES


def test_a_lost_contact_update_is_sent_again(http, known_client):
    http.on("POST", ACCOUNT, lost(), account_reply(http, contact=["mailto:new@example.com"]))
    assert known_client.update_contact(["mailto:new@example.com"]).contact == ["mailto:new@example.com"]
    assert [call.jws().payload for call in http.requests_to("POST", ACCOUNT)] == [{"contact": ["mailto:new@example.com"]}] * 2


def test_a_lost_deactivation_refused_on_resend_as_deactivated_is_done(http, known_client):
    http.on("POST", ACCOUNT, lost(), problem_reply(http, "problem_unauthorized_deactivated.json"))
    assert known_client.deactivate().status == "deactivated"


def test_deactivations_lost_every_time_give_up_in_one_line(http, known_client):
    http.on("POST", ACCOUNT, lost())
    with pytest.raises(OutcomeUnknown) as caught:
        known_client.deactivate()
    assert len(http.requests_to("POST", ACCOUNT)) == RESEND_TRIES
    assert str(caught.value).startswith(f"deactivating the account: no answer from {ACCOUNT} within request_timeout 10 s ({RESEND_TRIES} tries over ")
    assert "raise request_timeout" in str(caught.value)


def test_a_deactivation_refused_at_once_is_the_cas_problem(http, known_client):
    http.on("POST", ACCOUNT, problem_reply(http, "problem_unauthorized_deactivated.json"))
    with pytest.raises(ProblemError):
        known_client.deactivate()


def test_a_lost_key_change_that_arrived_is_found_with_the_new_key(http, known_client, private_keys):
    new_key = SigningKey(private_keys["rsa2048"])
    http.on("POST", KEY_CHANGE, lost())
    http.on("POST", NEW_ACCOUNT, account_reply(http))
    known_client.change_key(new_key)
    assert known_client.key is new_key
    assert len(http.requests_to("POST", KEY_CHANGE)) == 1
    lookup = verify_jws(http.requests_to("POST", NEW_ACCOUNT)[0].jws().raw, private_keys["rsa2048"].public_key())
    assert lookup.payload == {"onlyReturnExisting": True}


def test_a_lost_key_change_that_did_not_arrive_is_sent_again(http, known_client, private_keys):
    new_key = SigningKey(private_keys["rsa2048"])
    http.on("POST", KEY_CHANGE, lost(), account_reply(http))
    http.on("POST", NEW_ACCOUNT, problem_reply(http, "problem_account_does_not_exist.json"))
    known_client.change_key(new_key)
    assert known_client.key is new_key
    assert len(http.requests_to("POST", KEY_CHANGE)) == 2


def test_key_changes_lost_every_time_give_up_in_one_line(http, known_client, private_keys):
    old_key = known_client.key
    http.on("POST", KEY_CHANGE, lost())
    http.on("POST", NEW_ACCOUNT, problem_reply(http, "problem_account_does_not_exist.json"))
    expected = f"^changing the account key: no answer from {KEY_CHANGE} .* .{RESEND_TRIES} tries over .*new key found no account"
    with pytest.raises(OutcomeUnknown, match=expected):
        known_client.change_key(SigningKey(private_keys["rsa2048"]))
    assert len(http.requests_to("POST", KEY_CHANGE)) == RESEND_TRIES
    assert known_client.key is old_key
