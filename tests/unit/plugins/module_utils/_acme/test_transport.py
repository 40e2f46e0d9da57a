# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime
import email.utils
import json
import socket
import ssl

import pytest
import requests
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, SSLError

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import (
    ConfigurationError,
    OutcomeUnknown,
    ProblemError,
    ProtocolError,
    TransportError,
)
from ansible_collections.certforge.acme.plugins.module_utils._acme.retries import BAD_NONCE_TRIES, FAULT_TRIES
from ansible_collections.certforge.acme.plugins.module_utils._acme.transport import USER_AGENT, AcmeResponse, AcmeSession
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DIRECTORY_URL, load_fixture

BASE = "https://acme-staging-v02.api.letsencrypt.org"
NEW_NONCE = f"{BASE}/acme/new-nonce"
NEW_ORDER = f"{BASE}/acme/new-order"
ACCOUNT = f"{BASE}/acme/acct/123456789"
ORDER = f"{BASE}/acme/order/123456789/987654321"


def ok(http, status=201, body=None, **options):
    return http.reply(status, {"status": "pending"} if body is None else body, **options)


def problem(http, status, fixture_or_type, **options):
    body = (
        load_fixture(fixture_or_type)
        if fixture_or_type.endswith(".json")
        else {"type": f"urn:ietf:params:acme:error:{fixture_or_type}", "detail": "detail", "status": status}
    )
    return http.reply(status, body, **options)


def post(session, key, url=NEW_ORDER, payload=None):
    return session.post(url, key=key, payload={"identifiers": []} if payload is None else payload, kid=ACCOUNT)


def nonces_of(calls):
    return [call.jws().protected["nonce"] for call in calls]


# -- directory -------------------------------------------------------------------------------------


def test_directory_is_fetched_once_across_many_posts(http, session, account_key):
    http.on("POST", NEW_ORDER, ok(http))
    for _attempt in range(5):
        post(session, account_key)
    assert len(http.requests_to("GET", DIRECTORY_URL)) == 1
    assert len(http.requests_to("POST", NEW_ORDER)) == 5


def test_unknown_directory_fields_are_ignored(session):
    directory = session.directory
    assert directory.require("newAccount") == f"{BASE}/acme/new-acct"
    assert directory.resource("Hz3LpQ7dVw4") == "https://community.letsencrypt.org/t/adding-random-entries-to-the-directory/33417"
    assert directory.terms_of_service == "https://letsencrypt.org/documents/LE-SA-v1.5-February-24-2025.pdf"
    assert set(directory.profiles) == {"classic", "shortlived", "tlsserver"}
    assert directory.external_account_required is False


def test_directory_meta_external_account_required(http, session):
    http.with_directory({**load_fixture("directory_letsencrypt_staging.json"), "meta": {"externalAccountRequired": True}})
    assert session.directory.external_account_required is True
    assert session.directory.terms_of_service is None


def test_missing_optional_resource_is_a_protocol_error_on_require(http, session):
    http.with_directory({"newNonce": NEW_NONCE, "newAccount": f"{BASE}/acme/new-acct", "newOrder": NEW_ORDER})
    assert session.directory.resource("keyChange") is None
    with pytest.raises(ProtocolError, match="does not offer keyChange"):
        session.directory.require("keyChange")


def test_http_directory_url_is_a_configuration_error_naming_acme_directory(http):
    with pytest.raises(ConfigurationError) as caught:
        AcmeSession(directory_url="http://acme-staging-v02.api.letsencrypt.org/directory", http=http)
    assert caught.value.option == "acme_directory"
    assert "https://" in str(caught.value)
    assert http.calls == []


def test_directory_answering_404_names_acme_directory(http, session):
    http.on("GET", DIRECTORY_URL, http.reply(404, content=b"404 page not found\n", content_type="text/plain"))
    with pytest.raises(ConfigurationError, match="^acme_directory: .* answered HTTP 404"):
        session.directory  # pylint: disable=pointless-statement


def test_directory_answering_html_until_the_tries_are_spent_names_acme_directory_and_the_tries(http, session, clock):
    http.on("GET", DIRECTORY_URL, http.reply(200, content=b"<!doctype html><html><body>Welcome</body></html>", content_type="text/html"))
    with pytest.raises(ProtocolError) as caught:
        session.directory  # pylint: disable=pointless-statement
    message = str(caught.value)
    assert message.startswith(f"acme_directory: {DIRECTORY_URL} did not answer with a JSON ACME directory (got text/html) ")
    assert f"({FAULT_TRIES} tries over {sum(clock.sleeps):.0f} s)" in message
    assert "is this the CA's ACME directory URL?" in message and "try again later" in message
    assert len(http.requests_to("GET", DIRECTORY_URL)) == FAULT_TRIES


def test_directory_answering_html_once_is_read_again(http, session):
    page = http.reply(200, content=b"<html><body>Service unavailable</body></html>", content_type="text/html")
    http.on("GET", DIRECTORY_URL, page, http.reply(200, load_fixture("directory_letsencrypt_staging.json"), nonce=False))
    assert session.directory.require("newOrder") == NEW_ORDER
    assert len(http.requests_to("GET", DIRECTORY_URL)) == 2


def test_directory_json_without_new_nonce_names_acme_directory(http, session):
    data = load_fixture("directory_letsencrypt_staging.json")
    del data["newNonce"]
    http.with_directory(data)
    with pytest.raises(ConfigurationError, match="^acme_directory: .* is not an ACME directory: it lacks newNonce"):
        session.directory  # pylint: disable=pointless-statement


def test_directory_json_list_names_acme_directory(http, session):
    http.on("GET", DIRECTORY_URL, http.reply(200, ["newNonce"]))
    with pytest.raises(ConfigurationError, match="^acme_directory: "):
        session.directory  # pylint: disable=pointless-statement


def test_directory_tls_failure_is_prefixed_with_acme_directory(http, session):
    http.on("GET", DIRECTORY_URL, requests.exceptions.SSLError("certificate verify failed: self-signed certificate"))
    with pytest.raises(TransportError, match="^acme_directory: TLS verification of .* failed") as caught:
        session.directory  # pylint: disable=pointless-statement
    assert "ca_path" in str(caught.value)


# -- nonces ----------------------------------------------------------------------------------------------


def test_replay_nonce_of_each_response_signs_the_next_post(http, session, account_key):
    http.on("POST", NEW_ORDER, ok(http, nonce="from-post-1"), ok(http, nonce="from-post-2"), ok(http, nonce="from-post-3"))
    for _attempt in range(3):
        post(session, account_key)
    head_nonce = "nonce-1"  # the first auto nonce: the answer to HEAD newNonce
    assert nonces_of(http.requests_to("POST")) == [head_nonce, "from-post-1", "from-post-2"]
    assert len(http.requests_to("HEAD", NEW_NONCE)) == 1


def test_new_nonce_is_asked_again_only_when_a_response_has_none(http, session, account_key):
    http.on("POST", NEW_ORDER, ok(http, nonce="a"), ok(http, nonce=None), ok(http, nonce="b"), ok(http))
    for _attempt in range(4):
        post(session, account_key)
    assert len(http.requests_to("HEAD", NEW_NONCE)) == 2
    assert [call.method for call in http.calls] == ["GET", "HEAD", "POST", "POST", "HEAD", "POST", "POST"]


def test_nonce_from_a_get_is_used_by_the_next_post(http, session, account_key):
    http.on("GET", f"{BASE}/acme/renewal-info/abc", http.reply(200, {"suggestedWindow": {}}, nonce="from-get"))
    http.on("POST", NEW_ORDER, ok(http))
    session.directory  # pylint: disable=pointless-statement
    session.get(f"{BASE}/acme/renewal-info/abc")
    post(session, account_key)
    assert nonces_of(http.requests_to("POST")) == ["from-get"]
    assert http.requests_to("HEAD") == []


def test_new_nonce_without_replay_nonce_is_a_protocol_error(http, session, account_key):
    http.on("HEAD", NEW_NONCE, http.reply(200, nonce=None))
    with pytest.raises(ProtocolError, match="returned no Replay-Nonce header"):
        post(session, account_key)
    assert http.requests_to("POST") == []


def test_bad_nonce_is_retried_with_the_fresh_nonce(http, session, account_key):
    http.on("POST", NEW_ORDER, problem(http, 400, "problem_bad_nonce.json", nonce="fresh-1"), ok(http))
    response = post(session, account_key)
    assert response.status == 201
    posts = http.requests_to("POST")
    assert nonces_of(posts) == ["nonce-1", "fresh-1"]
    assert posts[0].jws().signature != posts[1].jws().signature
    assert session.bad_nonce_retries == 1
    assert len(http.requests_to("HEAD")) == 1


def test_bad_nonce_gives_up_after_bad_nonce_tries(http, session, account_key):
    http.on("POST", NEW_ORDER, problem(http, 400, "problem_bad_nonce.json"))
    with pytest.raises(ProblemError) as caught:
        post(session, account_key)
    assert caught.value.has_type("badNonce")
    posts = http.requests_to("POST")
    assert len(posts) == BAD_NONCE_TRIES
    assert len(set(nonces_of(posts))) == BAD_NONCE_TRIES
    assert len({call.jws().signature for call in posts}) == BAD_NONCE_TRIES
    assert f"the CA rejected {BAD_NONCE_TRIES} nonces in a row" in str(caught.value)


def test_other_problems_are_raised_at_once_with_context(http, session, account_key):
    http.on("POST", NEW_ORDER, problem(http, 403, "problem_unauthorized_deactivated.json"))
    with pytest.raises(ProblemError, match="^creating the order: CA error unauthorized .HTTP 403.") as caught:
        session.post(NEW_ORDER, key=account_key, payload={}, kid=ACCOUNT, context="creating the order")
    assert caught.value.url == NEW_ORDER
    assert len(http.requests_to("POST")) == 1
    assert session.bad_nonce_retries == 0


# -- rate limits and server errors ---------------------------------------------------------------------------


def test_429_honours_retry_after_seconds(http, session, clock, account_key):
    http.on("POST", NEW_ORDER, problem(http, 429, "problem_rate_limited.json", headers={"Retry-After": "7"}), ok(http))
    assert post(session, account_key).status == 201
    assert clock.sleeps == [7.0]


def test_503_honours_retry_after_http_date(http, session, clock, account_key):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30)
    retry_after = email.utils.format_datetime(when, usegmt=True)
    http.on("POST", NEW_ORDER, http.reply(503, content=b"busy", content_type="text/plain", headers={"Retry-After": retry_after}), ok(http))
    assert post(session, account_key).status == 201
    assert len(clock.sleeps) == 1 and 28 <= clock.sleeps[0] <= 30


def test_503_honours_retry_after_in_asctime_form(http, session, clock, account_key):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30)
    retry_after = when.strftime("%a %b %d %H:%M:%S %Y")
    http.on("POST", NEW_ORDER, http.reply(503, content=b"busy", content_type="text/plain", headers={"Retry-After": retry_after}), ok(http))
    assert post(session, account_key).status == 201
    assert len(clock.sleeps) == 1 and 28 <= clock.sleeps[0] <= 30


def test_rate_limit_waits_are_bounded_by_retry_timeout_then_the_problem_surfaces(http, make_session, clock, account_key):
    session = make_session(retry_timeout=60)
    http.on("POST", NEW_ORDER, problem(http, 429, "problem_rate_limited.json", headers={"Retry-After": "20"}))
    with pytest.raises(ProblemError) as caught:
        post(session, account_key)
    assert clock.sleeps == [20.0, 20.0, 20.0]
    assert caught.value.has_type("rateLimited")
    assert "retry after 20" in str(caught.value)
    assert len(http.requests_to("POST")) == 4


def test_retry_after_beyond_retry_timeout_is_not_waited_for(http, make_session, clock, account_key):
    session = make_session(retry_timeout=60)
    http.on("POST", NEW_ORDER, problem(http, 429, "problem_rate_limited.json", headers={"Retry-After": "3600"}))
    with pytest.raises(ProblemError, match="retry after 3600"):
        post(session, account_key)
    assert clock.sleeps == []


def test_503_without_retry_after_backs_off_until_retry_timeout(http, make_session, clock, account_key):
    session = make_session(retry_timeout=31)
    http.on("POST", NEW_ORDER, problem(http, 503, "serverInternal"))
    with pytest.raises(ProblemError):
        post(session, account_key)
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert sum(clock.sleeps) <= 31


def test_a_retry_after_that_would_end_past_retry_timeout_is_not_waited_and_says_so(http, make_session, clock, account_key):
    session = make_session(retry_timeout=10)
    http.on("POST", NEW_ORDER, problem(http, 503, "serverInternal", headers={"Retry-After": "100"}))
    with pytest.raises(ProblemError, match=r"\(1 try; the CA asked to wait 100 s more, which would end past retry_timeout 10 s\)"):
        post(session, account_key)
    assert clock.sleeps == []


def test_server_errors_of_reads_are_retried_with_backoff_up_to_fault_tries(http, session, clock, account_key):
    http.on("POST", ORDER, problem(http, 500, "problem_server_internal.json"))
    with pytest.raises(ProblemError) as caught:
        session.post_as_get(ORDER, key=account_key, kid=ACCOUNT)
    assert caught.value.has_type("serverInternal")
    posts = http.requests_to("POST")
    assert len(posts) == FAULT_TRIES
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0][: FAULT_TRIES - 1]
    assert len(set(nonces_of(posts))) == FAULT_TRIES  # every try signed anew


def test_server_error_of_a_read_then_success_returns_the_success(http, session, clock, account_key):
    http.on("POST", ORDER, http.reply(502, content=b"<html>Bad Gateway</html>", content_type="text/html"), ok(http))
    assert session.post_as_get(ORDER, key=account_key, kid=ACCOUNT).status == 201
    assert clock.sleeps == [0.5]


def test_connection_errors_are_retried_then_a_transport_error(http, session, clock, account_key):
    refused = NewConnectionError(HTTPSConnection("acme.example", 443), "Failed to establish a new connection: [Errno 111] Connection refused")
    http.on("POST", NEW_ORDER, requests_connection_error(refused))
    with pytest.raises(TransportError, match=f"^cannot connect to {NEW_ORDER}: \\[Errno 111\\] Connection refused \\({FAULT_TRIES} tries ") as caught:
        post(session, account_key)
    assert caught.value.url == NEW_ORDER
    assert len(http.requests_to("POST")) == FAULT_TRIES
    assert len(clock.sleeps) == FAULT_TRIES - 1


def requests_connection_error(reason):
    """What requests raises for a failed connection: ConnectionError(MaxRetryError(reason=...))."""
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/directory", reason=reason))


def test_connection_refused_message_has_no_object_repr(http, session):
    conn = HTTPSConnection("acme.example", 443)
    refused = NewConnectionError(conn, "Failed to establish a new connection: [Errno 111] Connection refused")
    http.on("GET", DIRECTORY_URL, requests_connection_error(refused))
    with pytest.raises(TransportError) as caught:
        session.get(DIRECTORY_URL)
    assert str(caught.value).startswith(f"cannot connect to {DIRECTORY_URL}: [Errno 111] Connection refused (")
    assert "HTTPSConnection(" not in str(caught.value)


def name_not_resolved():
    conn = HTTPSConnection("acme.example", 443)
    return requests_connection_error(NameResolutionError("acme.example", conn, socket.gaierror(-2, "Name or service not known")))


def certificate_not_trusted():
    verify_error = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)"
    )
    return requests.exceptions.SSLError(MaxRetryError(None, "/directory", reason=SSLError(verify_error)))


@pytest.mark.parametrize(
    "error, expected",
    [
        (name_not_resolved, "Failed to resolve 'acme.example' ([Errno -2] Name or service not known)"),
        (certificate_not_trusted, "certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)"),
    ],
)
def test_urllib3_reasons_are_reported_whole_without_object_reprs(http, session, error, expected):
    http.on("GET", DIRECTORY_URL, error())
    with pytest.raises(TransportError) as caught:
        session.get(DIRECTORY_URL)
    message = str(caught.value)
    assert expected in message
    assert message.count("(") == message.count(")")
    assert "HTTPSConnection(" not in message


def test_connect_timeout_then_success_returns_the_success(http, session, clock, account_key):
    http.on("POST", NEW_ORDER, requests.exceptions.ConnectTimeout("connect timed out"), ok(http))
    assert post(session, account_key).status == 201
    assert clock.sleeps == [0.5]


def test_a_post_without_answer_is_not_sent_again(http, session, clock, account_key):
    """The CA may have finalized, revoked or ordered already: a second POST would mislead."""
    http.on("POST", NEW_ORDER, requests.exceptions.ReadTimeout("read timed out"), ok(http))
    with pytest.raises(OutcomeUnknown, match="the CA may have processed the request"):
        post(session, account_key)
    assert len(http.requests_to("POST")) == 1 and clock.sleeps == []


def test_ssl_error_is_a_transport_error_mentioning_ca_path_without_retry(http, session, clock, account_key):
    http.on("POST", NEW_ORDER, requests.exceptions.SSLError("certificate verify failed: unable to get local issuer certificate"))
    with pytest.raises(TransportError) as caught:
        post(session, account_key)
    assert "TLS verification of" in str(caught.value) and "set ca_path" in str(caught.value)
    assert len(http.requests_to("POST")) == 1
    assert clock.sleeps == []


def test_other_request_errors_are_transport_errors(http, session, account_key):
    http.on("POST", NEW_ORDER, requests.exceptions.InvalidURL("bad url"))
    with pytest.raises(TransportError, match="request to .* failed: bad url"):
        post(session, account_key)


def test_problem_result_from_a_post_carries_no_request_secrets(http, session, account_key):
    http.on("POST", NEW_ORDER, problem(http, 400, "problem_compound_rejected_identifiers.json"))
    with pytest.raises(ProblemError) as caught:
        post(session, account_key)
    sent = json.loads(http.requests_to("POST")[0].data)
    result = json.dumps(caught.value.to_result())
    assert sent["signature"] not in result and sent["protected"] not in result
    assert account_key.jwk["x"] not in result and "nonce-" not in result


# -- request details --------------------------------------------------------------------------------------


def test_post_sends_jose_json_with_user_agent_and_accept(http, session, account_key):
    http.on("POST", ORDER, ok(http, 200))
    session.post(ORDER, key=account_key, payload=None, kid=ACCOUNT, accept="application/pem-certificate-chain")
    call = http.requests_to("POST")[0]
    assert call.headers == {"User-Agent": USER_AGENT, "Content-Type": "application/jose+json", "Accept": "application/pem-certificate-chain"}
    assert call.allow_redirects is False and call.timeout == 10 and call.verify is True


def test_post_as_get_is_signed_with_kid_and_empty_payload(http, session, account_key):
    http.on("POST", ORDER, ok(http, 200))
    session.post_as_get(ORDER, key=account_key, kid=ACCOUNT)
    jws = http.requests_to("POST")[0].jws()
    assert jws.payload_b64 == ""
    assert jws.protected["kid"] == ACCOUNT and jws.protected["url"] == ORDER and "jwk" not in jws.protected


@pytest.mark.parametrize(
    "options, verify",
    [
        ({"ca_path": "/etc/ssl/private-ca.pem"}, "/etc/ssl/private-ca.pem"),
        ({"validate_certs": False}, False),
        ({"validate_certs": False, "ca_path": "/etc/ssl/private-ca.pem"}, False),
    ],
)
def test_ca_path_and_validate_certs_reach_requests_as_verify(http, make_session, options, verify):
    make_session(**options).directory  # pylint: disable=expression-not-assigned
    assert http.calls[0].verify == verify


def test_request_count_counts_answered_requests(http, session, account_key):
    http.on("POST", NEW_ORDER, ok(http))
    post(session, account_key)
    assert session.request_count == 3  # directory, newNonce, newOrder


# -- redirects ----------------------------------------------------------------------------------------------


def test_https_redirects_are_followed_for_get(http, session):
    moved = f"{BASE}/v2/directory"
    http.on("GET", DIRECTORY_URL, http.reply(301, headers={"Location": "/v2/directory"}, nonce=False))
    http.with_directory(url=moved)
    assert session.directory.require("newOrder") == NEW_ORDER
    assert [call.url for call in http.calls] == [DIRECTORY_URL, moved]


def test_redirect_to_http_is_refused(http, session):
    http.on("GET", DIRECTORY_URL, http.reply(302, headers={"Location": "http://acme-staging-v02.api.letsencrypt.org/directory"}))
    with pytest.raises(TransportError, match="which is not https://; refused"):
        session.get(DIRECTORY_URL)
    assert len(http.calls) == 1


def test_redirect_loop_is_a_transport_error(http, session):
    http.on("GET", DIRECTORY_URL, http.reply(307, headers={"Location": DIRECTORY_URL}))
    with pytest.raises(TransportError, match="more than 5 redirects"):
        session.get(DIRECTORY_URL)


def test_post_does_not_follow_redirects(http, session, account_key):
    http.on("POST", NEW_ORDER, http.reply(302, headers={"Location": f"{BASE}/elsewhere"}))
    assert post(session, account_key).status == 302
    assert len(http.requests_to("POST")) == 1


# -- AcmeResponse -------------------------------------------------------------------------------------------


def response(headers, url=ORDER, status=200, content=b""):
    return AcmeResponse(url=url, status=status, headers=CaseInsensitiveDict(headers), content=content)


def test_link_header_with_several_alternates_and_relative_urls():
    recorded = load_fixture("certificate_response_headers.json")
    answer = response(recorded["headers"], url=recorded["url"])
    cert = "https://acme-staging-v02.api.letsencrypt.org/acme/cert/2b5f3c7e9a01d4e6f8a0b2c4d6e8f0a1b3c5"
    assert answer.links("alternate") == [f"{cert}/1", f"{cert}/2"]
    assert answer.links("up") == [f"{BASE}/acme/cert/issuer/r11"]
    assert answer.links("index") == [DIRECTORY_URL]
    assert answer.links("terms-of-service") == ["https://letsencrypt.org/documents/LE-SA-v1.5-February-24-2025.pdf"]
    assert answer.links("describedby") == []


def test_links_without_link_header_are_empty():
    assert response({}).links("up") == []


def test_links_through_a_post_resolve_against_the_request_url(http, session, account_key):
    http.on("POST", ORDER, ok(http, 200, headers={"Link": '<../../directory>;rel="index"'}))
    answer = session.post_as_get(ORDER, key=account_key, kid=ACCOUNT)
    assert answer.links("index") == [f"{BASE}/acme/directory"]


def test_location_is_resolved_against_the_request_url():
    assert response({"Location": "/acme/order/1/2"}, url=NEW_ORDER).location == f"{BASE}/acme/order/1/2"
    assert response({"Location": ORDER}, url=NEW_ORDER).location == ORDER
    assert response({}).location is None


def test_retry_after_delta_seconds_and_http_date():
    now = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    assert response({"Retry-After": "120"}).retry_after(now) == 120.0
    assert response({"Retry-After": "Sun, 01 Jun 2025 12:01:30 GMT"}).retry_after(now) == 90.0
    assert response({"Retry-After": "Sun, 01 Jun 2025 11:00:00 GMT"}).retry_after(now) == 0.0
    assert response({"Retry-After": "soon"}).retry_after(now) is None
    assert response({}).retry_after(now) is None


@pytest.mark.parametrize(
    "status, content_type, expected",
    [
        (400, "application/problem+json", True),
        (200, "application/problem+json; charset=utf-8", True),
        (403, "application/json", True),
        (200, "application/json", False),
        (500, "text/html", False),
    ],
)
def test_is_problem(status, content_type, expected):
    assert response({"Content-Type": content_type}, status=status).is_problem() is expected


def test_problem_error_of_a_non_json_body_keeps_an_excerpt():
    error = response({"Content-Type": "application/problem+json"}, status=500, content=b"<html>oops</html>").problem_error("finalizing")
    assert error.type == "about:blank" and error.detail == "<html>oops</html>"
    assert str(error).startswith("finalizing: CA error about:blank (HTTP 500)")


def test_json_of_html_is_a_protocol_error_naming_the_content_type():
    with pytest.raises(ProtocolError, match="expected JSON from .* but got text/html .10 bytes. with HTTP 200"):
        response({"Content-Type": "text/html"}, content=b"<html></html>"[:10]).json()


def test_json_that_is_not_an_object_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="expected a JSON object"):
        response({"Content-Type": "application/json"}, content=b"[1, 2]").json()


def connection_closed_during_tls():
    """What requests raises when the other end closes a TLS connection without its close_notify (a proxy or CA restarting)."""
    eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)")
    return requests.exceptions.SSLError(MaxRetryError(None, "/directory", reason=SSLError(eof)))


def test_a_tls_connection_closed_midway_is_a_lost_connection_tried_again(http, session, clock):
    """Only a certificate that cannot be verified is a configuration error; a connection cut inside TLS is transient."""
    http.on("GET", DIRECTORY_URL, connection_closed_during_tls(), http.reply(200, {"newNonce": f"{DIRECTORY_URL}/nonce"}))
    assert session.get(DIRECTORY_URL).status == 200
    assert len(http.requests_to("GET")) == 2 and clock.sleeps == [0.5]


def test_a_certificate_that_cannot_be_verified_is_still_refused_at_once(http, session, clock):
    http.on("GET", DIRECTORY_URL, certificate_not_trusted())
    with pytest.raises(TransportError, match="TLS verification of .* failed .*set ca_path"):
        session.get(DIRECTORY_URL)
    assert clock.sleeps == []
