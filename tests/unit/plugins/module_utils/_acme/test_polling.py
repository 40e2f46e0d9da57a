# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for the CA: no fixed sleeps, a gentle backoff, Retry-After, a deadline."""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.polling import FIRST_DELAY, MAX_DELAY, WaitTimeout, poll
from ansible_collections.certforge.acme.tests.unit.utils.helpers import FakeClock


def answers(*states):
    """A fetch function that returns (value, done, retry_after) tuples in turn."""
    queue = list(states)
    return lambda: queue.pop(0)


def test_done_at_once_does_not_sleep():
    clock = FakeClock()
    assert poll(answers(("ready", True, None)), timeout=10, sleep=clock.sleep, clock=clock, what="x") == "ready"
    assert clock.sleeps == []


def test_backoff_starts_small_and_grows_up_to_a_limit():
    clock = FakeClock()
    states = [("pending", False, None)] * 12 + [("ready", True, None)]
    poll(answers(*states), timeout=100, sleep=clock.sleep, clock=clock, what="x")
    assert clock.sleeps[0] == FIRST_DELAY
    assert all(later >= earlier for earlier, later in zip(clock.sleeps, clock.sleeps[1:]))
    assert max(clock.sleeps) == MAX_DELAY
    assert sum(clock.sleeps[:4]) < 1.0, "a CA that validates in under a second is seen within about a second"


def test_retry_after_replaces_the_backoff():
    clock = FakeClock()
    poll(answers(("pending", False, 7.0), ("ready", True, None)), timeout=100, sleep=clock.sleep, clock=clock, what="x")
    assert clock.sleeps == [7.0]


def test_the_deadline_is_never_overslept_and_ends_in_a_clear_error():
    clock = FakeClock()
    with pytest.raises(WaitTimeout, match=r"gave up waiting for the CA after 5 seconds \(\d+ reads\); raise the timeout") as raised:
        poll(lambda: ("pending", False, 60.0), timeout=5, sleep=clock.sleep, clock=clock, what="the CA")
    assert sum(clock.sleeps) == 5
    assert raised.value.last == "pending"


def test_a_zero_retry_after_does_not_make_a_busy_loop():
    clock = FakeClock()
    poll(answers(*[("pending", False, 0.0)] * 3, ("ready", True, None)), timeout=100, sleep=clock.sleep, clock=clock, what="x")
    assert clock.sleeps[0] == FIRST_DELAY and all(wait > 0 for wait in clock.sleeps)
