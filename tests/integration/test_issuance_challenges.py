"""Certificates for one name, three names, ten names, a wildcard with its base name, and an IP address.

On each CA of the testbed (``acme_ca``), all orders go through real module runs: one playbook
places them (acme_order), the test provisions the challenges the way a user's tasks would (web
root files, TSIG-signed DNS updates, the collection's tls-alpn-01 responder), and a second
playbook validates and finalizes them (acme_challenge, acme_finalize). Each test then checks one
certificate and what led to it. A CA that cannot reach the tls-alpn-01 responder gets no such order.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from test_issuance_support import (
    PLAYBOOKS,
    ChallengeProvisioner,
    challenge_choice,
    create_account,
    subject_alternative_names,
    verify_chain,
    write_csr,
)
from testbed.acme_ca import AcmeCA
from testbed.ansible import PlaybookRun
from testbed.fixtures import ChallengePorts
from testbed.tls_alpn import TlsAlpnResponders

ACME_IDENTIFIER_OID = ObjectIdentifier('1.3.6.1.5.5.7.1.31')  # RFC 8737, section 6.1


@dataclasses.dataclass
class Scenario:
    """One certificate: what was asked, and what each module run returned."""

    name: str
    identifiers: list[str]
    challenge: str
    challenge_overrides: dict[str, str]
    csr_path: pathlib.Path
    fullchain_path: pathlib.Path
    order: dict[str, Any] = dataclasses.field(default_factory=dict)
    validation: dict[str, Any] = dataclasses.field(default_factory=dict)
    certificate: dict[str, Any] = dataclasses.field(default_factory=dict)
    # TXT record -> the values BIND answered right before validation
    published_txt: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    tls_alpn_handshakes: int = 0

    def as_vars(self) -> dict[str, Any]:
        """The entry of ``orders`` in order.yml and validate.yml."""
        return {
            'name': self.name,
            'identifiers': self.identifiers,
            'order_uri': self.order.get('order_uri'),
            'challenge': self.challenge,
            'challenge_overrides': self.challenge_overrides,
            'csr_path': str(self.csr_path),
            'fullchain_path': str(self.fullchain_path),
        }


def _scenarios(acme_ca: AcmeCA, work_dir: pathlib.Path) -> dict[str, Scenario]:
    three_names = [acme_ca.unique_name(f'three{number}') for number in range(3)]
    ten_names = [acme_ca.unique_name(f'name{number}') for number in range(10)]
    wildcard_base = acme_ca.unique_name('wild')
    wanted = {
        'one name': ([acme_ca.unique_name('single')], 'http-01', {}),
        'one name by dns-01': ([acme_ca.unique_name('single-dns')], 'dns-01', {}),
        'three names': (three_names, 'dns-01', {}),
        # One of the ten is validated differently, as challenge_overrides allows.
        'ten names': (ten_names, 'http-01', {ten_names[-1]: 'dns-01'}),
        'wildcard': ([f'*.{wildcard_base}', wildcard_base], 'dns-01', {}),
        'ip address': ([acme_ca.ip_address], 'http-01', {}),
    }
    if acme_ca.has('tls_alpn'):
        wanted['one name by tls-alpn-01'] = ([acme_ca.unique_name('single-alpn')], 'tls-alpn-01', {})
    scenarios = {}
    for number, (name, (identifiers, challenge, overrides)) in enumerate(wanted.items()):
        scenarios[name] = Scenario(
            name=name,
            identifiers=identifiers,
            challenge=challenge,
            challenge_overrides=overrides,
            csr_path=write_csr(work_dir / f'{number}.csr', identifiers),
            fullchain_path=work_dir / f'{number}-fullchain.pem',
        )
    return scenarios


@pytest.fixture(scope='module')
def issued(
    acme_ca: AcmeCA, challenge_ports: ChallengePorts, run_playbook: Callable[..., PlaybookRun], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Scenario]:
    """Order, provision, validate and finalize all certificates with one account of their own."""
    work_dir = tmp_path_factory.mktemp('issuance-challenges')
    # A new account: no authorization of an earlier test (127.0.0.1 above all) can be reused.
    account = create_account(acme_ca, work_dir)
    scenarios = _scenarios(acme_ca, work_dir)
    acme = account.module_defaults()

    ordered = run_playbook(PLAYBOOKS / 'order.yml', extra_vars={'acme': acme, 'orders': [item.as_vars() for item in scenarios.values()]})
    for scenario, result in zip(scenarios.values(), ordered['Order a certificate']['results']):
        scenario.order = result

    tls_alpn = TlsAlpnResponders(challenge_ports.tls)
    with ChallengeProvisioner.for_ca(acme_ca, tls_alpn) as provisioner:
        for scenario in scenarios.values():
            provisioner.provision(scenario.order['challenge_data'], challenge_choice(scenario.challenge, scenario.challenge_overrides))
            scenario.published_txt = {record: acme_ca.dns.query_txt(record) for record in scenario.order['challenge_data_dns']}
        validated = run_playbook(PLAYBOOKS / 'validate.yml', extra_vars={'acme': acme, 'orders': [item.as_vars() for item in scenarios.values()]})
        handshakes = tls_alpn.current.handshakes if tls_alpn.current else 0
    for scenario, validation, certificate in zip(
        scenarios.values(), validated['Let the CA validate']['results'], validated['Finalize and write the full chain']['results']
    ):
        scenario.validation = validation
        scenario.certificate = certificate
        scenario.tls_alpn_handshakes = handshakes if 'tls-alpn-01' in (scenario.challenge, *scenario.challenge_overrides.values()) else 0
    return scenarios


def _challenges_used(scenario: Scenario) -> dict[str, str]:
    return {item['identifier']: item['challenge'] for item in scenario.validation['authorizations']}


def _assert_issued(scenario: Scenario, acme_ca: AcmeCA, verify_for: list[str]) -> None:
    """The module runs succeeded, the file holds the certificate, and its chain verifies for each name."""
    assert scenario.order['changed'] and scenario.validation['changed'] and scenario.certificate['changed']
    assert scenario.validation['order_status'] == 'ready'
    assert scenario.certificate['finalized'] is True
    fullchain = scenario.fullchain_path.read_text(encoding='ascii')
    assert fullchain == scenario.certificate['fullchain']
    assert sorted(subject_alternative_names(fullchain)) == sorted(scenario.identifiers)
    root = acme_ca.root_pem
    for name in verify_for:
        verified = verify_chain(fullchain, root_pem=root, subject=name, san_critical_if_no_subject=acme_ca.marks_san_critical)
        assert verified[-1] == x509.load_pem_x509_certificate(root.encode('ascii'))


def test_one_name_with_http_01(issued: dict[str, Scenario], acme_ca: AcmeCA) -> None:
    scenario = issued['one name']
    name = scenario.identifiers[0]
    http = scenario.order['challenge_data'][name]['http-01']
    assert http['resource'] == f'.well-known/acme-challenge/{http["resource"].rsplit("/", 1)[1]}'
    assert _challenges_used(scenario) == {name: 'http-01'}
    _assert_issued(scenario, acme_ca, verify_for=[name])


def test_one_name_with_dns_01(issued: dict[str, Scenario], acme_ca: AcmeCA) -> None:
    scenario = issued['one name by dns-01']
    name = scenario.identifiers[0]
    record = f'_acme-challenge.{name}'
    assert scenario.published_txt == {record: [scenario.order['challenge_data'][name]['dns-01']['record_value']]}
    assert _challenges_used(scenario) == {name: 'dns-01'}
    _assert_issued(scenario, acme_ca, verify_for=[name])


def test_three_names_with_dns_01(issued: dict[str, Scenario], acme_ca: AcmeCA) -> None:
    scenario = issued['three names']
    names = scenario.identifiers
    assert sorted(scenario.published_txt) == sorted(f'_acme-challenge.{name}' for name in names)
    assert _challenges_used(scenario) == {name: 'dns-01' for name in names}
    _assert_issued(scenario, acme_ca, verify_for=names)


@pytest.mark.acme_ca_needs('tls_alpn')
def test_one_name_with_tls_alpn_01(issued: dict[str, Scenario], acme_ca: AcmeCA) -> None:
    scenario = issued['one name by tls-alpn-01']
    name = scenario.identifiers[0]
    tls_alpn = scenario.order['challenge_data'][name]['tls-alpn-01']
    assert tls_alpn['resource'] == name
    challenge_certificate = x509.load_pem_x509_certificate(tls_alpn['certificate'].encode('ascii'))
    extension = challenge_certificate.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    assert extension.critical
    assert challenge_certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [name]

    assert _challenges_used(scenario) == {name: 'tls-alpn-01'}
    assert scenario.tls_alpn_handshakes > 0, f'{acme_ca.name} never completed a handshake with the responder'
    _assert_issued(scenario, acme_ca, verify_for=[name])


def test_ten_names_with_http_01_and_one_dns_01_override(issued: dict[str, Scenario], acme_ca: AcmeCA) -> None:
    scenario = issued['ten names']
    names = scenario.identifiers
    assert sorted(item['value'] for item in scenario.order['order']['identifiers']) == sorted(names)
    assert len(scenario.order['authorizations']) == 10
    assert all(authorization['status'] == 'pending' for authorization in scenario.order['authorizations'])
    assert set(scenario.order['challenge_data']) == set(names)
    # Every name offers dns-01, so each has its record, with one value.
    assert scenario.order['challenge_data_dns'] == {
        f'_acme-challenge.{name}': [scenario.order['challenge_data'][name]['dns-01']['record_value']] for name in names
    }

    assert _challenges_used(scenario) == {**{name: 'http-01' for name in names[:-1]}, names[-1]: 'dns-01'}
    _assert_issued(scenario, acme_ca, verify_for=names)


def test_wildcard_and_base_name_share_one_txt_record(issued: dict[str, Scenario], acme_ca: AcmeCA) -> None:
    scenario = issued['wildcard']
    wildcard, base = scenario.identifiers
    challenge_data = scenario.order['challenge_data']
    # Of the types the modules answer, a wildcard can only be validated with dns-01 (RFC 8555, section 7.1.3);
    # others the CA offers (acme2certifier: dns-persist-01, which allows wildcards) are passed through as sent.
    assert set(challenge_data[wildcard]) & {'http-01', 'dns-01', 'tls-alpn-01'} == {'dns-01'}
    record = f'_acme-challenge.{base}'
    assert challenge_data[wildcard]['dns-01']['record'] == challenge_data[base]['dns-01']['record'] == record

    values = scenario.order['challenge_data_dns'][record]
    assert sorted(values) == sorted([challenge_data[wildcard]['dns-01']['record_value'], challenge_data[base]['dns-01']['record_value']])
    assert len(set(values)) == 2
    assert scenario.order['challenge_data_dns'].keys() == {record}
    assert sorted(scenario.published_txt[record]) == sorted(values)

    assert _challenges_used(scenario) == {wildcard: 'dns-01', base: 'dns-01'}
    _assert_issued(scenario, acme_ca, verify_for=[base, f'any-label.{base}'])


def test_ip_address_with_http_01(issued: dict[str, Scenario], acme_ca: AcmeCA) -> None:
    scenario = issued['ip address']
    address = acme_ca.ip_address
    assert scenario.order['order']['identifiers'] == [{'type': 'ip', 'value': address}]
    assert scenario.order['authorizations'][0]['identifier_type'] == 'ip'
    offered = scenario.order['challenge_data'][address]
    # RFC 8738, section 7: no dns-01 for IP addresses; both CAs offer http-01 and tls-alpn-01.
    assert set(offered) == {'http-01', 'tls-alpn-01'}
    # The SNI name of tls-alpn-01 for an address is its reverse-mapping name (RFC 8738, section 6).
    assert offered['tls-alpn-01']['resource'] == '.'.join(reversed(address.split('.'))) + '.in-addr.arpa'

    assert _challenges_used(scenario) == {address: 'http-01'}
    _assert_issued(scenario, acme_ca, verify_for=[address])


def test_failed_validation_names_the_identifier_and_deactivation_cleans_up(
    acme_ca: AcmeCA, run_playbook: Callable[..., PlaybookRun], tmp_path: pathlib.Path
) -> None:
    account = create_account(acme_ca, tmp_path)
    webroot = acme_ca.webroot
    served, unserved = acme_ca.unique_name('served'), acme_ca.unique_name('unserved')
    run = run_playbook(
        PLAYBOOKS / 'failed_validation.yml',
        extra_vars={'acme': account.module_defaults(), 'identifiers': [served, unserved], 'served_identifier': served, 'webroot': str(webroot.path)},
    )
    (webroot.path / run['Order']['challenge_data'][served]['http-01']['resource']).unlink()

    order = account.orders.get(run['Order']['order_uri'])
    # A failed authorization makes pebble's order invalid; acme2certifier leaves it pending, which RFC 8555 allows.
    assert order.status == {'pebble': 'invalid', 'acme2certifier': 'pending'}[acme_ca.name]
    by_name = {authorization.identifier.value: authorization for authorization in account.authorizations.get_all(order.authorizations)}
    assert by_name[unserved].status == 'invalid'
    # pebble says why; acme2certifier marks the challenge invalid without an error (RFC 8555 §7.1.5 makes it optional).
    problem = by_name[unserved].problem()
    reason = f'unauthorized: {problem.detail}' if problem is not None else 'the CA gave no reason'
    assert (problem is not None) == (acme_ca.name == 'pebble')

    assert run.outcome('Let the CA validate').failed
    validation = run['Let the CA validate']
    message = validation['msg']
    assert message.startswith('validation failed for ')
    assert f'{unserved} (http-01): {reason}' in message
    assert f'is .well-known/acme-challenge/ of {unserved} served by its web server' in message
    result = {item['identifier']: item for item in validation['authorizations']}
    assert result[unserved] == {'identifier': unserved, 'status': 'invalid', 'challenge': 'http-01', 'error': reason}

    # The authorization of the served name is given up; the failed one stays invalid. acme2certifier answers
    # the deactivation with the authorization still valid: reported as it is, unchanged, with a warning.
    deactivation = run['Give the authorizations up']
    given_up = {'pebble': 'deactivated', 'acme2certifier': 'valid'}[acme_ca.name]
    assert deactivation['changed'] is (given_up == 'deactivated')
    assert {item['identifier']: item['status'] for item in deactivation['authorizations']} == {served: given_up, unserved: 'invalid'}
    assert by_name[served].status == given_up
    if given_up != 'deactivated':
        assert any(f'the CA kept the authorization of {served} valid' in warning for warning in deactivation.get('warnings', [])), deactivation
