"""HTTP(S) sessions for talking to the test servers on loopback."""

from __future__ import annotations

import pathlib

import requests

REQUEST_TIMEOUT_SECONDS = 5.0


def loopback_session(ca_path: pathlib.Path | None = None) -> requests.Session:
    """Return a session that trusts only ``ca_path`` and ignores the environment.

    With ``trust_env`` on, requests lets REQUESTS_CA_BUNDLE (set on our machines) replace
    ``Session.verify``, and proxy variables would route loopback names through a proxy.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_path) if ca_path is not None else True
    return session
