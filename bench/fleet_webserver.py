"""The http-01 web server of a bench fleet: every host has its own web root.

Pebble fetches ``http://<name>:<port>/.well-known/acme-challenge/<token>``; the ``Host`` header names
the certificate's domain, and each domain belongs to one host, whose web root answers. It runs as a
thread of the bench process, outside the measured process tree, like the CA.
"""

from __future__ import annotations

import http.server
import pathlib
import threading
import typing as t

from testbed.ports import LOOPBACK


class FleetWebServer:
    """Serves each domain's http-01 files from the web root of the host that owns the domain."""

    def __init__(self, *, port: int) -> None:
        self.port = port
        self.webroots: dict[str, pathlib.Path] = {}  # domain -> web root
        self._server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        """Listen on 127.0.0.1:``port`` in a daemon thread."""
        webroots = self.webroots

        class Handler(http.server.BaseHTTPRequestHandler):
            """GET of a file below the web root of the host that owns the requested domain."""

            def do_GET(self) -> None:  # noqa: N802  # http.server's name
                domain = (self.headers.get('Host') or '').rsplit(':', 1)[0].lower()
                root = webroots.get(domain)
                relative = self.path.split('?', 1)[0].lstrip('/')
                path = (root / relative).resolve() if root is not None else None
                if path is None or root is None or not path.is_relative_to(root.resolve()) or not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                self.send_response(200)
                self.send_header('Content-Type', 'application/octet-stream')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: t.Any) -> None:  # pylint: disable=redefined-builtin
                """Quiet: pebble's log tells what was validated."""

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name='fleet-http-01', daemon=True).start()

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
