# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authorizations and challenges: parsed reads, lost answers reconciled by reading back."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.certforge.acme.plugins.module_utils._acme.authorizations import AuthorizationClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import OutcomeUnknown, ProblemError, ProtocolError
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import Identifier
from ansible_collections.certforge.acme.plugins.module_utils._acme.reconcile import RESEND_TRIES

BASE = "https://acme-staging-v02.api.letsencrypt.org"
ACCOUNT = f"{BASE}/acme/acct/123456789"
AUTHZ = f"{BASE}/acme/authz/123456789/555"
CHALLENGE = f"{BASE}/acme/chall/123456789/555/Xb7p1Q"


def lost() -> requests.exceptions.ReadTimeout:
    return requests.exceptions.ReadTimeout("read timed out")


def challenge_body(status="pending", **extra):
    return {"type": "http-01", "url": CHALLENGE, "status": status, "token": "tok-en_1", **extra}


def authz_body(status="pending", challenge_status="pending", **extra):
    return {
        "status": status,
        "expires": "2099-01-01T00:00:00Z",
        "identifier": {"type": "dns", "value": "example.org"},
        "challenges": [challenge_body(challenge_status)],
        **extra,
    }


@pytest.fixture
def client(session, account_key):
    return AuthorizationClient(session, account_key, ACCOUNT)


@pytest.fixture
def reads(session, monkeypatch):
    seen = []
    original = session.read

    def read(url, **options):
        seen.append(url)
        return original(url, **options)

    monkeypatch.setattr(session, "read", read)
    return seen


def pending_challenge(http, client):
    http.on("POST", AUTHZ, http.reply(200, authz_body()))
    challenge = client.get(AUTHZ).challenge("http-01")
    http.routes.pop(("POST", AUTHZ))
    return challenge


# -- reading -------------------------------------------------------------------------------------------


def test_an_authorization_is_read_through_session_read(http, client, reads):
    http.on("POST", AUTHZ, http.reply(200, authz_body(wildcard=True)))
    authorization = client.get(AUTHZ)
    assert authorization.identifier == Identifier("dns", "*.example.org")
    assert authorization.challenge("http-01").token == "tok-en_1"
    assert reads == [AUTHZ]


@pytest.mark.parametrize(
    "reply",
    [
        {"content": b'{"status": "pending", "identifier": {"ty', "content_type": "application/json"},
        {"body": {"status": "pending", "challenges": []}},
        {"body": {**authz_body(), "status": None}},
        {"body": {**authz_body(), "challenges": [{"type": "http-01", "status": "pending"}]}},
    ],
    ids=["truncated", "no-identifier", "no-status", "challenge-without-url"],
)
def test_an_authorization_that_cannot_be_parsed_is_a_failed_read(http, client, reply):
    http.on("POST", AUTHZ, http.reply(200, **reply))
    with pytest.raises(ProtocolError, match=AUTHZ):
        client.get(AUTHZ)
    assert len(http.requests_to("POST", AUTHZ)) > 1  # read again before giving up


def test_an_authorization_read_lost_once_is_read_again(http, client):
    http.on("POST", AUTHZ, requests.exceptions.ConnectionError("Connection aborted."), http.reply(200, authz_body()))
    assert client.get(AUTHZ).status == "pending"


def test_get_all_reads_each(http, client, reads):
    http.on("POST", AUTHZ, http.reply(200, authz_body()))
    assert len(client.get_all([AUTHZ, AUTHZ])) == 2
    assert reads == [AUTHZ, AUTHZ]


# -- answering a challenge -----------------------------------------------------------------------------


def test_respond_sends_an_empty_object(http, client):
    challenge = pending_challenge(http, client)
    http.on("POST", CHALLENGE, http.reply(200, challenge_body("processing")))
    assert client.respond(challenge).status == "processing"
    assert http.requests_to("POST", CHALLENGE)[0].jws().payload == {}


@pytest.mark.parametrize("state", ["processing", "valid", "invalid"])
def test_a_lost_answer_whose_challenge_left_pending_is_not_sent_again(http, client, reads, state):
    challenge = pending_challenge(http, client)
    http.on("POST", CHALLENGE, lost(), http.reply(200, challenge_body(state)))
    assert client.respond(challenge).status == state
    answers = [call for call in http.requests_to("POST", CHALLENGE) if call.jws().payload == {}]
    assert len(answers) == 1
    assert reads[-1] == CHALLENGE


def test_a_lost_answer_whose_challenge_is_still_pending_is_sent_again(http, client):
    challenge = pending_challenge(http, client)
    http.on("POST", CHALLENGE, lost(), http.reply(200, challenge_body("pending")), http.reply(200, challenge_body("processing")))
    assert client.respond(challenge).status == "processing"
    payloads = [call.jws().payload for call in http.requests_to("POST", CHALLENGE)]
    assert payloads == [{}, None, {}]  # answer, read back, answer again


def test_an_unreadable_answer_is_reconciled_too(http, client):
    challenge = pending_challenge(http, client)
    http.on("POST", CHALLENGE, http.reply(200, content=b'{"ty', content_type="application/json"), http.reply(200, challenge_body("valid")))
    assert client.respond(challenge).status == "valid"


def test_a_refused_resend_after_the_first_arrived_counts_as_answered(http, client):
    challenge = pending_challenge(http, client)
    malformed = http.reply(400, {"type": "urn:ietf:params:acme:error:malformed", "detail": "Cannot update challenge with status valid"})
    http.on(
        "POST",
        CHALLENGE,
        lost(),
        http.reply(200, challenge_body("pending")),  # lost, still pending: answer again
        malformed,
        http.reply(200, challenge_body("valid")),  # refused: the first one got through meanwhile
    )
    assert client.respond(challenge).status == "valid"


def test_a_first_refusal_is_the_cas_problem(http, client):
    challenge = pending_challenge(http, client)
    http.on("POST", CHALLENGE, http.reply(403, {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "not yours"}))
    with pytest.raises(ProblemError, match="unauthorized"):
        client.respond(challenge)


def test_answers_lost_every_time_give_up_after_a_bound(http, client):
    challenge = pending_challenge(http, client)
    http.on("POST", CHALLENGE, *[lost(), http.reply(200, challenge_body("pending"))] * RESEND_TRIES, lost())
    with pytest.raises(OutcomeUnknown) as caught:
        client.respond(challenge)
    answers = [call for call in http.requests_to("POST", CHALLENGE) if call.jws().payload == {}]
    assert len(answers) == RESEND_TRIES
    message = str(caught.value)
    assert message.startswith(f"answering {CHALLENGE}: no answer from {CHALLENGE} within request_timeout 10 s ({RESEND_TRIES} tries over ")
    assert "the challenge was still pending" in message and "raise request_timeout" in message


def test_an_answer_that_is_not_a_challenge_reads_the_challenge_back(http, client):
    challenge = pending_challenge(http, client)
    http.on("POST", CHALLENGE, http.reply(200, content=b"<html>ok</html>", content_type="text/html"), http.reply(200, challenge_body("valid")))
    assert client.respond(challenge).status == "valid"
    answers = [call for call in http.requests_to("POST", CHALLENGE) if call.jws().payload == {}]
    assert len(answers) == 1


def test_deactivations_lost_every_time_give_up_in_one_line(http, client):
    http.on("POST", AUTHZ, http.reply(200, authz_body("valid", "valid")))
    authorization = client.get(AUTHZ)
    http.on("POST", AUTHZ, *[lost(), http.reply(200, authz_body("valid", "valid"))] * RESEND_TRIES)
    expected = f"^deactivating an authorization: no answer from {AUTHZ} .* .{RESEND_TRIES} tries over .*not deactivated after any"
    with pytest.raises(OutcomeUnknown, match=expected):
        client.deactivate(authorization)


# -- deactivation --------------------------------------------------------------------------------------


def test_a_lost_deactivation_reads_the_authorization_back(http, client):
    http.on("POST", AUTHZ, http.reply(200, authz_body("valid", "valid")))
    authorization = client.get(AUTHZ)
    http.on("POST", AUTHZ, lost(), http.reply(200, authz_body("deactivated", "valid")))
    assert client.deactivate(authorization).status == "deactivated"
    payloads = [call.jws().payload for call in http.requests_to("POST", AUTHZ)][1:]
    assert payloads == [{"status": "deactivated"}, None]


def test_a_lost_deactivation_that_did_not_arrive_is_sent_again(http, client):
    http.on("POST", AUTHZ, http.reply(200, authz_body("valid", "valid")))
    authorization = client.get(AUTHZ)
    http.on("POST", AUTHZ, lost(), http.reply(200, authz_body("valid", "valid")), http.reply(200, authz_body("deactivated", "valid")))
    assert client.deactivate(authorization).status == "deactivated"
    payloads = [call.jws().payload for call in http.requests_to("POST", AUTHZ)][1:]
    assert payloads == [{"status": "deactivated"}, None, {"status": "deactivated"}]
