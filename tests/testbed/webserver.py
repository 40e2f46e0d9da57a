"""The web server that answers pebble's http-01 validation requests.

Pebble's validation authority fetches ``http://<name>:<httpPort>/.well-known/acme-challenge/<token>``
and every name resolves to 127.0.0.1, so a static server for a webroot directory on that port
is all http-01 needs. Python's own ``http.server`` (threaded) is quick enough to start.
"""

from __future__ import annotations

import pathlib
import sys

import requests

from .https import loopback_session
from .ports import LOOPBACK
from .process import ServerProcess

CHALLENGE_DIRECTORY = pathlib.PurePosixPath('.well-known/acme-challenge')
READY_PROBE_TIMEOUT_SECONDS = 0.5


class WebrootServer:
    """A static HTTP server on ``address``:``port`` (127.0.0.1 unless told) serving the files below ``path``."""

    def __init__(self, *, path: pathlib.Path, port: int, log_path: pathlib.Path, address: str = LOOPBACK) -> None:
        self.path = path
        self.port = port
        self.address = address
        self.log_path = log_path
        self._process: ServerProcess | None = None

    @property
    def base_url(self) -> str:
        """The server's URL on loopback, without a trailing slash."""
        return f'http://{self.address}:{self.port}'

    @property
    def challenge_path(self) -> pathlib.Path:
        """The directory http-01 challenge files go into."""
        return self.path / CHALLENGE_DIRECTORY

    def url_for(self, name: str, relative_path: str) -> str:
        """The URL pebble would use to fetch ``relative_path`` for the domain ``name``."""
        return f'http://{name}:{self.port}/{relative_path.lstrip("/")}'

    def start(self) -> None:
        """Start serving and return once the server answers."""
        self.challenge_path.mkdir(parents=True, exist_ok=True)
        self._process = ServerProcess(
            name='http-01 web server',
            argv=[sys.executable, '-m', 'http.server', '--bind', self.address, '--directory', str(self.path), str(self.port)],
            log_path=self.log_path,
        )
        self._process.start(ready=self._answers)

    def stop(self) -> None:
        """Stop the server if this object started it."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def _answers(self) -> bool:
        try:
            with loopback_session() as session:
                session.head(f'{self.base_url}/', timeout=READY_PROBE_TIMEOUT_SECONDS)
        except requests.RequestException:
            return False
        return True
