"""The tls-alpn-01 responder (plugins/module_utils/tls_alpn_responder.py), in-process and as a program.

Clients here are Python's ssl; pebble's validation authority (Go) is the client in the last test
and in test_issuance_challenges.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.certforge.acme.plugins.module_utils import tls_alpn_responder
from ansible_collections.certforge.acme.plugins.module_utils._acme.challenges import tls_alpn01_certificate
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import Identifier
from ansible_collections.certforge.acme.plugins.module_utils.tls_alpn_responder import (
    ResponderError,
    TlsAlpnResponder,
    challenges_from_data,
)
from test_issuance_support import ChallengeProvisioner, challenge_choice, create_account, ready_order
from testbed.bind9 import Bind9Server
from testbed.pebble import PebbleServer
from testbed.ports import LOOPBACK, free_port
from testbed.tls_alpn import TlsAlpnResponders
from testbed.webserver import WebrootServer

NAME = 'alpn.acme.test'
OTHER_NAME = 'other.acme.test'
RESPONDER_SOURCE = pathlib.Path(tls_alpn_responder.__file__).resolve()
# The responder must run on a bare Python; the system one has no Ansible in its path.
BARE_PYTHON = shutil.which('python3', path='/usr/bin:/bin') or sys.executable
PROGRAM_WAIT_SECONDS = 10.0


def _challenge_data(identifier: Identifier, resource: str) -> dict[str, dict[str, str]]:
    """acme_order's ``challenge_data`` entry for ``identifier`` with only tls-alpn-01 in it."""
    certificate, private_key = tls_alpn01_certificate(identifier, 'token.thumbprint')
    return {identifier.value: {'tls-alpn-01': {'resource': resource, 'certificate': certificate.decode('ascii'), 'private_key': private_key.decode('ascii')}}}


def _handshake(port: int, server_name: str | None, alpn: list[str] | None = None) -> ssl.SSLSocket:
    """A TLS client like a CA's: no certificate verification, ALPN ``acme-tls/1`` unless told otherwise."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(alpn if alpn is not None else ['acme-tls/1'])
    connection = socket.create_connection((LOOPBACK, port), timeout=5)
    try:
        return context.wrap_socket(connection, server_hostname=server_name)
    except BaseException:
        connection.close()
        raise


def _der(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.encode('ascii')).public_bytes(serialization.Encoding.DER)


@pytest.fixture
def served() -> Iterator[tuple[TlsAlpnResponder, dict[str, dict[str, dict[str, str]]]]]:
    """A responder on a free port for NAME and for 192.0.2.7 (by its reverse-mapping name)."""
    data = {
        **_challenge_data(Identifier('dns', NAME), NAME),
        **_challenge_data(Identifier('ip', '192.0.2.7'), '7.2.0.192.in-addr.arpa'),
    }
    with TlsAlpnResponder(challenges_from_data(data), host=LOOPBACK, port=0) as responder:
        yield responder, data


def test_presents_the_challenge_certificate_of_the_sni_name_with_acme_tls_1(served) -> None:
    responder, data = served
    for identifier, server_name in ((NAME, NAME), ('192.0.2.7', '7.2.0.192.in-addr.arpa'), (NAME, NAME.upper() + '.')):
        with _handshake(responder.port, server_name) as tls:
            assert tls.selected_alpn_protocol() == 'acme-tls/1'
            assert tls.getpeercert(binary_form=True) == _der(data[identifier]['tls-alpn-01']['certificate'])
            # Nothing follows the handshake: the responder closes the connection (RFC 8737, section 3).
            assert tls.recv(1) == b''
    assert responder.handshakes == 3


@pytest.mark.parametrize('server_name', [OTHER_NAME, None], ids=['unknown name', 'no SNI'])
def test_refuses_other_names_with_an_alert(served, server_name: str | None) -> None:
    responder, _data = served
    with pytest.raises(ssl.SSLError, match='UNRECOGNIZED_NAME'):
        _handshake(responder.port, server_name).close()
    assert responder.handshakes == 0


def test_negotiates_no_protocol_but_acme_tls_1(served) -> None:
    responder, _data = served
    with _handshake(responder.port, NAME, alpn=['h2', 'http/1.1']) as tls:
        assert tls.selected_alpn_protocol() is None


def test_key_files_live_in_a_private_directory_only_while_loading(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setattr(tls_alpn_responder.tempfile, 'tempdir', str(tmp_path))
    seen: dict[str, int] = {}
    real_rmtree = shutil.rmtree

    def recording_rmtree(path: str, **kwargs) -> None:
        seen[path] = stat.S_IMODE(os.stat(path).st_mode)
        seen.update({entry.name: stat.S_IMODE(entry.stat().st_mode) for entry in os.scandir(path)})
        real_rmtree(path, **kwargs)

    monkeypatch.setattr(tls_alpn_responder.shutil, 'rmtree', recording_rmtree)
    challenges = challenges_from_data(_challenge_data(Identifier('dns', NAME), NAME))
    with TlsAlpnResponder(challenges, host=LOOPBACK, port=0) as responder:
        assert not list(tmp_path.iterdir()), 'certificate and key files outlived loading them'
        with _handshake(responder.port, NAME) as tls:
            assert tls.selected_alpn_protocol() == 'acme-tls/1'
    directory = next(path for path in seen if path.startswith(str(tmp_path)))
    assert seen == {directory: 0o700, '0.crt': 0o600, '0.key': 0o600}


def test_rejects_unusable_input() -> None:
    with pytest.raises(ResponderError, match='no tls-alpn-01 challenges'):
        challenges_from_data({NAME: {'http-01': {'resource': '.well-known/acme-challenge/x', 'resource_value': 'x.y'}}})
    with pytest.raises(ResponderError, match='needs resource, certificate and private_key'):
        challenges_from_data([{'resource': NAME}])
    broken = challenges_from_data([{'resource': NAME, 'certificate': 'not PEM', 'private_key': 'not PEM'}])
    with pytest.raises(ResponderError, match=f'for {NAME} cannot be used'):
        TlsAlpnResponder(broken, host=LOOPBACK, port=0).start()


def _start_program(tmp_path: pathlib.Path, *, timeout: float) -> tuple[subprocess.Popen[str], int, pathlib.Path, dict]:
    data = _challenge_data(Identifier('dns', NAME), NAME)
    challenges_path = tmp_path / 'challenges.json'
    challenges_path.write_text(json.dumps(data), encoding='utf-8')
    pid_path = tmp_path / 'responder.pid'
    port = free_port()
    program = subprocess.Popen(  # pylint: disable=consider-using-with  # ends within the test
        [
            BARE_PYTHON,
            '-I',
            str(RESPONDER_SOURCE),
            '--listen',
            f'{LOOPBACK}:{port}',
            '--challenges',
            str(challenges_path),
            '--pid-file',
            str(pid_path),
            '--timeout',
            str(timeout),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert program.stdout is not None
    line = program.stdout.readline()
    assert line.strip() == f'tls_alpn_responder: listening on {LOOPBACK}:{port} for {NAME}', program.stderr.read()
    return program, port, pid_path, data


def test_program_serves_until_its_timeout_then_exits(tmp_path: pathlib.Path) -> None:
    started = time.monotonic()
    program, port, pid_path, data = _start_program(tmp_path, timeout=2)
    try:
        assert pid_path.read_text(encoding='ascii').strip() == str(program.pid)
        with _handshake(port, NAME) as tls:
            assert tls.getpeercert(binary_form=True) == _der(data[NAME]['tls-alpn-01']['certificate'])
        assert program.wait(PROGRAM_WAIT_SECONDS) == 0
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()
    assert time.monotonic() - started >= 2
    assert not pid_path.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((LOOPBACK, port), timeout=5).close()


def test_program_stops_at_sigterm(tmp_path: pathlib.Path) -> None:
    program, _port, pid_path, _data = _start_program(tmp_path, timeout=60)
    try:
        program.send_signal(signal.SIGTERM)
        assert program.wait(PROGRAM_WAIT_SECONDS) == 0
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()
    assert not pid_path.exists()


def test_program_reports_bad_input(tmp_path: pathlib.Path) -> None:
    challenges_path = tmp_path / 'challenges.json'
    challenges_path.write_text('{}', encoding='utf-8')
    completed = subprocess.run(
        [BARE_PYTHON, '-I', str(RESPONDER_SOURCE), '--listen', f'{LOOPBACK}:{free_port()}', '--challenges', str(challenges_path)],
        capture_output=True,
        text=True,
        timeout=PROGRAM_WAIT_SECONDS,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr.strip() == 'tls_alpn_responder: no tls-alpn-01 challenges to serve'
    completed = subprocess.run(
        [BARE_PYTHON, '-I', str(RESPONDER_SOURCE), '--listen', 'no-port', '--challenges', str(challenges_path)],
        capture_output=True,
        text=True,
        timeout=PROGRAM_WAIT_SECONDS,
        check=False,
    )
    assert completed.returncode == 2
    assert "argument --listen: --listen must be HOST:PORT (for example 0.0.0.0:443 or [::]:443), not 'no-port'" in completed.stderr


def test_pebble_validates_an_ip_address_through_the_responder(
    pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, tls_alpn: TlsAlpnResponders, tmp_path: pathlib.Path
) -> None:
    # A new account, so that no earlier authorization of 127.0.0.1 is reused.
    account = create_account(pebble, tmp_path)
    with ChallengeProvisioner(webroot=webroot, bind9=bind9, tls_alpn=tls_alpn) as provisioner:
        order = ready_order(account, ['127.0.0.1'], provisioner, challenge_choice('tls-alpn-01'))
        assert tls_alpn.current is not None and tls_alpn.current.handshakes > 0
    assert order.status == 'ready'
