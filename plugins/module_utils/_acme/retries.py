# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How often and how long one request to the CA is sent again, and the record of what was.

RFC 8555 section 6.5 (badNonce is answered with a fresh nonce to retry with) and section 6.6
(rate limits, Retry-After); everything else here is what a client running unattended needs.
"""

from __future__ import annotations

import typing as t

# The kinds of retry a session counts; modules report them under these names in `retries`.
BAD_NONCE = "bad_nonce"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
CONNECTION = "connection"
INCOMPLETE_ANSWER = "incomplete_answer"
RETRY_KINDS = (BAD_NONCE, RATE_LIMITED, SERVER_ERROR, CONNECTION, INCOMPLETE_ANSWER)

# A rejected nonce is sent again at once with the nonce the problem carries, at most this often in a row.
# Sized for a CA rejecting 90 % of nonces: one request then fails with 0.9^100 = 2.7e-5, an issuance
# of about 15 POSTs (30 with polling) with at most 30 x 2.7e-5 = 8e-4, so 2 or more of 20 issuances
# fail with about C(20,2) x (8e-4)^2 = 1.2e-4: at least 19 of 20 succeed. A CA that rejects every
# nonce still ends the request after 100 quick answers.
BAD_NONCE_TRIES = 100
# Lost connections, cut-short answers and 5xx other than 503: with backoff 0.5, 1, 2, 4, 8 s, a CA
# that restarts within about 15 s is ridden out.
FAULT_TRIES = 6
FIRST_BACKOFF = 0.5
# A retry_timeout under twice the whole backoff (31 s) starts it lower, so that waiting takes at most half
# of the time the user gave and the tries themselves the rest; never below this, to stay gentle with the CA.
MIN_FIRST_BACKOFF = 0.1
# 429 and 503 say "not now": they are waited out as Retry-After asks, within retry_timeout.
RATE_LIMIT_TRIES = 10
MAX_BACKOFF = 10.0


def first_backoff(retry_timeout: float) -> float:
    """The first wait after a fault: 0.5 s, or less when retry_timeout is too short for all tries at that pace."""
    whole_backoff = 2 ** (FAULT_TRIES - 1) - 1  # the doubling waits between FAULT_TRIES tries, in first waits
    return max(MIN_FIRST_BACKOFF, min(FIRST_BACKOFF, retry_timeout / (2 * whole_backoff)))


class Fault(t.NamedTuple):
    """One try that failed in a way that sending again may cure."""

    kind: str  # one of RETRY_KINDS
    label: str  # for the warning: "badNonce", "HTTP 503", "read timeout"
    description: str  # for the error: what happened, naming the URL
    advice: str  # for the error: what a person can do when it persists
    tries: int  # how many tries of one request this kind of fault allows
    reached: bool  # whether the request may have reached the CA
    retry_after: float | None = None


class RetryLog:
    """What one session sent again, by kind and by what went wrong."""

    def __init__(self) -> None:
        self._kinds = dict.fromkeys(RETRY_KINDS, 0)
        self._labels: dict[str, int] = {}

    def record(self, fault: Fault) -> None:
        self._kinds[fault.kind] += 1
        self._labels[fault.label] = self._labels.get(fault.label, 0) + 1

    @property
    def total(self) -> int:
        return sum(self._kinds.values())

    def counts(self) -> dict[str, int]:
        """The `retries` result of a module: every kind, zero when it never happened."""
        return dict(self._kinds)

    def summary(self) -> str | None:
        """One line for a warning, or None when nothing was retried."""
        if not self.total:
            return None
        parts = ", ".join(f"{count} {label}" for label, count in sorted(self._labels.items(), key=lambda item: -item[1]))
        return f"retried {self.total} request{'s' if self.total != 1 else ''} to the CA: {parts}"


class Attempts:
    """The tries of one request: when to send again, and how to say that it was given up."""

    def __init__(self, *, retry_timeout: float, log: RetryLog, clock: t.Callable[[], float], sleep: t.Callable[[float], None]) -> None:
        self.retry_timeout = retry_timeout
        self._log = log
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self.tries = 0
        self.failures = 0
        self.bad_nonces = 0
        self._waited_too_long: float | None = None

    def sent(self) -> None:
        self.tries += 1

    def again(self, fault: Fault) -> bool:
        """Wait before the next try if one is allowed; False when the request is given up."""
        if fault.kind == BAD_NONCE:
            self.bad_nonces += 1
            if self.bad_nonces >= BAD_NONCE_TRIES:
                return False
            self._log.record(fault)
            return True
        self.failures += 1
        if self.failures >= fault.tries or self.retry_timeout <= 0:
            return False
        backoff = min(first_backoff(self.retry_timeout) * 2 ** (self.failures - 1), MAX_BACKOFF)
        # Retry-After wins, but a zero or past one must not make us hammer the CA
        wait = max(fault.retry_after or 0.0, backoff)
        if self._clock() + wait > self._started + self.retry_timeout:
            if fault.retry_after is not None and fault.retry_after > backoff:
                self._waited_too_long = fault.retry_after
            return False
        self._sleep(wait)
        self._log.record(fault)
        return True

    def account(self) -> str:
        """How the request was tried, for the final error: "6 tries over 16 s".

        Tries refused as badNonce are named apart: they are the CA's nonce bookkeeping, answered
        at once with its fresh nonce, not tries of the fault that ended the request.
        """
        if self.retry_timeout <= 0 and self.tries <= 1:
            return "not retried: retry_timeout is 0"
        counted = self.tries - self.bad_nonces
        tries = "1 try" if counted == 1 else f"{counted} tries over {self._clock() - self._started:.0f} s"
        if self.bad_nonces:
            tries += f", besides {self.bad_nonces} refused as badNonce"
        if self._waited_too_long is not None:
            return f"{tries}; the CA asked to wait {self._waited_too_long:.0f} s more, which would end past retry_timeout {self.retry_timeout:g} s"
        return tries
