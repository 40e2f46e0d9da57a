"""The fault-injecting proxy itself, against pebble: each fault does what it says and the log counts right.

The client here is plain ``requests`` and raw sockets (and one signed POST), not the collection, so
these tests hold whatever the collection's retries do. The pebble behind the proxy rejects no good
nonce, so that every signed POST is processed and the log is the same on every run.
"""

from __future__ import annotations

import email.utils
import json
import os
import pathlib
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import SigningKey, sign_jws
from testbed import faults
from testbed.fault_proxy import FaultProxy
from testbed.faults import Fault, Rule
from testbed.https import loopback_session
from testbed.fixtures import PebbleFactory
from testbed.pebble import PebbleServer, PebbleSettings

CLIENT_TIMEOUT_SECONDS = 10.0
GIVE_UP_SECONDS = 0.5  # how long the client waits for a stalled answer before it gives up; no assertion depends on it


@pytest.fixture(scope='module')
def steady_pebble(pebble_factory: PebbleFactory) -> PebbleServer:
    """A pebble that accepts every good nonce."""
    return pebble_factory(PebbleSettings(nonce_reject_percent=0), name='pebble-steady')


@pytest.fixture
def fault_proxy(steady_pebble: PebbleServer, tmp_path: pathlib.Path) -> Iterator[FaultProxy]:
    """The proxy in front of ``steady_pebble`` (the session's pebble rejects 5 % of good nonces)."""
    proxy = FaultProxy(upstream_port=steady_pebble.listen_port, tls=steady_pebble.tls, log_path=tmp_path / 'fault-proxy.log')
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def _get(proxy: FaultProxy, path: str = '/dir', *, method: str = 'GET', timeout: float = CLIENT_TIMEOUT_SECONDS) -> requests.Response:
    with loopback_session(proxy.ca_path) as session:
        return session.request(method, f'{proxy.base_url}{path}', timeout=timeout)


def _new_account(proxy: FaultProxy) -> requests.Response:
    """A signed newAccount POST through the proxy (the nonce too comes through it)."""
    with loopback_session(proxy.ca_path) as session:
        directory = session.get(proxy.directory_url, timeout=CLIENT_TIMEOUT_SECONDS).json()
        nonce = session.head(directory['newNonce'], timeout=CLIENT_TIMEOUT_SECONDS).headers['Replay-Nonce']
        key = SigningKey(ec.generate_private_key(ec.SECP256R1()))
        jws = sign_jws(key=key, url=directory['newAccount'], payload={'termsOfServiceAgreed': True}, nonce=nonce)
        return session.post(directory['newAccount'], data=json.dumps(jws), headers={'Content-Type': 'application/jose+json'}, timeout=CLIENT_TIMEOUT_SECONDS)


def _raw_exchange(proxy: FaultProxy, request: bytes = b'GET /dir HTTP/1.1\r\nHost: x\r\n\r\n') -> ssl.SSLSocket:
    """A TLS connection to the proxy that has sent ``request``."""
    context = ssl.create_default_context(cafile=str(proxy.ca_path))
    raw = socket.create_connection(('127.0.0.1', proxy.port), timeout=CLIENT_TIMEOUT_SECONDS)
    connection = context.wrap_socket(raw, server_hostname='127.0.0.1')
    connection.sendall(request)
    return connection


def _ends_with_reset(connection: ssl.SSLSocket) -> bool:
    """Read the raw TCP stream to its end: True if it ends with a reset (RST), False for an orderly close (FIN).

    Python's TLS layer reports a reset after TLS 1.3 session tickets as a plain end, so read beneath it.
    """
    raw = socket.socket(fileno=os.dup(connection.fileno()))
    raw.settimeout(CLIENT_TIMEOUT_SECONDS)
    try:
        while raw.recv(65536):
            pass
    except ConnectionResetError:
        return True
    finally:
        raw.close()
        connection.close()
    return False


def _resources(proxy: FaultProxy) -> list[tuple[str, int, str | None, bool, Any]]:
    return [(record.resource, record.occurrence, record.fault, record.reached_ca, record.ca_status) for record in proxy.records()]


@pytest.mark.parametrize(
    ('method', 'path', 'resource'),
    [
        ('GET', '/dir', 'directory'),
        ('HEAD', '/nonce-plz', 'newNonce'),
        ('GET', '/nonce-plz', 'newNonce'),
        ('POST', '/sign-me-up', 'newAccount'),
        ('POST', '/my-account/1', 'account'),
        ('POST', '/list-orderz/1', 'orders'),
        ('POST', '/order-plz', 'newOrder'),
        ('POST', '/my-order/abc', 'order'),
        ('POST', '/authZ/abc', 'authz'),
        ('POST', '/chalZ/abc', 'challenge'),
        ('POST', '/finalize-order/abc', 'finalize'),
        ('POST', '/certZ/abc', 'certificate'),
        ('POST', '/certZ/abc/1', 'certificate'),
        ('POST', '/revoke-cert', 'revoke'),
        ('POST', '/rollover-account-key', 'keyChange'),
        ('GET', '/certZ/abc', 'other'),
        ('GET', '/favicon.ico', 'other'),
    ],
)
def test_requests_are_classified_by_resource_as_pebble_lays_them_out(method: str, path: str, resource: str) -> None:
    assert faults.classify(method, path) == resource


def test_rules_count_occurrences_per_resource() -> None:
    second_finalize = Rule(Fault(faults.RESET_BEFORE), frozenset({'finalize'}), frozenset({2}))
    assert [second_finalize.matches('finalize', n) for n in (1, 2, 3)] == [False, True, False]
    assert not second_finalize.matches('order', 2)
    assert faults.first(Fault(faults.STALL)).matches('order', 1) and not faults.first(Fault(faults.STALL)).matches('order', 2)
    assert all(faults.always(Fault(faults.STALL), ['order']).matches('order', n) for n in (1, 5))
    with pytest.raises(ValueError, match='unknown resources'):
        faults.first(Fault(faults.STALL), ['orderz'])


def test_without_a_plan_the_proxy_passes_everything_and_pebble_builds_its_urls_for_the_proxy(fault_proxy: FaultProxy, steady_pebble: PebbleServer) -> None:
    directory = _get(fault_proxy).json()
    assert directory['newOrder'] == f'{fault_proxy.base_url}/order-plz'
    created = _new_account(fault_proxy)
    # pebble accepted the JWS signed for the proxy's URL, and answers with the proxy's URLs
    assert created.status_code == 201, created.text
    assert created.headers['Location'].startswith(f'{fault_proxy.base_url}/my-account/')
    assert created.headers['Replay-Nonce']
    assert _resources(fault_proxy) == [
        ('directory', 1, None, True, 200),
        ('directory', 2, None, True, 200),
        ('newNonce', 1, None, True, 200),
        ('newAccount', 1, None, True, 201),
    ]
    assert fault_proxy.count('newAccount', processed=True) == 1
    assert [record.is_read for record in fault_proxy.records()] == [True, True, True, False]
    assert steady_pebble.directory_url != fault_proxy.directory_url


@pytest.mark.parametrize(
    'fault',
    [
        Fault.status(503, retry_after=7),
        Fault.status(503, retry_after=30, as_date=True),
        Fault.rate_limited(retry_after=3),
        Fault.status(500),
        Fault.status(502),
        Fault.status(504),
    ],
    ids=lambda fault: fault.label,
)
def test_status_faults_answer_instead_of_the_ca_once(fault_proxy: FaultProxy, fault: Fault) -> None:
    fault_proxy.plan(faults.first(fault, ['directory']))
    faulted, passed = _get(fault_proxy), _get(fault_proxy)
    assert faulted.status_code == fault.status_code
    retry_after = faulted.headers.get('Retry-After')
    if fault.retry_after_seconds is None:
        assert retry_after is None
    elif fault.retry_after_as_date:
        assert email.utils.parsedate_to_datetime(retry_after).tzinfo is not None
    else:
        assert retry_after == str(fault.retry_after_seconds)
    if fault.status_code in (429, 500):
        assert faulted.headers['Content-Type'] == 'application/problem+json'
        expected = 'rateLimited' if fault.status_code == 429 else 'serverInternal'
        assert faulted.json()['type'] == f'urn:ietf:params:acme:error:{expected}'
    else:
        assert faulted.headers['Content-Type'] == 'text/html'
    assert passed.status_code == 200 and 'newOrder' in passed.json()
    assert _resources(fault_proxy) == [('directory', 1, fault.label, False, None), ('directory', 2, None, True, 200)]


def test_reset_before_forwarding_is_a_tcp_reset_and_never_reaches_the_ca(fault_proxy: FaultProxy) -> None:
    fault_proxy.plan(faults.first(Fault(faults.RESET_BEFORE), ['directory']))
    assert _ends_with_reset(_raw_exchange(fault_proxy))
    assert _resources(fault_proxy) == [('directory', 1, 'reset-before', False, None)]


def test_reset_after_processing_loses_the_answer_of_a_request_the_ca_processed(fault_proxy: FaultProxy) -> None:
    fault_proxy.plan(faults.first(Fault(faults.RESET_AFTER), ['newAccount']))
    with pytest.raises(requests.ConnectionError):
        _new_account(fault_proxy)
    assert fault_proxy.count('newAccount', processed=True) == 1
    fault_proxy.plan(faults.first(Fault(faults.RESET_AFTER), ['directory']))
    assert _ends_with_reset(_raw_exchange(fault_proxy))
    assert _resources(fault_proxy)[-2:] == [('newAccount', 1, 'reset-after', True, 201), ('directory', 1, 'reset-after', True, 200)]


def test_a_stall_holds_the_request_until_the_client_gives_up_and_never_outlives_the_proxy(fault_proxy: FaultProxy) -> None:
    fault_proxy.plan(faults.always(Fault(faults.STALL), ['directory']))
    with pytest.raises(requests.exceptions.ReadTimeout):
        _get(fault_proxy, timeout=GIVE_UP_SECONDS)
    # A client that never gives up is let go when the proxy stops.
    patient = _raw_exchange(fault_proxy)
    fault_proxy.wait_for_requests(2)
    fault_proxy.stop()
    assert _ends_with_reset(patient)
    assert [record.reached_ca for record in fault_proxy.records()] == [False, False]
    assert not _proxy_threads_alive(fault_proxy)


def _proxy_threads_alive(proxy: FaultProxy) -> list[str]:
    return [thread.name for thread in proxy._threads if thread.is_alive()]  # pylint: disable=protected-access


def test_truncated_body_with_a_consistent_content_length(fault_proxy: FaultProxy) -> None:
    whole = _get(fault_proxy).content
    fault_proxy.plan(faults.first(Fault(faults.TRUNCATE), ['directory']))
    truncated = _get(fault_proxy)
    assert truncated.status_code == 200
    assert truncated.content == whole[: len(whole) // 2]
    assert truncated.headers['Content-Length'] == str(len(whole) // 2)
    assert fault_proxy.records()[-1].reached_ca


def test_truncated_body_after_the_original_content_length_then_close(fault_proxy: FaultProxy) -> None:
    fault_proxy.plan(faults.always(Fault(faults.TRUNCATE_CLOSE), ['directory']))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        _get(fault_proxy)
    assert not _ends_with_reset(_raw_exchange(fault_proxy))  # an orderly close, in the middle of the body
    assert _resources(fault_proxy) == [('directory', 1, 'truncate-close', True, 200), ('directory', 2, 'truncate-close', True, 200)]


@pytest.mark.parametrize(
    ('kind', 'content_type', 'body'),
    [
        (faults.NON_JSON, 'text/html', b'<html>'),
        (faults.NON_PEM, 'application/json', b'This is not a certificate'),
        (faults.BROKEN_PEM, 'application/json', b'-----BEGIN CERTIFICATE-----\n'),
    ],
)
def test_replaced_bodies_keep_the_status(fault_proxy: FaultProxy, kind: str, content_type: str, body: bytes) -> None:
    fault_proxy.plan(faults.first(Fault(kind), ['directory']))
    answer = _get(fault_proxy)
    assert answer.status_code == 200
    assert answer.headers['Content-Type'].startswith(content_type)
    assert answer.content.startswith(body)
    assert 'newOrder' not in answer.text


def test_missing_replay_nonce_and_location(fault_proxy: FaultProxy) -> None:
    fault_proxy.plan(faults.first(Fault(faults.NO_NONCE), ['newNonce']), faults.first(Fault(faults.NO_LOCATION), ['newAccount']))
    assert 'Replay-Nonce' not in _get(fault_proxy, '/nonce-plz', method='HEAD').headers
    created = _new_account(fault_proxy)  # its nonce comes from the second newNonce, which passes
    assert created.status_code == 201 and 'Location' not in created.headers and created.headers['Replay-Nonce']
    assert [record.fault for record in fault_proxy.records()] == ['no-nonce', None, None, 'no-location']


def test_removing_a_header_applies_to_the_first_answer_that_has_it(fault_proxy: FaultProxy) -> None:
    # Directory and nonce answers have no Location: they neither count as faulted nor use the rule up.
    fault_proxy.plan(faults.first(Fault(faults.NO_LOCATION)))
    assert _get(fault_proxy).status_code == 200
    created = _new_account(fault_proxy)
    assert created.status_code == 201 and 'Location' not in created.headers
    assert [(record.resource, record.fault) for record in fault_proxy.records()] == [
        ('directory', None),
        ('directory', None),
        ('newNonce', None),
        ('newAccount', 'no-location'),
    ]


def test_a_ca_that_goes_down_resets_the_request_and_refuses_every_later_connection(fault_proxy: FaultProxy) -> None:
    idle = _raw_exchange(fault_proxy)  # an open keep-alive connection is lost too
    assert idle.recv(4096).startswith(b'HTTP/1.1 200')
    fault_proxy.plan(faults.first(Fault(faults.DOWN), ['newNonce']))
    with pytest.raises(requests.ConnectionError):
        _get(fault_proxy, '/nonce-plz', method='HEAD')
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(('127.0.0.1', fault_proxy.port), timeout=CLIENT_TIMEOUT_SECONDS)
    assert _ends_with_reset(idle)
    assert [record.fault for record in fault_proxy.records()] == [None, 'down']


def test_a_silent_ca_accepts_connections_and_never_answers(fault_proxy: FaultProxy) -> None:
    fault_proxy.plan(faults.first(Fault(faults.SILENT), ['directory']))
    with pytest.raises(requests.exceptions.ReadTimeout):
        _get(fault_proxy, timeout=GIVE_UP_SECONDS)
    # Later connections are accepted, but not even the TLS handshake is answered.
    with socket.create_connection(('127.0.0.1', fault_proxy.port), timeout=GIVE_UP_SECONDS) as raw:
        context = ssl.create_default_context(cafile=str(fault_proxy.ca_path))
        with pytest.raises(TimeoutError):
            context.wrap_socket(raw, server_hostname='127.0.0.1')
    fault_proxy.stop()
    assert not _proxy_threads_alive(fault_proxy)
    assert _resources(fault_proxy) == [('directory', 1, 'silent', False, None)]
