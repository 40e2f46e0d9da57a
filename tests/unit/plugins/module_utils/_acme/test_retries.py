# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is sent again after a fault, what is not, and what the final error says (RFC 8555 section 6)."""

from __future__ import annotations

import random

import pytest
from urllib3.exceptions import IncompleteRead, ReadTimeoutError
from urllib3.exceptions import ProtocolError as Urllib3ProtocolError

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import (
    ConfigurationError,
    OutcomeUnknown,
    ProblemError,
    ProtocolError,
    TransportError,
)
from ansible_collections.certforge.acme.plugins.module_utils._acme.retries import BAD_NONCE_TRIES, FAULT_TRIES, RETRY_KINDS, RetryLog
from ansible_collections.certforge.acme.tests.unit.utils.helpers import (
    DIRECTORY_URL,
    body_cut_short,
    connection_refused,
    connection_reset,
    load_fixture,
    read_timeout,
)

BASE = "https://acme-staging-v02.api.letsencrypt.org"
NEW_NONCE = f"{BASE}/acme/new-nonce"
NEW_ORDER = f"{BASE}/acme/new-order"
ACCOUNT = f"{BASE}/acme/acct/123456789"
ORDER = f"{BASE}/acme/order/123456789/987654321"
FINALIZE = f"{ORDER}/finalize"
CERT = f"{BASE}/acme/cert/2b5f3c"
ORDER_BODY = {"status": "pending", "identifiers": [], "authorizations": [], "finalize": FINALIZE}
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def ok(http, status=200, body=None, **options):
    return http.reply(status, ORDER_BODY if body is None else body, **options)


def bad_nonce(http, **options):
    return http.reply(400, load_fixture("problem_bad_nonce.json"), **options)


def read(session, key, url=ORDER, parse=None):
    return session.read(url, key=key, kid=ACCOUNT, parse=parse or (lambda response: response.json()), context=f"reading the order {url}")


def finalize(session, key):
    return session.post(FINALIZE, key=key, kid=ACCOUNT, payload={"csr": "MIIB"}, context="finalizing the order")


def nonces_of(calls):
    return [call.jws().protected["nonce"] for call in calls]


def pem_only(response):
    if not response.content.rstrip().endswith(b"-----END CERTIFICATE-----"):
        raise ProtocolError(f"the CA's certificate URL {response.url} returned no whole PEM certificate", url=response.url)
    return response.content


# -- reads are sent again -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, kind",
    [
        (connection_reset, "connection"),
        (read_timeout, "connection"),
        (lambda: connection_refused(ORDER), "connection"),
        (body_cut_short, "incomplete_answer"),
        (lambda: IncompleteRead(10, 90), "incomplete_answer"),
        (lambda: Urllib3ProtocolError("Connection broken: IncompleteRead", IncompleteRead(10, 90)), "incomplete_answer"),
    ],
)
def test_a_read_whose_answer_was_lost_is_sent_again_with_a_new_nonce_and_signature(http, session, clock, account_key, fault, kind):
    http.on("POST", ORDER, fault(), ok(http))
    assert read(session, account_key)["status"] == "pending"
    posts = http.requests_to("POST", ORDER)
    assert len(posts) == 2
    assert len(set(nonces_of(posts))) == 2
    assert posts[0].jws().signature != posts[1].jws().signature
    assert clock.sleeps == [0.5]
    assert session.retries.counts() == {**dict.fromkeys(RETRY_KINDS, 0), kind: 1}


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"content": b'{"status": "pen', "headers": {"Content-Length": "60"}}, id="shorter than Content-Length"),
        pytest.param({"content": b'{"status": "pen', "headers": {"Content-Length": "15"}}, id="JSON cut short, consistent length"),
        pytest.param({"content": b"<html>proxy error</html>", "content_type": "text/html"}, id="not JSON"),
    ],
)
def test_a_read_whose_answer_does_not_parse_is_sent_again(http, session, account_key, answer):
    http.on(
        "POST",
        ORDER,
        http.reply(200, content_type=answer.get("content_type", "application/json"), content=answer["content"], headers=answer.get("headers")),
        ok(http),
    )
    assert read(session, account_key)["status"] == "pending"
    assert len(http.requests_to("POST", ORDER)) == 2
    assert session.retries.counts()["incomplete_answer"] == 1


def test_a_certificate_download_that_is_not_whole_pem_is_sent_again(http, session, account_key):
    http.on(
        "POST",
        CERT,
        http.reply(200, content=PEM[:40], content_type="application/pem-certificate-chain"),
        http.reply(200, content=PEM, content_type="application/pem-certificate-chain"),
    )
    assert read(session, account_key, url=CERT, parse=pem_only) == PEM
    assert session.retries.counts()["incomplete_answer"] == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_read_answered_with_a_server_error_is_sent_again(http, session, account_key, status):
    http.on("POST", ORDER, http.reply(status, content=b"oops", content_type="text/plain"), ok(http))
    assert read(session, account_key)["status"] == "pending"
    assert session.retries.counts()["server_error"] == 1


def test_a_read_that_is_rate_limited_waits_as_retry_after_says(http, session, clock, account_key):
    http.on("POST", ORDER, http.reply(429, load_fixture("problem_rate_limited.json"), headers={"Retry-After": "12"}), ok(http))
    assert read(session, account_key)["status"] == "pending"
    assert clock.sleeps == [12.0]
    assert session.retries.counts()["rate_limited"] == 1


def test_a_problem_raised_by_parse_is_not_sent_again(http, session, account_key):
    http.on("POST", ORDER, ok(http))

    def refuse(response):
        raise ProblemError(url=response.url, status=200, problem={"type": "urn:ietf:params:acme:error:malformed"})

    with pytest.raises(ProblemError):
        read(session, account_key, parse=refuse)
    assert len(http.requests_to("POST", ORDER)) == 1


def test_a_persistent_read_fault_ends_in_one_line_naming_url_tries_time_and_what_to_do(http, session, clock, account_key):
    http.on("POST", ORDER, http.reply(502, content=b"<html>Bad Gateway</html>", content_type="text/html"))
    with pytest.raises(ProtocolError) as caught:
        read(session, account_key)
    message = str(caught.value)
    assert len(http.requests_to("POST", ORDER)) == FAULT_TRIES
    assert message.startswith(f"reading the order {ORDER}: {ORDER} answered HTTP 502 ")
    assert f"({FAULT_TRIES} tries over {sum(clock.sleeps):.0f} s)" in message
    assert "try again later" in message and "retry_timeout" in message
    assert "\n" not in message and "<html>" not in message
    assert caught.value.status == 502


def test_a_persistent_read_timeout_names_request_timeout(http, make_session, account_key):
    session = make_session(request_timeout=7)
    http.on("POST", ORDER, read_timeout(7))
    with pytest.raises(TransportError) as caught:
        read(session, account_key)
    assert not isinstance(caught.value, OutcomeUnknown)
    assert f"no answer from {ORDER} within request_timeout 7 s ({FAULT_TRIES} tries over " in str(caught.value)
    assert "cannot connect" not in str(caught.value)


def test_reads_are_bounded_by_retry_timeout(http, make_session, clock, account_key):
    session = make_session(retry_timeout=2)
    http.on("POST", ORDER, connection_reset())
    with pytest.raises(TransportError, match=r"\(5 tries over 2 s\)"):
        read(session, account_key)
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8]  # the next, 1.6 s, would end past retry_timeout


@pytest.mark.parametrize(
    "retry_timeout, waits",
    [
        (60, [0.5, 1.0, 2.0, 4.0, 8.0]),  # the default: a CA that restarts within about 15 s is ridden out
        (31, [0.5, 1.0, 2.0, 4.0, 8.0]),
        (12, [12 / 62, 24 / 62, 48 / 62, 96 / 62, 192 / 62]),  # a short retry_timeout: waiting takes half of it, all tries fit
    ],
)
def test_the_backoff_starts_lower_when_retry_timeout_is_too_short_for_all_tries(http, make_session, clock, account_key, retry_timeout, waits):
    session = make_session(retry_timeout=retry_timeout)
    http.on("POST", ORDER, connection_reset())
    with pytest.raises(TransportError, match=f"\\({FAULT_TRIES} tries over "):
        read(session, account_key)
    assert clock.sleeps == pytest.approx(waits)


def test_retry_timeout_zero_sends_once_and_says_so(http, make_session, clock, account_key):
    session = make_session(retry_timeout=0)
    http.on("POST", ORDER, http.reply(500, content=b"", content_type="text/plain"))
    with pytest.raises(ProtocolError, match=r"\(not retried: retry_timeout is 0\)"):
        read(session, account_key)
    assert len(http.requests_to("POST", ORDER)) == 1 and clock.sleeps == []


def test_the_final_problem_of_a_read_keeps_its_type_and_names_url_and_tries(http, session, account_key):
    http.on("POST", ORDER, http.reply(500, load_fixture("problem_server_internal.json")))
    with pytest.raises(ProblemError) as caught:
        read(session, account_key)
    assert caught.value.has_type("serverInternal")
    assert f"{ORDER} answered HTTP 500 ({FAULT_TRIES} tries over " in str(caught.value)


# -- state-changing POSTs are sent again only when the CA cannot have acted ------------------------------


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(lambda http: connection_refused(FINALIZE), id="refused"),
        pytest.param(lambda http: http.reply(429, load_fixture("problem_rate_limited.json"), headers={"Retry-After": "3"}), id="429"),
        pytest.param(lambda http: http.reply(503, content=b"busy", content_type="text/plain", headers={"Retry-After": "3"}), id="503"),
    ],
)
def test_a_post_the_ca_did_not_act_on_is_sent_again(http, session, account_key, first):
    http.on("POST", FINALIZE, first(http), ok(http))
    assert finalize(session, account_key).status == 200
    assert len(http.requests_to("POST", FINALIZE)) == 2


@pytest.mark.parametrize(
    "fault, happened",
    [
        pytest.param(connection_reset, "the connection to {url} was lost", id="reset after sending"),
        pytest.param(read_timeout, "no answer from {url} within request_timeout 10 s", id="read timeout"),
        pytest.param(body_cut_short, "the answer from {url} was cut short", id="truncated"),
    ],
)
def test_a_post_whose_answer_was_lost_raises_outcome_unknown(http, session, clock, account_key, fault, happened):
    http.on("POST", FINALIZE, fault(), ok(http))
    with pytest.raises(OutcomeUnknown) as caught:
        finalize(session, account_key)
    message = str(caught.value)
    assert message.startswith(f"finalizing the order: {happened.format(url=FINALIZE)}")
    assert "the CA may have processed the request" in message
    assert caught.value.url == FINALIZE
    assert len(http.requests_to("POST", FINALIZE)) == 1 and clock.sleeps == []


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"status": 500, "body": load_fixture("problem_server_internal.json")}, id="500 problem"),
        pytest.param({"status": 502, "content": b"<html>Bad Gateway</html>", "content_type": "text/html"}, id="502"),
        pytest.param({"status": 504, "content": b"", "content_type": "text/plain"}, id="504"),
        pytest.param(
            {"status": 200, "content": b'{"status": "proc', "content_type": "application/json", "headers": {"Content-Length": "99"}},
            id="shorter than Content-Length",
        ),
        pytest.param({"status": 200, "content": b'{"status": "proc', "content_type": "application/json"}, id="JSON cut short"),
    ],
)
def test_a_post_answered_with_a_server_error_or_a_damaged_answer_raises_outcome_unknown(http, session, account_key, answer):
    http.on(
        "POST",
        FINALIZE,
        http.reply(answer["status"], answer.get("body"), content=answer.get("content"), content_type=answer.get("content_type"), headers=answer.get("headers")),
    )
    with pytest.raises(OutcomeUnknown, match=f"^finalizing the order: .*{FINALIZE}.*; the CA may have processed the request"):
        finalize(session, account_key)
    assert len(http.requests_to("POST", FINALIZE)) == 1


def test_an_answer_cut_short_keeps_its_location_and_says_what_happened_and_what_to_do(http, session, account_key):
    http.on(
        "POST", NEW_ORDER, http.reply(201, content=b'{"status": "pend', content_type="application/json", headers={"Location": ORDER, "Content-Length": "400"})
    )
    with pytest.raises(OutcomeUnknown) as caught:
        session.post(NEW_ORDER, key=account_key, kid=ACCOUNT, payload={"identifiers": []}, context="creating the order")
    lost = caught.value
    assert (lost.location, lost.status, lost.tries, lost.context) == (ORDER, 201, 1, "creating the order")
    assert lost.description.startswith(f"the answer from {NEW_ORDER} was cut short")
    assert "try again later" in lost.advice


@pytest.mark.parametrize("status", [200, 201])
def test_a_success_answer_that_parse_cannot_read_is_an_unknown_outcome_not_sent_again(http, session, account_key, status):
    http.on("POST", NEW_ORDER, http.reply(status, content=b"<html>ok</html>", content_type="text/html", headers={"Location": ORDER}))
    with pytest.raises(OutcomeUnknown) as caught:
        session.post(NEW_ORDER, key=account_key, kid=ACCOUNT, payload={"identifiers": []}, parse=lambda response: response.json())
    assert caught.value.location == ORDER
    assert f"expected JSON from {NEW_ORDER} but got text/html" in caught.value.description
    assert len(http.requests_to("POST", NEW_ORDER)) == 1


def test_an_idempotent_post_whose_answer_parse_refuses_is_sent_again(http, session, account_key):
    http.on("POST", NEW_ORDER, http.reply(200, content=b"<html>ok</html>", content_type="text/html"), ok(http))
    value = session.post(NEW_ORDER, key=account_key, payload={"onlyReturnExisting": True}, idempotent=True, parse=lambda response: response.json())
    assert value["status"] == "pending"
    assert len(http.requests_to("POST", NEW_ORDER)) == 2


def test_nonces_refused_on_the_way_are_named_apart_from_the_tries(http, session, account_key):
    http.on(
        "POST",
        ORDER,
        bad_nonce(http),
        http.reply(502, content=b"", content_type="text/plain"),
        bad_nonce(http),
        http.reply(502, content=b"", content_type="text/plain"),
    )
    with pytest.raises(ProtocolError) as caught:
        read(session, account_key)
    assert len(http.requests_to("POST", ORDER)) == FAULT_TRIES + 2
    assert f"({FAULT_TRIES} tries over " in str(caught.value) and ", besides 2 refused as badNonce)" in str(caught.value)


def test_an_idempotent_post_is_retried_like_a_read(http, session, account_key):
    http.on("POST", NEW_ORDER, read_timeout(), ok(http))
    response = session.post(NEW_ORDER, key=account_key, kid=ACCOUNT, payload={"onlyReturnExisting": True}, idempotent=True)
    assert response.status == 200
    assert len(http.requests_to("POST", NEW_ORDER)) == 2


# -- badNonce ---------------------------------------------------------------------------------------------


def test_bad_nonce_is_sent_again_at_once_with_the_nonce_of_the_problem(http, session, clock, account_key):
    http.on("POST", FINALIZE, bad_nonce(http, nonce="carried"), ok(http))
    assert finalize(session, account_key).status == 200
    assert nonces_of(http.requests_to("POST", FINALIZE))[1] == "carried"
    assert clock.sleeps == []
    assert session.retries.counts()["bad_nonce"] == 1


def test_one_issuance_survives_90_percent_nonce_rejection_in_19_of_20_tries(http, make_session, account_key):
    """About 15 POSTs make an issuance; a CA rejecting 9 nonces in 10 must not make it fail."""
    rng = random.Random(8)  # fixed: the same draws on every run
    rejected, accepted = bad_nonce(http), ok(http)
    succeeded = 0
    for _issuance in range(20):
        http.calls.clear()
        http.MAX_CALLS = 100_000
        # 15 POSTs of at most BAD_NONCE_TRIES tries each never need more answers than this
        http.on("POST", ORDER, *[rejected if rng.random() < 0.9 else accepted for _draw in range(15 * BAD_NONCE_TRIES)], accepted)
        session = make_session()
        try:
            for _post in range(15):
                read(session, account_key)
        except ProblemError:
            continue
        succeeded += 1
    assert succeeded >= 19


def test_a_ca_rejecting_every_nonce_is_given_up_on_with_a_count(http, session, account_key):
    http.on("POST", FINALIZE, bad_nonce(http))
    with pytest.raises(ProblemError) as caught:
        finalize(session, account_key)
    assert caught.value.has_type("badNonce")
    assert len(http.requests_to("POST", FINALIZE)) == BAD_NONCE_TRIES
    assert f"the CA rejected {BAD_NONCE_TRIES} nonces in a row" in str(caught.value)


# -- the directory, newNonce and unauthenticated GETs -------------------------------------------------------


def test_the_directory_is_fetched_again_after_a_fault(http, session):
    directory = load_fixture("directory_letsencrypt_staging.json")
    http.on(
        "GET",
        DIRECTORY_URL,
        connection_reset(),
        http.reply(503, content=b"", content_type="text/plain"),
        http.reply(200, content=b'{"newNonce": "https://acme', content_type="application/json"),
        http.reply(200, directory, nonce=False),
    )
    assert session.directory.require("newOrder") == NEW_ORDER
    assert session.retries.counts() == {**dict.fromkeys(RETRY_KINDS, 0), "connection": 1, "server_error": 1, "incomplete_answer": 1}


@pytest.mark.parametrize("status", [500, 503])
def test_a_directory_that_keeps_failing_reads_as_the_ca_being_unavailable(http, session, clock, status):
    http.on("GET", DIRECTORY_URL, http.reply(status, content=b"<html>down</html>", content_type="text/html"))
    with pytest.raises(ProtocolError) as caught:
        session.directory  # pylint: disable=pointless-statement
    message = str(caught.value)
    assert not isinstance(caught.value, ConfigurationError)
    assert "is this the CA's ACME directory URL?" not in message
    assert f"{DIRECTORY_URL} answered HTTP {status} (" in message
    assert f"tries over {sum(clock.sleeps):.0f} s)" in message
    assert "the CA is unavailable" in message and "try again later" in message


def test_a_directory_at_a_closed_port_says_cannot_connect(http, session):
    http.on("GET", DIRECTORY_URL, connection_refused())
    with pytest.raises(TransportError, match=f"^acme_directory: cannot connect to {DIRECTORY_URL}: .*Connection refused \\({FAULT_TRIES} tries"):
        session.directory  # pylint: disable=pointless-statement


def test_new_nonce_is_asked_again_after_a_503_or_an_answer_without_nonce(http, session, account_key):
    http.on("HEAD", NEW_NONCE, http.reply(503, nonce=None), http.reply(200, nonce=None), http.reply(200))
    http.on("POST", FINALIZE, ok(http))
    assert finalize(session, account_key).status == 200
    assert len(http.requests_to("HEAD", NEW_NONCE)) == 3


def test_a_new_nonce_outage_reads_as_http_503_not_as_a_missing_header(http, session, account_key):
    http.on("HEAD", NEW_NONCE, http.reply(503, nonce=None))
    with pytest.raises(ProtocolError) as caught:
        finalize(session, account_key)
    assert "Replay-Nonce" not in str(caught.value)
    assert f"{NEW_NONCE} answered HTTP 503 (" in str(caught.value)
    assert http.requests_to("POST") == []


def test_renewal_info_get_is_sent_again_after_a_server_error(http, session):
    url = f"{BASE}/acme/renewal-info/abc"
    http.on("GET", url, http.reply(500, content=b"", content_type="text/plain"), http.reply(200, {"suggestedWindow": {}}))
    assert session.get(url).status == 200


# -- retries are counted and told ----------------------------------------------------------------------------


def test_retries_are_counted_by_kind_and_summarised_in_one_line(http, session, account_key):
    http.on("POST", FINALIZE, bad_nonce(http), bad_nonce(http), http.reply(503, content=b"", content_type="text/plain"), ok(http))
    finalize(session, account_key)
    assert session.retries.counts() == {**dict.fromkeys(RETRY_KINDS, 0), "bad_nonce": 2, "server_error": 1}
    assert session.retries.summary() == "retried 3 requests to the CA: 2 badNonce, 1 HTTP 503"


def test_no_retry_no_summary():
    log = RetryLog()
    assert log.summary() is None
    assert log.counts() == dict.fromkeys(RETRY_KINDS, 0)
    assert RETRY_KINDS == ("bad_nonce", "rate_limited", "server_error", "connection", "incomplete_answer")


def test_bad_nonce_retries_stays_readable_for_callers(http, session, account_key):
    http.on("POST", FINALIZE, bad_nonce(http), ok(http))
    finalize(session, account_key)
    assert session.bad_nonce_retries == 1


def test_a_directory_url_answering_a_404_problem_is_still_a_question_about_the_url(http, session):
    http.on("GET", DIRECTORY_URL, http.reply(404, {"type": "about:blank", "detail": "not found"}))
    with pytest.raises(ConfigurationError, match="answered HTTP 404; is this the CA's ACME directory URL?"):
        session.directory  # pylint: disable=pointless-statement
    assert len(http.requests_to("GET", DIRECTORY_URL)) == 1


def test_a_read_refused_without_a_problem_document_is_asked_again_then_named(http, session, account_key):
    # an ACME server refuses with a problem document: a bare 4xx page comes from a gateway in front of it
    http.on("POST", ORDER, http.reply(404, content=b"not found", content_type="text/plain"))
    with pytest.raises(ProtocolError, match=f"answered HTTP 404 .text/plain. instead of a problem document .{FAULT_TRIES} tries over "):
        read(session, account_key)
    assert len(http.requests_to("POST", ORDER)) == FAULT_TRIES


def test_a_gateway_page_instead_of_a_refusal_is_asked_again(http, session, account_key):
    http.on("POST", ORDER, http.reply(400, content=b"<html>Bad Request</html>", content_type="text/html"), ok(http))
    assert read(session, account_key)["status"] == "pending"
    assert session.retries.counts()["incomplete_answer"] == 1


def test_a_state_changing_post_refused_without_a_problem_document_is_sent_again(http, session, account_key):
    # a 4xx says the request was not acted on, whoever answered it
    http.on("POST", FINALIZE, http.reply(400, content=b"<html>Bad Request</html>", content_type="text/html"), ok(http))
    assert finalize(session, account_key).status == 200
    assert len(http.requests_to("POST", FINALIZE)) == 2


def test_a_state_changing_post_always_refused_without_a_problem_document_gives_up_naming_the_status(http, session, account_key):
    http.on("POST", FINALIZE, http.reply(404, content=b"not found", content_type="text/plain"))
    with pytest.raises(ProtocolError, match=f"answered HTTP 404 .text/plain. instead of a problem document .{FAULT_TRIES} tries over .*check proxies"):
        finalize(session, account_key)
    assert len(http.requests_to("POST", FINALIZE)) == FAULT_TRIES


def test_a_bare_urllib3_read_timeout_is_a_read_timeout(http, session, account_key):
    http.on("POST", ORDER, ReadTimeoutError(None, ORDER, "Read timed out."), ok(http))
    assert read(session, account_key)["status"] == "pending"
    assert session.retries.summary() == "retried 1 request to the CA: 1 read timeout"
