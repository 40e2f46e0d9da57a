# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How often a state-changing POST whose answer was lost is sent again, and how that is given up.

The transport raises `OutcomeUnknown` when a POST may have reached the CA but its answer did not
come back (or came back unreadable). Each resource reads itself back first (RFC 8555 section 7.1:
every resource can be read with POST-as-GET) and sends the request again only when the CA did not
act on it. When every answer was lost, the error says so in one line like the transport's own:
the URL, what happened, how many tries over how long, what was found each time, and what to do.
"""

from __future__ import annotations

import typing as t

from .errors import OutcomeUnknown

# A lost answer is rare; three in a row means the path to the CA is broken, and a person
# should look rather than the client piling up requests.
RESEND_TRIES = 3


class Resending:
    """The sends of one state-changing request while its answers are lost.

    `checked` says what reading back found after each lost answer, e.g. "the order was still
    ready after each, so it was sent again".
    """

    def __init__(self, *, clock: t.Callable[[], float], checked: str) -> None:
        self._clock = clock
        self._started = clock()
        self.checked = checked
        self.tries = 0
        self._last: OutcomeUnknown | None = None

    def rounds(self) -> range:
        """The numbers of the sends allowed, 1 to RESEND_TRIES."""
        return range(1, RESEND_TRIES + 1)

    def lost(self, error: OutcomeUnknown) -> None:
        """Count a send whose answer was lost (with the transport's own tries of it)."""
        self.tries += error.tries
        self._last = error

    def given_up(self) -> OutcomeUnknown:
        """The one-line error once every send was lost."""
        last = self._last
        if last is None:
            raise AssertionError("given_up() before any lost answer")
        prefix = f"{last.context}: " if last.context else ""
        tries = f"{self.tries} tries over {self._clock() - self._started:.0f} s"
        return OutcomeUnknown(
            f"{prefix}{last.description} ({tries}; {self.checked}); {last.advice}",
            url=last.url,
            description=last.description,
            advice=last.advice,
            tries=self.tries,
            context=last.context,
            location=last.location,
            status=last.status,
        )
