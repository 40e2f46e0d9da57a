"""Certificate chains: alternate chains chosen with select_chain, and long chains returned whole.

The order is made ready with the core; acme_finalize runs as a module and the chains it writes
are verified with cryptography's X.509 path validation up to the roots pebble serves.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.verification import VerificationError

from test_issuance_support import (
    PLAYBOOKS,
    ChallengeProvisioner,
    TestAccount,
    common_name,
    create_account,
    ready_order,
    unique_name,
    verify_chain,
    write_csr,
)
from testbed.ansible import PlaybookRun
from testbed.bind9 import Bind9Server
from testbed.fixtures import PebbleFactory
from testbed.pebble import PebbleServer, PebbleSettings
from testbed.tls_alpn import TlsAlpnResponders
from testbed.webserver import WebrootServer


def _fetch(
    run_playbook: Callable[..., PlaybookRun], account: TestAccount, order_uri: str, csr_path: pathlib.Path, fetches: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run acme_finalize once per entry of ``fetches``; return the results in order."""
    run = run_playbook(
        PLAYBOOKS / 'fetch_chains.yml', extra_vars={'acme': account.module_defaults(), 'order_uri': order_uri, 'csr_path': str(csr_path), 'fetches': fetches}
    )
    results: list[dict[str, Any]] = run['Finalize and fetch']['results']
    return results


def _ready(
    pebble: PebbleServer, work_dir: pathlib.Path, zone: str, *, webroot: WebrootServer, bind9: Bind9Server, tls_alpn: TlsAlpnResponders
) -> tuple[TestAccount, str, str, pathlib.Path]:
    """A new account at ``pebble`` with a ready order for one new name: (account, name, order_uri, csr_path)."""
    account = create_account(pebble, work_dir)
    name = unique_name('chain', zone)
    with ChallengeProvisioner(webroot=webroot, bind9=bind9, tls_alpn=tls_alpn) as provisioner:
        order = ready_order(account, [name], provisioner)
    return account, name, order.uri, write_csr(work_dir / 'cert.csr', [name])


def test_select_chain_picks_the_alternate_root_and_falls_back_to_the_default(
    pebble_factory: PebbleFactory,
    webroot: WebrootServer,
    bind9: Bind9Server,
    tls_alpn: TlsAlpnResponders,
    run_playbook: Callable[..., PlaybookRun],
    tmp_path: pathlib.Path,
) -> None:
    pebble = pebble_factory(PebbleSettings(alternate_roots=1), name='alternate-roots')
    default_root, alternate_root = pebble.root_pems()
    alternate_root_certificate = x509.load_pem_x509_certificate(alternate_root.encode('ascii'))
    alternate_key_id = alternate_root_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    account, name, order_uri, csr_path = _ready(pebble, tmp_path, bind9.zone, webroot=webroot, bind9=bind9, tls_alpn=tls_alpn)

    by_name, unmatched, by_key_id = _fetch(
        run_playbook,
        account,
        order_uri,
        csr_path,
        [
            {
                'name': 'alternate by name',
                'fullchain_dest': str(tmp_path / 'by-name.pem'),
                'select_chain': [{'issuer_common_name': common_name(alternate_root)}],
            },
            {
                'name': 'no criterion matches',
                'fullchain_dest': str(tmp_path / 'unmatched.pem'),
                'select_chain': [{'issuer_common_name': 'No Such Root'}, {'root_subject': 'CN=No Such Root,O=Nowhere'}],
            },
            # The first criterion that any chain matches wins.
            {
                'name': 'alternate by key id',
                'fullchain_dest': str(tmp_path / 'by-key-id.pem'),
                'select_chain': [{'issuer_common_name': 'No Such Root'}, {'subject_key_identifier': alternate_key_id.hex(':').upper()}],
            },
        ],
    )

    assert by_name['finalized'] is True
    assert unmatched['finalized'] is False and by_key_id['finalized'] is False
    for result in (by_name, unmatched, by_key_id):
        assert result['chains_offered'] == 2
    assert by_name['selected_chain'] == 1 and by_key_id['selected_chain'] == 1
    assert unmatched['selected_chain'] == 0
    # One certificate, two ways up to a root.
    assert by_name['cert'] == unmatched['cert'] == by_key_id['cert']
    assert by_name['fullchain'] == by_key_id['fullchain'] != unmatched['fullchain']

    alternate_chain = (tmp_path / 'by-name.pem').read_text(encoding='ascii')
    default_chain = (tmp_path / 'unmatched.pem').read_text(encoding='ascii')
    assert verify_chain(alternate_chain, root_pem=alternate_root, subject=name)[-1] == alternate_root_certificate
    with pytest.raises(VerificationError):
        verify_chain(alternate_chain, root_pem=default_root, subject=name)
    verify_chain(default_chain, root_pem=default_root, subject=name)
    with pytest.raises(VerificationError):
        verify_chain(default_chain, root_pem=alternate_root, subject=name)


def test_long_chain_is_returned_and_written_whole(
    pebble_factory: PebbleFactory,
    webroot: WebrootServer,
    bind9: Bind9Server,
    tls_alpn: TlsAlpnResponders,
    run_playbook: Callable[..., PlaybookRun],
    tmp_path: pathlib.Path,
) -> None:
    pebble = pebble_factory(PebbleSettings(chain_length=3), name='long-chain')
    account, name, order_uri, csr_path = _ready(pebble, tmp_path, bind9.zone, webroot=webroot, bind9=bind9, tls_alpn=tls_alpn)

    [result] = _fetch(
        run_playbook,
        account,
        order_uri,
        csr_path,
        [
            {
                'name': 'all files',
                'dest': str(tmp_path / 'cert.pem'),
                'chain_dest': str(tmp_path / 'chain.pem'),
                'fullchain_dest': str(tmp_path / 'fullchain.pem'),
            }
        ],
    )

    intermediates = x509.load_pem_x509_certificates(result['chain'].encode('ascii'))
    assert len(intermediates) == 3
    fullchain = x509.load_pem_x509_certificates(result['fullchain'].encode('ascii'))
    assert len(fullchain) == 4
    # Leaf first, each certificate followed by its issuer.
    assert [certificate.issuer for certificate in fullchain[:-1]] == [certificate.subject for certificate in fullchain[1:]]
    assert (tmp_path / 'cert.pem').read_text(encoding='ascii') == result['cert']
    assert (tmp_path / 'chain.pem').read_text(encoding='ascii') == result['chain']
    assert (tmp_path / 'fullchain.pem').read_text(encoding='ascii') == result['fullchain'] == result['cert'] + result['chain']
    verified = verify_chain(result['fullchain'], root_pem=pebble.root_pem(0), subject=name)
    assert len(verified) == 5
