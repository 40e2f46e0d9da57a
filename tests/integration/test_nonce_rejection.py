"""Issuance through a CA that rejects 90 % of all nonces: at least 19 of 20 certificates are issued.

Each rejected nonce costs one round trip (RFC 8555 section 6.5: the badNonce answer carries a fresh
one), so a client that gives up after a few tries fails most issuances here; the modules' limit is
meant to make such a CA slow, never fatal.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

from test_issuance_support import PebbleLog, unique_name, verify_chain, write_csr
from testbed.ansible import PlaybookRun
from testbed.bind9 import Bind9Server
from testbed.fixtures import PebbleFactory
from testbed.pebble import PebbleServer, PebbleSettings
from testbed.webserver import WebrootServer

PLAYBOOK = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'nonces' / 'issue_many.yml'
CERTIFICATES = 20
REJECTED_PERCENT = 90


@pytest.fixture(scope='module')
def rejecting_pebble(pebble_factory: PebbleFactory) -> PebbleServer:
    """A pebble that answers nine of ten good nonces with badNonce."""
    return pebble_factory(PebbleSettings(nonce_reject_percent=REJECTED_PERCENT), name='nonce-rejecting')


def test_nineteen_of_twenty_issuances_succeed_at_90_percent_nonce_rejection(
    rejecting_pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, run_playbook: Callable[..., PlaybookRun], tmp_path: pathlib.Path
) -> None:
    names = [unique_name(f'nonce{number}', bind9.zone) for number in range(CERTIFICATES)]
    certificates = [{'name': name, 'csr': write_csr(tmp_path / 'csr' / f'{name}.csr', [name]).read_text(encoding='ascii')} for name in names]
    log = PebbleLog(rejecting_pebble)
    run = run_playbook(
        PLAYBOOK,
        extra_vars={
            'acme_directory': rejecting_pebble.directory_url,
            'acme_ca_path': str(rejecting_pebble.ca_path),
            'state_dir': str(tmp_path / 'state'),
            'webroot': str(webroot.path),
            'certificates': certificates,
        },
    )

    issued = [result for result in run['Finalize each validated order']['results'] if not result.get('failed')]
    failures = [
        result['msg']
        for step in ('Order each certificate', 'Have the CA validate each order', 'Finalize each validated order')
        for result in run[step]['results']
        if result.get('failed')
    ]
    assert len(issued) >= CERTIFICATES - 1, failures
    for result in issued:
        verify_chain(result['fullchain'], root_pem=rejecting_pebble.root_pem(0), subject=result['validation']['order']['certificate']['name'])
    rejected = sum(result['retries']['bad_nonce'] for step in ('Order each certificate', 'Finalize each validated order') for result in run[step]['results'])
    # The retries are reported, and pebble saw every one of them.
    assert rejected > 0
    requests = sum(log.requests().values())
    assert requests > rejected
    print(
        f'\n{len(issued)} of {CERTIFICATES} issued at {REJECTED_PERCENT} % nonce rejection; '
        f'{rejected} badNonce retries in order and finalize; {requests} requests reached pebble'
    )
