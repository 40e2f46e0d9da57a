"""Fixture glue for the collection's tls-alpn-01 responder on the pebbles' tls-alpn-01 port.

The responder itself is ``plugins/module_utils/tls_alpn_responder.py``, the code a role starts
on target hosts; here it runs in-process on ``challenge_ports.tls``, where every pebble of the
session connects for tls-alpn-01. One responder at a time holds that port, so ``serve`` replaces
the one running.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ansible_collections.certforge.acme.plugins.module_utils.tls_alpn_responder import (
    TlsAlpnResponder,
    challenges_from_data,
)

from .fixtures import ChallengePorts
from .ports import LOOPBACK


class TlsAlpnResponders:
    """Starts the responder for a set of challenges on the shared port and stops it again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.current: TlsAlpnResponder | None = None

    def serve(self, challenges: Any) -> TlsAlpnResponder:
        """Serve ``challenges`` (acme_order's ``challenge_data`` or a list of ``tls-alpn-01`` entries)."""
        self.stop()
        responder = TlsAlpnResponder(challenges_from_data(challenges), host=LOOPBACK, port=self.port)
        responder.start()
        self.current = responder
        return responder

    def stop(self) -> None:
        """Stop the running responder, if any."""
        if self.current is not None:
            self.current.stop()
            self.current = None


@pytest.fixture
def tls_alpn(challenge_ports: ChallengePorts) -> Iterator[TlsAlpnResponders]:
    """``tls_alpn.serve(challenge_data)`` answers tls-alpn-01 until the test ends."""
    responders = TlsAlpnResponders(challenge_ports.tls)
    try:
        yield responders
    finally:
        responders.stop()
