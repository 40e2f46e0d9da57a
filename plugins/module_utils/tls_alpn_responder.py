# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tls-alpn-01 responder (RFC 8737), in the Python standard library only.

For each TLS SNI name it presents the challenge certificate that `certforge.acme.acme_order`
returns in `challenge_data[identifier]['tls-alpn-01']` (`resource` is the SNI name; for an IP
address it is the reverse-mapping name, RFC 8738 section 6), negotiates the ALPN protocol
`acme-tls/1` only, and closes each connection once the handshake is done (RFC 8737 section 3).
A ClientHello for any other name, or without SNI, is refused with an `unrecognized_name` alert.

It has no Ansible imports, so that it runs on a target host as a background process:

    python3 tls_alpn_responder.py --listen 0.0.0.0:443 --challenges challenges.json --timeout 300

and exits by itself after `--timeout` seconds (or at SIGTERM). `challenges.json` holds either
the `challenge_data` of acme_order (entries without `tls-alpn-01` are skipped) or a list of
`tls-alpn-01` entries (`resource`, `certificate`, `private_key`).

Tests use `TlsAlpnResponder` in-process with `start()` and `stop()`.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import typing as t

ACME_TLS_ALPN = "acme-tls/1"
# A validation handshake takes milliseconds; this only stops a silent client from holding a thread.
HANDSHAKE_TIMEOUT_SECONDS = 10.0
DEFAULT_RUN_SECONDS = 600.0
LISTEN_BACKLOG = 64
# How soon the main loop notices SIGTERM.
STOP_CHECK_SECONDS = 0.2


class ResponderError(Exception):
    """The challenges cannot be served: bad input, unusable certificate, or the port is taken."""


class TlsAlpnChallenge(t.NamedTuple):
    """What to present for one SNI name."""

    server_name: str
    certificate_pem: str
    private_key_pem: str


def _normalize_server_name(name: str) -> str:
    # SNI carries A-labels without the root dot; compare case-insensitively (RFC 6066 section 3).
    return name.strip().rstrip(".").lower()


def challenges_from_data(data: t.Any) -> list[TlsAlpnChallenge]:
    """The tls-alpn-01 challenges in acme_order's `challenge_data`, or in a list of its `tls-alpn-01` entries."""
    entries = list(data.values()) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ResponderError("expected acme_order's challenge_data (an object) or a list of tls-alpn-01 entries")
    challenges = []
    for entry in entries:
        if isinstance(entry, dict) and "tls-alpn-01" in entry:
            entry = entry["tls-alpn-01"]
        elif isinstance(data, dict):
            continue  # an identifier validated with another challenge type
        if not isinstance(entry, dict) or not all(isinstance(entry.get(key), str) for key in ("resource", "certificate", "private_key")):
            raise ResponderError(f"a tls-alpn-01 entry needs resource, certificate and private_key strings, got {entry!r:.80}")
        challenges.append(TlsAlpnChallenge(_normalize_server_name(entry["resource"]), entry["certificate"], entry["private_key"]))
    if not challenges:
        raise ResponderError("no tls-alpn-01 challenges to serve")
    return challenges


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8737 section 3
    context.set_alpn_protocols([ACME_TLS_ALPN])
    return context


def _contexts(challenges: t.Sequence[TlsAlpnChallenge]) -> dict[str, ssl.SSLContext]:
    """One TLS context per SNI name. `load_cert_chain` reads only files, so the PEMs pass
    through a private directory that is gone again before this returns."""
    contexts = {}
    directory = tempfile.mkdtemp(prefix="tls-alpn-01-")  # mode 0700
    try:
        for number, challenge in enumerate(challenges):
            certificate_path = os.path.join(directory, f"{number}.crt")
            key_path = os.path.join(directory, f"{number}.key")
            for path, content in ((certificate_path, challenge.certificate_pem), (key_path, challenge.private_key_pem)):
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                    handle.write(content)
            context = _server_context()
            try:
                context.load_cert_chain(certificate_path, key_path)
            except (ssl.SSLError, ValueError) as error:
                raise ResponderError(f"the certificate or key for {challenge.server_name} cannot be used: {error}") from None
            contexts[challenge.server_name] = context
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return contexts


def parse_listen_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, with IPv6 addresses in brackets (`[::]:443`)."""
    host, separator, port = text.rpartition(":")
    if not separator or not port.isdigit() or not host or int(port) > 65535:
        raise ResponderError(f"--listen must be HOST:PORT (for example 0.0.0.0:443 or [::]:443), not {text!r}")
    return host.strip("[]"), int(port)


class TlsAlpnResponder:
    """Serves tls-alpn-01 challenge certificates on one address until `stop()`."""

    def __init__(self, challenges: t.Iterable[TlsAlpnChallenge], *, host: str, port: int) -> None:
        self.challenges = list(challenges)
        self.host = host
        self.port = port  # 0 picks a free port; the real one is set by start()
        self.handshakes = 0
        self._listener: socket.socket | None = None
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext] = {}

    def __enter__(self) -> TlsAlpnResponder:
        self.start()
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.stop()

    def start(self) -> None:
        """Load every certificate, bind, and serve in a background thread."""
        if self._thread is not None:
            raise ResponderError("the responder is already running")
        self._contexts = _contexts(self.challenges)
        try:
            family, _type, _proto, _name, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
            listener = socket.socket(family, socket.SOCK_STREAM)
        except OSError as error:
            raise ResponderError(f"cannot listen on {self.host}:{self.port}: {error}") from None
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(address)
            listener.listen(LISTEN_BACKLOG)
        except OSError as error:
            listener.close()
            raise ResponderError(f"cannot listen on {self.host}:{self.port}: {error.strerror}") from None
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._wakeup = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=f"tls-alpn-01 responder :{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close the socket and wait for the server thread. Idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        wakeup = t.cast("tuple[socket.socket, socket.socket]", self._wakeup)
        wakeup[1].send(b"x")
        thread.join()
        for item in (*wakeup, t.cast(socket.socket, self._listener)):
            item.close()
        self._listener = self._wakeup = None
        self._contexts = {}

    def _serve(self) -> None:
        listener = t.cast(socket.socket, self._listener)
        wakeup = t.cast("tuple[socket.socket, socket.socket]", self._wakeup)[0]
        default_context = _server_context()
        default_context.sni_callback = self._choose_context
        workers: list[threading.Thread] = []
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wakeup, selectors.EVENT_READ)
            while not any(key.fileobj is wakeup for key, _events in selector.select()):
                try:
                    connection, _peer = listener.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                # Handshakes run side by side: a CA validates from several places at once.
                worker = threading.Thread(target=self._handshake, args=(connection, default_context), daemon=True)
                worker.start()
                workers = [item for item in workers if item.is_alive()] + [worker]
        # Handshakes still running end within their socket timeout; wait for that long in all.
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT_SECONDS
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _choose_context(self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _context: ssl.SSLContext) -> int | None:
        context = self._contexts.get(_normalize_server_name(server_name or ""))
        if context is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        connection.context = context
        return None

    def _handshake(self, connection: socket.socket, default_context: ssl.SSLContext) -> None:
        connection.setblocking(True)
        connection.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
        try:
            with default_context.wrap_socket(connection, server_side=True) as tls:
                with self._lock:
                    self.handshakes += 1
                # The client only wants the certificate; no data is exchanged (RFC 8737 section 3).
                tls.close()
        except (OSError, ssl.SSLError):
            pass  # unknown name, no ALPN in common, or the client hung up: nothing to answer
        finally:
            connection.close()


def _write_pid_file(path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".tls-alpn-pid.", dir=directory)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def _remove_pid_file(path: str) -> None:
    # Only our own: a responder started later may have written its pid there since.
    try:
        with open(path, encoding="ascii") as handle:
            if handle.read().strip() == str(os.getpid()):
                os.unlink(path)
    except OSError:
        pass


def _listen_address(text: str) -> tuple[str, int]:
    try:
        return parse_listen_address(text)
    except ResponderError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _arguments(argv: t.Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Answer ACME tls-alpn-01 challenges (RFC 8737) until the timeout.")
    parser.add_argument("--listen", required=True, type=_listen_address, help="HOST:PORT to listen on, for example 0.0.0.0:443 or [::]:443")
    parser.add_argument("--challenges", required=True, help="JSON file: acme_order's challenge_data, or a list of tls-alpn-01 entries")
    parser.add_argument("--pid-file", help="write the process id here while running")
    parser.add_argument("--timeout", type=float, default=DEFAULT_RUN_SECONDS, help=f"exit after this many seconds (default {DEFAULT_RUN_SECONDS:g})")
    arguments = parser.parse_args(argv)
    if arguments.timeout <= 0:
        parser.error("--timeout must be a positive number of seconds")
    return arguments


def main(argv: t.Sequence[str] | None = None) -> int:
    """Serve the challenges of `--challenges` on `--listen` until `--timeout` or SIGTERM."""
    arguments = _arguments(argv)
    try:
        with open(arguments.challenges, encoding="utf-8") as handle:
            challenges = challenges_from_data(json.load(handle))
        host, port = arguments.listen
        responder = TlsAlpnResponder(challenges, host=host, port=port)
        responder.start()
    except (OSError, ValueError, ResponderError) as error:
        sys.stderr.write(f"tls_alpn_responder: {error}\n")
        return 1
    signals: list[int] = []
    for signal_number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        # The handler only records the signal: the main loop below does the stopping.
        signal.signal(signal_number, lambda number, _frame: signals.append(number))
    try:
        if arguments.pid_file:
            _write_pid_file(arguments.pid_file)
        names = ", ".join(challenge.server_name for challenge in challenges)
        # A starter waiting for this line knows the port is open.
        sys.stdout.write(f"tls_alpn_responder: listening on {host}:{responder.port} for {names}\n")
        sys.stdout.flush()
        deadline = time.monotonic() + arguments.timeout
        while not signals and time.monotonic() < deadline:
            time.sleep(min(STOP_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))
    finally:
        responder.stop()
        if arguments.pid_file:
            _remove_pid_file(arguments.pid_file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
