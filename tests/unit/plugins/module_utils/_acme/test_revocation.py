# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Revocation: a lost answer is sent again, and alreadyRevoked then means done."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import OutcomeUnknown, ProblemError
from ansible_collections.certforge.acme.plugins.module_utils._acme.reconcile import RESEND_TRIES
from ansible_collections.certforge.acme.plugins.module_utils._acme.revocation import revoke
from ansible_collections.certforge.acme.tests.unit.utils.helpers import TestPki

BASE = "https://acme-staging-v02.api.letsencrypt.org"
REVOKE = f"{BASE}/acme/revoke-cert"
ACCOUNT = f"{BASE}/acme/acct/123456789"


@pytest.fixture(scope="module")
def certificate():
    return TestPki().leaf("example.org")


def already_revoked(http):
    return http.reply(400, {"type": "urn:ietf:params:acme:error:alreadyRevoked", "detail": "Certificate already revoked"})


def run(session, account_key, certificate):
    return revoke(session, certificate=certificate, key=account_key, kid=ACCOUNT, reason=4)


def test_revoke_sends_the_certificate_and_reason(http, session, account_key, certificate):
    http.on("POST", REVOKE, http.reply(200))
    assert run(session, account_key, certificate) is True
    assert http.requests_to("POST", REVOKE)[0].jws().payload["reason"] == 4


def test_already_revoked_at_once_means_nothing_changed(http, session, account_key, certificate):
    http.on("POST", REVOKE, already_revoked(http))
    assert run(session, account_key, certificate) is False


def test_a_lost_answer_is_sent_again(http, session, account_key, certificate):
    http.on("POST", REVOKE, requests.exceptions.ReadTimeout("read timed out"), http.reply(200))
    assert run(session, account_key, certificate) is True
    assert len(http.requests_to("POST", REVOKE)) == 2


def test_already_revoked_after_a_lost_answer_means_this_run_revoked_it(http, session, account_key, certificate):
    http.on("POST", REVOKE, requests.exceptions.ReadTimeout("read timed out"), already_revoked(http))
    assert run(session, account_key, certificate) is True


def test_lost_answers_every_time_give_up_after_a_bound(http, session, account_key, certificate):
    http.on("POST", REVOKE, requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknown) as caught:
        run(session, account_key, certificate)
    assert len(http.requests_to("POST", REVOKE)) == RESEND_TRIES
    message = str(caught.value)
    assert message.startswith(f"revoking the certificate: no answer from {REVOKE} within request_timeout 10 s ({RESEND_TRIES} tries over ")
    assert "raise request_timeout" in message


def test_other_problems_are_raised(http, session, account_key, certificate):
    http.on("POST", REVOKE, http.reply(403, {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "not yours"}))
    with pytest.raises(ProblemError, match="unauthorized"):
        run(session, account_key, certificate)
