"""What pebble really did, read from its log: orders it created and certificates it issued.

Counting requests (``PebbleServer.logged_requests``) counts a newOrder rejected with badNonce and
then resent twice; pebble's own log lines for a stored order and an issued certificate do not.
"""

from __future__ import annotations

import dataclasses
import re

from .pebble import PebbleServer

ORDER_ADDED = re.compile(r'^Pebble \S+ \S+ Added order "(?P<order>[^"]+)" to the db$', re.MULTILINE)
CERTIFICATE_ISSUED = re.compile(r'^Pebble \S+ \S+ Issued certificate serial (?P<serial>[0-9a-f]+) for order (?P<order>\S+)$', re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Ledger:
    """Orders created and certificates issued in a stretch of pebble's log."""

    orders: list[str]  # order ids
    issued: dict[str, str]  # serial (lower-case hex, as pebble logs it) -> order id


class PebbleLedger:
    """Reads what pebble logged since ``mark()`` (or since this object was made)."""

    def __init__(self, pebble: PebbleServer) -> None:
        self.pebble = pebble
        self._offset = 0
        self.mark()

    def mark(self) -> None:
        """Start counting from here."""
        self._offset = self.pebble.log_path.stat().st_size

    def since_mark(self) -> Ledger:
        """Orders and issuances logged since the last ``mark()``."""
        with self.pebble.log_path.open('rb') as log:
            log.seek(self._offset)
            text = log.read().decode('utf-8', errors='replace')
        return Ledger(
            orders=[match['order'] for match in ORDER_ADDED.finditer(text)],
            issued={match['serial']: match['order'] for match in CERTIFICATE_ISSUED.finditer(text)},
        )
