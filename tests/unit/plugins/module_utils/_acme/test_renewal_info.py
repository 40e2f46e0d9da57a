# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARI (RFC 9773) against recorded Let's Encrypt-style answers; pebble 2.4.0 has no ARI."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError, ProtocolError
from ansible_collections.certforge.acme.plugins.module_utils._acme.renewal_info import check_ari_id, fetch_advice, fetch_renewal_info
from ansible_collections.certforge.acme.plugins.module_utils._acme.retries import FAULT_TRIES
from ansible_collections.certforge.acme.plugins.module_utils._acme.transport import AcmeSession
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DIRECTORY_URL, FakeHttp, load_fixture

ARI_ID = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
RENEWAL_INFO = "https://acme-staging-v02.api.letsencrypt.org/acme/renewal-info"
UTC = datetime.timezone.utc


def session_for(http: FakeHttp) -> AcmeSession:
    return AcmeSession(directory_url=DIRECTORY_URL, http=http, sleep=lambda _s: None)


def test_window_is_read_from_the_certificate_identifier_url():
    http = FakeHttp().with_directory()
    http.on("GET", f"{RENEWAL_INFO}/{ARI_ID}", http.reply(200, load_fixture("renewal_info_window.json"), headers={"Retry-After": "21600"}))
    info = fetch_renewal_info(session_for(http), ARI_ID)
    assert info.window_start == datetime.datetime(2026, 12, 1, tzinfo=UTC)
    assert info.window_end == datetime.datetime(2026, 12, 3, tzinfo=UTC)
    assert info.explanation_url.startswith("https://community.letsencrypt.org/")
    assert info.retry_after == 21600
    assert not http.requests_to("POST"), "renewal information is read with a plain GET"


def test_renewal_time_lies_in_the_window_and_is_stable():
    http = FakeHttp().with_directory()
    http.on("GET", f"{RENEWAL_INFO}/{ARI_ID}", http.reply(200, load_fixture("renewal_info_window.json")))
    info = fetch_renewal_info(session_for(http), ARI_ID)
    moment = info.renewal_time()
    assert info.window_start <= moment <= info.window_end
    assert moment == info._replace(retry_after=None).renewal_time()
    assert not info.renew(info.window_start - datetime.timedelta(seconds=1))
    assert info.renew(info.window_end)


def test_other_certificates_get_other_points_in_the_window():
    http = FakeHttp().with_directory()
    other = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyI"
    for ari_id in (ARI_ID, other):
        http.on("GET", f"{RENEWAL_INFO}/{ari_id}", http.reply(200, load_fixture("renewal_info_window.json")))
    session = session_for(http)
    assert fetch_renewal_info(session, ARI_ID).renewal_time() != fetch_renewal_info(session, other).renewal_time()


def test_a_ca_without_renewal_info_is_a_clear_error():
    directory = {key: value for key, value in load_fixture("directory_letsencrypt_staging.json").items() if key != "renewalInfo"}
    http = FakeHttp().with_directory(directory)
    with pytest.raises(ConfigurationError, match="does not offer ACME Renewal Information"):
        fetch_renewal_info(session_for(http), ARI_ID)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"suggestedWindow": {"start": "yesterday", "end": "2026-12-03T00:00:00Z"}},
        {"suggestedWindow": {"start": "2026-12-03T00:00:00Z", "end": "2026-12-01T00:00:00Z"}},
    ],
)
def test_malformed_windows_are_protocol_errors(body):
    http = FakeHttp().with_directory()
    http.on("GET", f"{RENEWAL_INFO}/{ARI_ID}", http.reply(200, body))
    with pytest.raises(ProtocolError):
        fetch_renewal_info(session_for(http), ARI_ID)


def test_unknown_certificate_surfaces_the_problem():
    http = FakeHttp().with_directory()
    problem = {"type": "urn:ietf:params:acme:error:malformed", "detail": "certificate not found"}
    http.on("GET", f"{RENEWAL_INFO}/{ARI_ID}", http.reply(404, problem))
    with pytest.raises(ProtocolError, match="certificate not found"):
        fetch_renewal_info(session_for(http), ARI_ID)


@pytest.mark.parametrize("ari_id", [ARI_ID, "AAAA.AA", "a-_b.c_-d"])
def test_ari_ids_of_two_base64url_parts_are_accepted(ari_id):
    check_ari_id(ari_id, option="ari_ids")


@pytest.mark.parametrize("ari_id", ["not an ari id", "12", "", "abc.", ".abc", "a.b.c", "aYhba4dGQEHhs3uE=.AIdlQyE", "A.AAAA"])
def test_anything_else_is_refused_naming_the_option(ari_id):
    with pytest.raises(ConfigurationError, match=r"^replaces: .* is not an ARI certificate identifier"):
        check_ari_id(ari_id, option="replaces")


def test_a_gateway_page_instead_of_the_window_is_read_again():
    http = FakeHttp().with_directory()
    http.on(
        "GET",
        f"{RENEWAL_INFO}/{ARI_ID}",
        http.reply(200, content=b"<html>busy</html>", content_type="text/html"),
        http.reply(200, load_fixture("renewal_info_window.json")),
    )
    session = session_for(http)
    assert fetch_renewal_info(session, ARI_ID).window_end == datetime.datetime(2026, 12, 3, tzinfo=UTC)
    assert len(http.requests_to("GET", f"{RENEWAL_INFO}/{ARI_ID}")) == 2
    assert session.retries.counts()["incomplete_answer"] == 1


def test_an_answer_that_never_reads_ends_in_one_line_with_url_tries_and_advice():
    http = FakeHttp().with_directory()
    http.on("GET", f"{RENEWAL_INFO}/{ARI_ID}", http.reply(200, content=b"<html>busy</html>", content_type="text/html"))
    with pytest.raises(ProtocolError) as caught:
        fetch_renewal_info(session_for(http), ARI_ID)
    message = str(caught.value)
    assert message.startswith(f"asking for the renewal information of {ARI_ID}: expected JSON from {RENEWAL_INFO}/{ARI_ID}")
    assert f"({FAULT_TRIES} tries over " in message and "try again later" in message and "\n" not in message


def test_a_bare_refusal_is_not_asked_again():
    http = FakeHttp().with_directory()
    http.on("GET", f"{RENEWAL_INFO}/{ARI_ID}", http.reply(404, content=b"not found", content_type="text/plain"))
    with pytest.raises(ProtocolError, match="answered HTTP 404"):
        fetch_renewal_info(session_for(http), ARI_ID)
    assert len(http.requests_to("GET", f"{RENEWAL_INFO}/{ARI_ID}")) == 1


def test_advice_keeps_the_error_about_one_certificate_and_reads_nanosecond_times():
    http = FakeHttp().with_directory()
    other = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyI"
    window = {"suggestedWindow": {"start": "2026-12-01T00:00:00.123456789Z", "end": "2026-12-03T00:00:00+01:00"}}
    http.on("GET", f"{RENEWAL_INFO}/{ARI_ID}", http.reply(200, window))
    http.on("GET", f"{RENEWAL_INFO}/{other}", http.reply(404, {"type": "urn:ietf:params:acme:error:malformed", "detail": "unknown"}))
    session = session_for(http)
    fine, unknown = fetch_advice(session, ARI_ID), fetch_advice(session, other)
    assert fine.error is None and fine.info.window_start == datetime.datetime(2026, 12, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert unknown.info is None and "unknown" in unknown.error


def test_advice_from_a_ca_without_renewal_info_is_still_a_configuration_error():
    directory = {key: value for key, value in load_fixture("directory_letsencrypt_staging.json").items() if key != "renewalInfo"}
    with pytest.raises(ConfigurationError):
        fetch_advice(session_for(FakeHttp().with_directory(directory)), ARI_ID)
