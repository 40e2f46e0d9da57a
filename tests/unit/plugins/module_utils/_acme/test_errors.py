# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import (
    AcmeError,
    ConfigurationError,
    ProblemError,
    ProtocolError,
    Subproblem,
    TransportError,
    short_type,
)
from ansible_collections.certforge.acme.tests.unit.utils.helpers import load_fixture

URL = "https://acme-staging-v02.api.letsencrypt.org/acme/new-order"


def problem(type_name: str, detail: str = "", **extra) -> dict:
    return {"type": f"urn:ietf:params:acme:error:{type_name}", "detail": detail, **extra}


def test_configuration_error_formats_option_colon_message():
    error = ConfigurationError("must be https", option="acme_directory")
    assert str(error) == "acme_directory: must be https"
    assert error.option == "acme_directory"


def test_configuration_error_without_option_is_the_bare_message():
    assert str(ConfigurationError("bad input")) == "bad input"


@pytest.mark.parametrize("cls", [ConfigurationError, TransportError, ProtocolError, ProblemError])
def test_every_core_error_is_an_acme_error(cls):
    assert issubclass(cls, AcmeError)


def test_short_type_strips_the_acme_prefix():
    assert short_type("urn:ietf:params:acme:error:badNonce") == "badNonce"


def test_short_type_keeps_foreign_types_verbatim():
    assert short_type("https://example.com/probs/out-of-credit") == "https://example.com/probs/out-of-credit"


def test_problem_error_exposes_short_type_and_has_type():
    error = ProblemError(url=URL, status=400, problem=problem("badNonce", "stale"))
    assert error.short_type == "badNonce"
    assert error.has_type("badNonce")
    assert not error.has_type("malformed")


def test_rate_limited_message_mentions_the_retry_after_value():
    error = ProblemError(url=URL, status=429, problem=load_fixture("problem_rate_limited.json"), retry_after="3600")
    message = str(error)
    assert "CA error rateLimited (HTTP 429)" in message
    assert "retry after 3600" in message
    assert "too many new orders (300)" in message


def test_rate_limited_without_retry_after_says_to_wait():
    error = ProblemError(url=URL, status=429, problem=problem("rateLimited", "slow down"))
    assert "rate limited by the CA; wait before retrying" in str(error)


def test_unauthorized_message_has_detail_and_advice():
    error = ProblemError(url=URL, status=403, problem=load_fixture("problem_unauthorized_deactivated.json"))
    assert str(error) == ('CA error unauthorized (HTTP 403): Account is not valid, has status "deactivated" (the CA refused the request)')


def test_context_prefixes_the_message():
    error = ProblemError(url=URL, status=400, problem=problem("badCSR", "no SAN"), context="finalizing the order")
    assert str(error).startswith("finalizing the order: CA error badCSR (HTTP 400): no SAN")


def test_subproblems_are_listed_with_their_identifiers():
    error = ProblemError(url=URL, status=400, problem=load_fixture("problem_compound_rejected_identifiers.json"))
    assert error.subproblems == [
        Subproblem(type="urn:ietf:params:acme:error:malformed", detail='Invalid underscore in DNS name "_example.org"', identifier="_example.org"),
        Subproblem(type="urn:ietf:params:acme:error:rejectedIdentifier", detail='This CA will not issue for "example.net"', identifier="example.net"),
    ]
    message = str(error)
    assert '; malformed for _example.org: Invalid underscore in DNS name "_example.org"' in message
    assert '; rejectedIdentifier for example.net: This CA will not issue for "example.net"' in message


def test_subproblem_without_identifier_and_non_dict_entries():
    error = ProblemError(url=URL, status=400, problem=problem("malformed", "bad", subproblems=[problem("caa", "forbidden"), "junk", 7]))
    assert error.subproblems == [Subproblem(type="urn:ietf:params:acme:error:caa", detail="forbidden", identifier=None)]
    assert str(error).endswith("; caa: forbidden")


def test_unknown_problem_type_is_reported_verbatim_without_advice():
    error = ProblemError(url=URL, status=402, problem={"type": "https://example.com/probs/out-of-credit", "detail": "balance 30"})
    assert str(error) == "CA error https://example.com/probs/out-of-credit (HTTP 402): balance 30"


def test_problem_without_type_is_about_blank_and_without_status_has_no_http_part():
    error = ProblemError(url=URL, status=None, problem={})
    assert error.type == "about:blank"
    assert str(error) == "CA error about:blank"


def test_problem_to_result_carries_url_status_and_problem_only():
    document = load_fixture("problem_compound_rejected_identifiers.json")
    error = ProblemError(url=URL, status=400, problem=document, retry_after="10", context="creating the order")
    result = error.to_result()
    assert result == {"url": URL, "http_status": 400, "problem": document}
    json.dumps(result)  # a module can return it as is


def test_configuration_and_transport_errors_add_nothing_to_the_result():
    assert ConfigurationError("x", option="account_key_content").to_result() == {}
    assert TransportError("down", url=URL).to_result() == {}


def test_protocol_error_result_names_url_and_status():
    assert ProtocolError("not JSON", url=URL, status=502).to_result() == {"url": URL, "http_status": 502}


def test_a_note_on_a_problem_follows_the_problem_and_its_subproblems():
    error = ProblemError(url=URL, status=503, problem=problem("serverInternal", "busy"), note=f"{URL} answered HTTP 503 (10 tries over 56 s)")
    assert str(error) == f"CA error serverInternal (HTTP 503): busy; {URL} answered HTTP 503 (10 tries over 56 s)"
