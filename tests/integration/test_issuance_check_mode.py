"""Check mode of acme_order, acme_challenge and acme_finalize changes nothing at the CA or on disk.

Pebble logs every ACME request by path; a run in check mode may read (POST-as-GET to orders and
authorizations) but must not create an order, answer a challenge or finalize.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from test_issuance_support import (
    PLAYBOOKS,
    ChallengeProvisioner,
    PebbleLog,
    create_account,
    ready_order,
    unique_name,
    write_csr,
)
from testbed.ansible import PlaybookRun
from testbed.bind9 import Bind9Server
from testbed.pebble import PebbleServer
from testbed.tls_alpn import TlsAlpnResponders
from testbed.webserver import WebrootServer

CHANGING_REQUESTS = ('POST /order-plz', 'POST /chalZ/', 'POST /finalize-order/')


def test_check_mode_changes_nothing(
    pebble: PebbleServer,
    webroot: WebrootServer,
    bind9: Bind9Server,
    tls_alpn: TlsAlpnResponders,
    run_playbook: Callable[..., PlaybookRun],
    tmp_path: pathlib.Path,
) -> None:
    account = create_account(pebble, tmp_path)
    ready_name, pending_name = unique_name('ready', bind9.zone), unique_name('pending', bind9.zone)
    with ChallengeProvisioner(webroot=webroot, bind9=bind9, tls_alpn=tls_alpn) as provisioner:
        ready = ready_order(account, [ready_name], provisioner)
    pending = account.orders.create(parse_identifiers([pending_name]))
    cert_path = tmp_path / 'cert.pem'

    log = PebbleLog(pebble)
    run = run_playbook(
        PLAYBOOKS / 'check_mode.yml',
        check=True,
        extra_vars={
            'acme': account.module_defaults(),
            'new_identifiers': [unique_name('new', bind9.zone)],
            'ready_order_uri': ready.uri,
            'ready_identifiers': [ready_name],
            'pending_order_uri': pending.uri,
            'csr_path': str(write_csr(tmp_path / 'cert.csr', [ready_name])),
            'cert_path': str(cert_path),
        },
    )
    counts = log.requests()

    new_order = run['Order new identifiers']
    assert new_order['changed'] is True and new_order['order_uri'] is None
    resumed = run['Resume the ready order']
    assert resumed['changed'] is False and resumed['order_uri'] == ready.uri and resumed['order']['status'] == 'ready'
    validation = run['Validate the pending order']
    assert validation['changed'] is True
    assert validation['authorizations'] == [{'identifier': pending_name, 'status': 'pending', 'challenge': 'http-01', 'error': None}]
    deactivation = run['Deactivate the pending order\'s authorizations']
    assert deactivation['changed'] is True
    finalization = run['Finalize the ready order']
    assert finalization['changed'] is True and finalization['finalized'] is False

    assert {request: counts[request] for request in CHANGING_REQUESTS} == dict.fromkeys(CHANGING_REQUESTS, 0), counts
    assert log.orders_created() == 0
    assert account.orders.get(ready.uri).status == 'ready'
    assert account.orders.get(pending.uri).status == 'pending'
    assert [authorization.status for authorization in account.authorizations.get_all(pending.authorizations)] == ['pending']
    assert not cert_path.exists()
