# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for the CA without fixed sleeps: short first waits, backoff, Retry-After, a deadline."""

from __future__ import annotations

import typing as t

from .errors import AcmeError

# CAs validate in well under a second when they can; a gentle backoff sees that soon without
# hammering a slow CA (0.1, 0.15, 0.23, 0.34, ... seconds, then every MAX_DELAY).
FIRST_DELAY = 0.1
BACKOFF_FACTOR = 1.5
MAX_DELAY = 3.0

T = t.TypeVar("T")


class WaitTimeout(AcmeError):
    """The CA did not finish in time; carries the last state seen and how often it was read."""

    def __init__(self, message: str, *, last: t.Any, reads: int = 0) -> None:
        self.last = last
        self.reads = reads
        super().__init__(message)


def poll(
    fetch: t.Callable[[], tuple[T, bool, float | None]],
    *,
    timeout: float,
    sleep: t.Callable[[float], None],
    clock: t.Callable[[], float],
    what: str,
    wait_first: bool = False,
) -> T:
    """Call `fetch` until it reports done, and return its last value.

    `fetch` returns `(value, done, retry_after)`; a Retry-After from the CA replaces the
    backoff delay (RFC 8555 section 7.5.1), but never pushes past the deadline.
    With `wait_first` (the caller has just seen the CA's answer that it is not done), the first
    delay comes before the first read: a read at once would only see the same answer again.
    """
    deadline = clock() + timeout
    delay = FIRST_DELAY
    reads = 0
    if wait_first and deadline - clock() > 0:
        sleep(min(delay, deadline - clock()))
        delay = min(delay * BACKOFF_FACTOR, MAX_DELAY)
    while True:
        value, done, retry_after = fetch()
        reads += 1
        if done:
            return value
        # Retry-After may lengthen the wait, never shorten it: a 0 must not turn this into a busy loop
        wait = max(retry_after, delay) if retry_after is not None else delay
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(
                f"gave up waiting for {what} after {timeout:g} seconds ({reads} reads); raise the timeout or retry later", last=value, reads=reads
            )
        sleep(min(wait, remaining))
        delay = min(delay * BACKOFF_FACTOR, MAX_DELAY)
