# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Giving up a state-changing request whose answers were all lost: one line, like the transport's own."""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import OutcomeUnknown
from ansible_collections.certforge.acme.plugins.module_utils._acme.reconcile import RESEND_TRIES, Resending
from ansible_collections.certforge.acme.tests.unit.utils.helpers import FakeClock

URL = "https://ca.example/acme/new-order"
LOCATION = "https://ca.example/acme/order/1"


def lost(tries: int = 1) -> OutcomeUnknown:
    return OutcomeUnknown(
        "creating the order: the connection was lost; the CA may have processed the request",
        url=URL,
        description=f"the connection to {URL} was lost: reset",
        advice="check that the CA is up",
        tries=tries,
        context="creating the order",
        location=LOCATION,
        status=None,
    )


def test_the_final_error_counts_every_try_over_the_whole_time_and_keeps_the_last_facts():
    clock = FakeClock()
    resending = Resending(clock=clock, checked="after each, no pending order matched")
    assert list(resending.rounds()) == list(range(1, RESEND_TRIES + 1))
    for tries in (1, 2, 1):
        clock.sleep(2)
        resending.lost(lost(tries))
    error = resending.given_up()
    assert str(error) == (
        f"creating the order: the connection to {URL} was lost: reset (4 tries over 6 s; after each, no pending order matched); check that the CA is up"
    )
    assert (error.url, error.tries, error.location, error.context) == (URL, 4, LOCATION, "creating the order")


def test_giving_up_before_anything_was_lost_is_a_bug():
    with pytest.raises(AssertionError):
        Resending(clock=FakeClock(), checked="").given_up()
