"""What must hold on any RFC 8555 CA: each scenario runs on pebble and on acme2certifier (``acme_ca``).

A failed validation ends the wait at once with the CA's reason, whether the CA marks the order
invalid (pebble) or leaves it pending (acme2certifier); the rerun after the fix orders anew and
succeeds; an order the CA does not know is replaced; an order_uri_file that holds no https:// URL
is refused before anything is signed. Bare 404/410 answers need the fault proxy (pebble only).
"""

from __future__ import annotations

import pathlib
import secrets
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from test_issuance_support import ChallengeProvisioner, TestAccount, create_account, ready_order, subject_alternative_names, write_csr
from testbed import faults
from testbed.acme_ca import AcmeCA
from testbed.ansible import PlaybookRun
from testbed.fault_proxy import FaultProxy
from testbed.faults import Fault
from testbed.tls_alpn import TlsAlpnResponders

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'any_ca'
RunPlaybook = Callable[..., PlaybookRun]


@pytest.fixture(scope='module')
def account(acme_ca: AcmeCA, tmp_path_factory: pytest.TempPathFactory) -> TestAccount:
    """An account of this file's own at the CA of this module run."""
    return create_account(acme_ca, tmp_path_factory.mktemp(f'any-ca-{acme_ca.name}'))


def test_a_failed_validation_ends_the_wait_and_the_rerun_after_the_fix_succeeds(
    acme_ca: AcmeCA, account: TestAccount, run_playbook: RunPlaybook, tmp_path: pathlib.Path
) -> None:
    name = acme_ca.unique_name('fixed')
    order_file = tmp_path / 'orders' / 'web1-www.uri'
    fullchain_path = tmp_path / 'fullchain.pem'
    run = run_playbook(
        PLAYBOOKS / 'failed_then_fixed.yml',
        extra_vars={
            'acme': account.module_defaults(),
            'identifier': name,
            'webroot': str(acme_ca.webroot.path),
            'order_file': str(order_file),
            'csr_path': str(write_csr(tmp_path / 'www.csr', [name])),
            'fullchain_path': str(fullchain_path),
        },
    )

    assert run.outcome('Let the CA validate with nothing served').failed
    failed = run['Let the CA validate with nothing served']
    # ended by the CA's decision, naming the name and a reason, not by the 300 s timeout
    assert failed['msg'].startswith('validation failed for 1 of 1 identifiers'), failed['msg']
    assert f'{name} (http-01): ' in failed['msg']
    [result] = failed['authorizations']
    assert result['identifier'] == name and result['error']

    first, second = run['Order'], run['Order again after the fix']
    assert second['changed'] is True and second['order_uri'] != first['order_uri']
    assert first['order_uri'] in second['new_order_reason']
    assert first['new_order_reason'] is None
    assert subject_alternative_names(fullchain_path.read_text(encoding='ascii')) == [name]
    assert not order_file.exists()


def test_an_order_the_ca_does_not_know_is_replaced_by_a_new_one(
    acme_ca: AcmeCA, account: TestAccount, run_playbook: RunPlaybook, tmp_path: pathlib.Path
) -> None:
    name = acme_ca.unique_name('reset')
    real_order = account.orders.create(parse_identifiers([name]))
    unknown = real_order.uri.rstrip('/').rsplit('/', 1)[0] + '/' + secrets.token_urlsafe(16)
    order_file = tmp_path / 'www.uri'
    order_file.write_text(f'{unknown}\n', encoding='utf-8')

    run = run_playbook(PLAYBOOKS / 'order_on_record.yml', extra_vars={'acme': account.module_defaults(), 'identifiers': [name], 'order_file': str(order_file)})

    placed = run['Order']
    assert placed['changed'] is True and placed['order_uri'] not in (unknown, None)
    assert placed['new_order_reason'].startswith(f'the CA does not know the order {unknown}'), placed['new_order_reason']
    assert order_file.read_text(encoding='utf-8').splitlines()[0] == placed['order_uri']


def test_an_order_uri_file_without_an_https_url_is_refused_before_anything_is_signed(
    acme_ca: AcmeCA, account: TestAccount, run_playbook: RunPlaybook, tmp_path: pathlib.Path
) -> None:
    order_file = tmp_path / 'www.uri'
    order_file.write_text('http://acme.invalid/order/1\n', encoding='utf-8')
    run = run_playbook(
        PLAYBOOKS / 'order_on_record.yml',
        expect_failure=True,
        extra_vars={'acme': account.module_defaults(), 'identifiers': [acme_ca.unique_name('plain')], 'order_file': str(order_file)},
    )
    message = run['Order']['msg']
    assert message.startswith('order_uri_file: ') and 'https://' in message and '\n' not in message


@pytest.mark.parametrize('status', [404, 410])
def test_an_order_answered_with_a_bare_404_or_410_is_replaced(status: int, fault_proxy: FaultProxy, run_playbook: RunPlaybook, tmp_path: pathlib.Path) -> None:
    account = create_account(fault_proxy, tmp_path / 'account')
    name = f'gone-{secrets.token_hex(4)}.example.test'
    old_order = account.orders.create(parse_identifiers([name]))
    order_file = tmp_path / 'www.uri'
    order_file.write_text(f'{old_order.uri}\n', encoding='utf-8')
    # the CA's gateway answers the old order with a bare page, as after a reset of the CA
    fault_proxy.plan(faults.Rule(Fault.status(status), frozenset({'order'}), occurrences=None))

    run = run_playbook(PLAYBOOKS / 'order_on_record.yml', extra_vars={'acme': account.module_defaults(), 'identifiers': [name], 'order_file': str(order_file)})

    placed = run['Order']
    assert placed['order_uri'] != old_order.uri
    assert placed['new_order_reason'] == f'the CA does not know the order {old_order.uri} (HTTP {status})'


def test_a_key_rollover_rerun_with_the_old_key_and_account_uri_changes_nothing(acme_ca: AcmeCA, run_playbook: RunPlaybook, tmp_path: pathlib.Path) -> None:
    own = create_account(acme_ca, tmp_path / 'account')  # its key changes: not the module's shared account
    run = run_playbook(PLAYBOOKS / 'rollover_rerun.yml', extra_vars={'acme': own.module_defaults(), 'new_key_path': str(tmp_path / 'account-new.key')})

    assert run.changed_tasks == ['Create the new account key', 'Change the account key']
    assert run['Change the account key again, as a rerun does']['account_uri'] == own.uri


@pytest.mark.acme_ca_needs('profiles')
def test_an_order_on_record_asked_with_another_profile_is_not_resumed(
    acme_ca: AcmeCA, account: TestAccount, run_playbook: RunPlaybook, tmp_path: pathlib.Path
) -> None:
    order_file = tmp_path / 'orders' / 'web1-www.uri'
    run = run_playbook(
        PLAYBOOKS / 'profile_change.yml',
        extra_vars={
            'acme': account.module_defaults(),
            'identifiers': [acme_ca.unique_name('profile')],
            'order_file': str(order_file),
            'first_profile': 'classic',
            'second_profile': 'shortlived',
        },
    )

    first, again, other = run['Order with the first profile'], run['Order again with the first profile'], run['Order with the second profile']
    assert again['changed'] is False and again['order_uri'] == first['order_uri']
    assert other['changed'] is True and other['order_uri'] != first['order_uri']
    assert other['new_order_reason'] == f"the order {first['order_uri']} was asked with profile classic (this run asks shortlived)"
    assert order_file.read_text(encoding='utf-8').splitlines()[0] == other['order_uri']


def test_a_certificate_key_revocation_the_ca_refuses_gives_advice_for_that_key(
    acme_ca: AcmeCA, account: TestAccount, tls_alpn: TlsAlpnResponders, run_playbook: RunPlaybook, tmp_path: pathlib.Path
) -> None:
    if acme_ca.has('revokes_with_certificate_key'):
        pytest.skip(f'{acme_ca.name} accepts revocations signed by the certificate key; the refusal needs a CA that does not')
    name = acme_ca.unique_name('own-key')
    csr_path = write_csr(tmp_path / 'www.csr', [name])
    with ChallengeProvisioner.for_ca(acme_ca, tls_alpn) as provisioner:
        order = ready_order(account, [name], provisioner)
    csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    order, _finalized = account.orders.issue(order, csr.public_bytes(serialization.Encoding.DER), timeout=60)
    [chain] = account.orders.download_chains(order, alternates=False)
    certificate_path = tmp_path / 'www.crt'
    certificate_path.write_bytes(chain.certificate)

    run = run_playbook(
        PLAYBOOKS / 'revoke_with_certificate_key.yml',
        expect_failure=True,
        extra_vars={
            'acme_directory': acme_ca.directory_url,
            'ca_path': str(acme_ca.ca_path),
            'certificate_path': str(certificate_path),
            'private_key_path': str(csr_path.with_suffix('.key')),
        },
    )

    message = run.failure_message('Revoke')
    assert "certificate's own key" in message and 'register' not in message, message
