"""A fault-injecting HTTPS proxy in front of one pebble, driven by a plan of rules (see faults.py).

Clients talk to ``directory_url`` and trust the same ``ca_path`` as for pebble. The client's Host
header goes through unchanged, so pebble builds every URL (directory, Location, Link) for the proxy
and its check of the URL signed in each JWS passes. Every request is recorded (``records()``) with
its resource, the fault applied, whether it reached pebble and what pebble answered, so tests
count what the CA really processed.

Each client connection is served by a thread; ``stop()`` resets every connection and joins the
threads, so a stall or a silent CA never outlives the test that asked for it.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import email.utils
import http.client
import json
import pathlib
import select
import socket
import ssl
import struct
import threading
import time
from typing import BinaryIO

from . import faults
from .faults import Fault, Rule
from .ports import LOOPBACK
from .tls import ServerTLS

ACCEPT_POLL_SECONDS = 0.1
HOLD_POLL_SECONDS = 0.1
HANDSHAKE_TIMEOUT_SECONDS = 10.0
UPSTREAM_TIMEOUT_SECONDS = 30.0
JOIN_TIMEOUT_SECONDS = 5.0
WAIT_TIMEOUT_SECONDS = 30.0
MAX_LINE_BYTES = 65536
# Never passed on: they describe one hop, and the proxy frames bodies itself.
HOP_BY_HOP_HEADERS = frozenset(
    {'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'accept-encoding'}
)
GATEWAY_PAGE = b'<html><head><title>Service unavailable</title></head><body><h1>The service is unavailable</h1></body></html>\n'
NON_PEM_BODY = b'This is not a certificate; the gateway lost it.\n'
BROKEN_PEM_BODY = b'-----BEGIN CERTIFICATE-----\n'
# Faults that take a header out of the answer: they apply only to answers that carry it.
_HEADER_OF = {faults.NO_NONCE: 'replay-nonce', faults.NO_LOCATION: 'location'}
PROBLEM_TYPES = {429: 'urn:ietf:params:acme:error:rateLimited', 500: 'urn:ietf:params:acme:error:serverInternal'}


@dataclasses.dataclass(frozen=True)
class ProxyRecord:  # pylint: disable=too-many-instance-attributes  # one line of the proxy's log
    """One request the proxy received."""

    time: float  # wall clock when the request arrived
    method: str
    path: str
    resource: str  # faults.classify(): 'directory', 'newOrder', 'finalize', ...
    occurrence: int  # 1 for the first request of this resource, 2 for the next...
    fault: str | None  # Fault.label, None when passed through untouched
    reached_ca: bool  # whether pebble received the request
    ca_status: int | None  # pebble's status code, when it answered
    is_read: bool = False  # GET, HEAD or POST-as-GET (an empty JWS payload): safe to send again

    @property
    def processed(self) -> bool:
        """Whether pebble received the request and accepted it (2xx), whatever the client then saw."""
        return self.reached_ca and self.ca_status is not None and 200 <= self.ca_status < 300

    def line(self) -> str:
        """The record as one log line."""
        stamp = datetime.datetime.fromtimestamp(self.time, datetime.timezone.utc).isoformat(timespec='milliseconds')
        reached = f'CA {self.ca_status}' if self.reached_ca else 'not forwarded'
        return f'{stamp} {self.method} {self.path} {self.resource}#{self.occurrence} fault={self.fault or "-"} {reached}'


@dataclasses.dataclass(frozen=True)
class _Request:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


@dataclasses.dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class _Connection:
    """One client connection: its socket and the buffered reader on it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader: BinaryIO | None = None

    def close(self, *, reset: bool = False) -> None:
        """Close; with ``reset`` the peer gets a TCP RST (SO_LINGER 0), not a FIN."""
        if reset:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            except OSError:
                pass
        if self.reader is not None:
            self.reader.close()
        self.sock.close()

    def wake(self) -> None:
        """Make the thread serving this connection return and close it with a reset (used by stop and DOWN).

        Shutting down only the reading side wakes a blocked read without sending a FIN.
        """
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            self.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass


class FaultProxy:  # pylint: disable=too-many-instance-attributes  # a small server with its own state
    """The proxy; ``start()``, ``plan(...)``, let the client run, read ``records()``, ``stop()``."""

    def __init__(self, *, upstream_port: int, tls: ServerTLS, log_path: pathlib.Path | None = None) -> None:
        self.upstream_port = upstream_port
        self.tls = tls
        self.log_path = log_path
        self.port = 0
        self._rules: tuple[Rule, ...] = ()
        self._counts: collections.Counter[str] = collections.Counter()
        # per (rule, resource): the answers that carried the header a header-removing rule takes out
        self._header_counts: collections.Counter[tuple[int, str]] = collections.Counter()
        self._records: list[ProxyRecord] = []
        self._lock = threading.Lock()
        self._recorded = threading.Condition(self._lock)
        self._stopped = threading.Event()
        self._silent = threading.Event()
        self._listener: socket.socket | None = None
        self._connections: set[_Connection] = set()
        self._threads: list[threading.Thread] = []
        self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_context.load_cert_chain(str(tls.certificate_path), str(tls.private_key_path))
        self._upstream_context = ssl.create_default_context(cafile=str(tls.ca_path))

    # -- what tests use ------------------------------------------------------------------------

    @property
    def ca_path(self) -> pathlib.Path:
        """CA bundle that verifies the proxy (the same as pebble's)."""
        return self.tls.ca_path

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>``, without a trailing slash."""
        return f'https://{LOOPBACK}:{self.port}'

    @property
    def directory_url(self) -> str:
        """The ACME directory URL through the proxy."""
        return f'{self.base_url}/dir'

    def plan(self, *rules: Rule) -> None:
        """Replace the rules; counts per resource start again from zero (the log is kept)."""
        with self._lock:
            self._rules = tuple(rules)
            self._counts.clear()
            self._header_counts.clear()

    def records(self) -> list[ProxyRecord]:
        """Every request received since start, oldest first."""
        with self._lock:
            return list(self._records)

    def wait_for_requests(self, number: int, *, timeout: float = WAIT_TIMEOUT_SECONDS) -> list[ProxyRecord]:
        """Wait until ``number`` requests have arrived in all (for a client that is still waiting); return them."""
        with self._recorded:
            if not self._recorded.wait_for(lambda: len(self._records) >= number, timeout):
                raise AssertionError(f'the proxy received {len(self._records)} requests, not {number}, within {timeout:.0f} s')
            return list(self._records)

    def count(self, resource: str, *, reached_ca: bool | None = None, processed: bool | None = None) -> int:
        """How many requests for ``resource`` arrived (and, if asked, reached pebble or were processed by it)."""
        return sum(
            1
            for record in self.records()
            if record.resource == resource and (reached_ca is None or record.reached_ca == reached_ca) and (processed is None or record.processed == processed)
        )

    def faulted(self) -> list[ProxyRecord]:
        """The requests a fault was applied to."""
        return [record for record in self.records() if record.fault is not None]

    def describe(self) -> str:
        """The whole log, one request a line, for assertion messages."""
        return '\n'.join(record.line() for record in self.records())

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on a free loopback port and serve until ``stop()``."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._start_thread(self._accept_loop, listener)

    def stop(self) -> None:
        """Reset every connection, stop listening and wait for the threads. Idempotent."""
        self._stopped.set()
        self._stop_listening()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.wake()
        for thread in list(self._threads):
            thread.join(JOIN_TIMEOUT_SECONDS)

    def _start_thread(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f'fault-proxy-{self.port}')
        self._threads.append(thread)
        thread.start()

    def _stop_listening(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() leaves the LISTEN state at once, even while the accept thread still polls the socket
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                readable, _writable, _failed = select.select([listener], [], [], ACCEPT_POLL_SECONDS)
                if not readable:
                    continue
                sock, _address = listener.accept()
            except (OSError, ValueError):  # closed by stop() or by a DOWN fault
                return
            self._start_thread(self._serve, _Connection(sock))

    # -- one connection ------------------------------------------------------------------------

    def _serve(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.add(connection)
        reset = False
        try:
            if self._silent.is_set():
                self._hold(connection)
                return
            connection.sock.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            connection.sock = self._server_context.wrap_socket(connection.sock, server_side=True)
            connection.sock.settimeout(None)  # idle keep-alive connections end with the client or stop()
            connection.reader = connection.sock.makefile('rb')
            while not self._stopped.is_set():
                request = _read_request(connection.reader)
                if request is None:
                    return
                keep_open, reset = self._handle(connection, request)
                if not keep_open:
                    return
        except (OSError, ValueError, ssl.SSLError):
            return
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close(reset=reset)

    def _handle(self, connection: _Connection, request: _Request) -> tuple[bool, bool]:
        """Answer one request as the plan says; returns (keep the connection open, close it with a reset)."""
        arrived = time.time()
        resource = faults.classify(request.method, request.path)
        with self._lock:
            self._counts[resource] += 1
            occurrence = self._counts[resource]
            rules = self._rules
            fault = next((rule.fault for rule in rules if _HEADER_OF.get(rule.fault.kind) is None and rule.matches(resource, occurrence)), None)
        answer: _Answer | None = None
        if fault is None or fault.forwards:
            answer = self._forward(request)
        if fault is None and answer is not None:
            fault = self._header_fault(rules, resource, answer)
        self._record(
            ProxyRecord(
                arrived,
                request.method,
                request.path,
                resource,
                occurrence,
                fault.label if fault else None,
                answer is not None,
                answer.status if answer else None,
                _is_read(request),
            )
        )
        if fault is None:
            assert answer is not None
            self._send(connection, answer, head=request.method == 'HEAD')
            return request.header('Connection') != 'close', False
        return self._apply(connection, request, fault, answer)

    def _header_fault(self, rules: tuple[Rule, ...], resource: str, answer: _Answer) -> Fault | None:
        """The first header-removing rule that matches, counting only the answers that carry its header.

        So ``first(Fault(NO_LOCATION))`` takes the Location out of the first answer of each resource that has
        one (an account lookup refused without Location does not use it up). These rules come after the others.
        """
        with self._lock:
            for index, rule in enumerate(rules):
                header = _HEADER_OF.get(rule.fault.kind)
                if header is None or (rule.resources is not None and resource not in rule.resources):
                    continue
                if not any(name.lower() == header for name, _value in answer.headers):
                    continue
                self._header_counts[index, resource] += 1
                if rule.matches(resource, self._header_counts[index, resource]):
                    return rule.fault
        return None

    def _apply(self, connection: _Connection, request: _Request, fault: Fault, answer: _Answer | None) -> tuple[bool, bool]:
        # pylint: disable=too-many-return-statements  # one branch per kind of fault reads best
        head = request.method == 'HEAD'
        if fault.kind in (faults.RESET_BEFORE, faults.RESET_AFTER):
            return False, True
        if fault.kind == faults.DOWN:
            self._go_down(except_for=connection)
            return False, True
        if fault.kind == faults.SILENT:
            self._silent.set()
            self._hold(connection)
            return False, False
        if fault.kind == faults.STALL:
            self._hold(connection)
            return False, False
        if fault.kind == faults.STATUS:
            self._send(connection, _status_answer(fault), head=head)
            return True, False
        assert answer is not None
        if fault.kind == faults.TRUNCATE:
            self._send(connection, dataclasses.replace(answer, body=answer.body[: len(answer.body) // 2]), head=head)
            return True, False
        if fault.kind == faults.TRUNCATE_CLOSE:
            self._send(connection, answer, head=head, send_bytes=len(answer.body) // 2)
            return False, False
        replaced = {
            faults.NON_JSON: lambda: _with_body(answer, GATEWAY_PAGE, 'text/html'),
            faults.NON_PEM: lambda: _with_body(answer, NON_PEM_BODY, None),
            faults.BROKEN_PEM: lambda: _with_body(answer, BROKEN_PEM_BODY, None),
            faults.NO_NONCE: lambda: _without_header(answer, 'Replay-Nonce'),
            faults.NO_LOCATION: lambda: _without_header(answer, 'Location'),
        }[fault.kind]()
        self._send(connection, replaced, head=head)
        return True, False

    def _go_down(self, *, except_for: _Connection) -> None:
        """Refuse every connection from now on: stop listening and reset the open ones."""
        self._stop_listening()
        with self._lock:
            others = [connection for connection in self._connections if connection is not except_for]
        for connection in others:
            connection.wake()

    def _hold(self, connection: _Connection) -> None:
        """Say nothing until the client gives up or the test stops the proxy."""
        while not self._stopped.is_set():
            readable, _writable, _failed = select.select([connection.sock], [], [], HOLD_POLL_SECONDS)
            if readable:
                try:
                    if not connection.sock.recv(4096):
                        return  # the client closed its end
                except (OSError, ValueError):
                    return

    def _record(self, record: ProxyRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._recorded.notify_all()
            if self.log_path is not None:
                with self.log_path.open('a', encoding='utf-8') as log:
                    log.write(record.line() + '\n')

    # -- HTTP ----------------------------------------------------------------------------------

    def _forward(self, request: _Request) -> _Answer:
        upstream = http.client.HTTPSConnection(LOOPBACK, self.upstream_port, context=self._upstream_context, timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            upstream.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers:
                if name.lower() not in HOP_BY_HOP_HEADERS:
                    upstream.putheader(name, value)
            if request.body or request.method in ('POST', 'PUT'):
                upstream.putheader('Content-Length', str(len(request.body)))
            upstream.endheaders(request.body or None)
            response = upstream.getresponse()
            body = response.read()
            return _Answer(response.status, response.reason, response.getheaders(), body)
        finally:
            upstream.close()

    @staticmethod
    def _send(connection: _Connection, answer: _Answer, *, head: bool, send_bytes: int | None = None) -> None:
        """Write ``answer`` with a Content-Length of its body; ``send_bytes`` sends only that much of it."""
        lines = [f'HTTP/1.1 {answer.status} {answer.reason}']
        lines += [f'{name}: {value}' for name, value in answer.headers if name.lower() not in HOP_BY_HOP_HEADERS]
        lines.append(f'Content-Length: {len(answer.body)}')
        head_bytes = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
        body = b'' if head else answer.body[:send_bytes]
        connection.sock.sendall(head_bytes + body)


def _read_request(reader: BinaryIO) -> _Request | None:
    """One HTTP/1.1 request (bodies by Content-Length only, as ACME clients send them); None at the end."""
    line = reader.readline(MAX_LINE_BYTES)
    if not line.strip():
        return None
    method, path, _version = line.decode('latin-1').split(None, 2)
    headers = []
    while True:
        header_line = reader.readline(MAX_LINE_BYTES)
        if header_line in (b'\r\n', b'\n', b''):
            break
        name, _colon, value = header_line.decode('latin-1').partition(':')
        headers.append((name.strip(), value.strip()))
    request = _Request(method, path, headers, b'')
    length = int(request.header('Content-Length') or 0)
    return dataclasses.replace(request, body=reader.read(length) if length else b'')


def _is_read(request: _Request) -> bool:
    if request.method != 'POST':
        return True
    try:
        return json.loads(request.body).get('payload') == ''
    except (ValueError, AttributeError):
        return False


def _status_answer(fault: Fault) -> _Answer:
    assert fault.status_code is not None
    code = fault.status_code
    headers: list[tuple[str, str]] = []
    if fault.retry_after_seconds is not None:
        if fault.retry_after_as_date:
            moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=fault.retry_after_seconds)
            headers.append(('Retry-After', email.utils.format_datetime(moment, usegmt=True)))
        else:
            headers.append(('Retry-After', str(fault.retry_after_seconds)))
    reason = http.client.responses.get(code, 'Fault')
    if code in PROBLEM_TYPES:
        problem = {'type': PROBLEM_TYPES[code], 'detail': f'injected by the test proxy: {reason}', 'status': code}
        body = json.dumps(problem).encode('utf-8')
        headers.append(('Content-Type', 'application/problem+json'))
    else:  # what a gateway in front of the CA answers
        body = GATEWAY_PAGE
        headers.append(('Content-Type', 'text/html'))
    return _Answer(code, reason, headers, body)


def _with_body(answer: _Answer, body: bytes, content_type: str | None) -> _Answer:
    headers = (
        answer.headers
        if content_type is None
        else [*((name, value) for name, value in answer.headers if name.lower() != 'content-type'), ('Content-Type', content_type)]
    )
    return dataclasses.replace(answer, headers=list(headers), body=body)


def _without_header(answer: _Answer, header: str) -> _Answer:
    return dataclasses.replace(answer, headers=[(name, value) for name, value in answer.headers if name.lower() != header.lower()])
