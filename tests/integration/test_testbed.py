"""The testbed itself: each server answers as the other integration tests expect.

If these pass and a module test fails, look at the module, not at pebble, BIND or the web server.
"""

from __future__ import annotations

import configparser
import json
import os
import random
import re
import secrets
import socket
from collections.abc import Callable

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.update
import pytest
import requests
from cryptography import x509

from testbed.acme2certifier import DEFAULT_PROFILE_VALIDITY_DAYS, DEFAULT_PROFILES, Acme2certifierServer
from testbed.acme_ca import AcmeCA
from testbed.acme_probe import AcmeProbe
from testbed.ansible import PlaybookRun
from testbed.bind9 import Bind9Server
from testbed.errors import TestbedError
from testbed.fixtures import Acme2certifierFactory, PebbleFactory
from testbed.https import loopback_session
from testbed.loopback_address import pick_loopback_address
from testbed.pebble import PebbleServer, PebbleSettings
from testbed.ports import LOOPBACK
from testbed.webserver import WebrootServer


def test_pebble_directory_answers_over_verified_tls(pebble: PebbleServer) -> None:
    with loopback_session(pebble.ca_path) as session:
        directory = session.get(pebble.directory_url, timeout=5).json()
    assert {'newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange'} <= directory.keys()
    assert directory['meta']['externalAccountRequired'] is False


def test_pebble_certificate_is_not_trusted_without_the_testbed_ca(pebble: PebbleServer) -> None:
    with loopback_session() as session, pytest.raises(requests.exceptions.SSLError):
        session.get(pebble.directory_url, timeout=5)


def test_pebble_management_serves_root_certificate(pebble: PebbleServer) -> None:
    root = x509.load_pem_x509_certificate(pebble.root_pem(0).encode('ascii'))
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert pebble.root_pems() == [pebble.root_pem(0)]


def test_count_requests_counts_acme_api_requests(pebble: PebbleServer) -> None:
    before = pebble.count_requests()
    with loopback_session(pebble.ca_path) as session:
        new_nonce_url = session.get(pebble.directory_url, timeout=5).json()['newNonce']
        session.head(new_nonce_url, timeout=5)
        # The management interface is not the ACME API and is not counted.
        pebble.root_pem(0)
    assert pebble.count_requests() - before == 2
    assert [request.method for request in pebble.logged_requests()[-2:]] == ['GET', 'HEAD']


def test_bind9_answers_wildcard_a_with_loopback(bind9: Bind9Server) -> None:
    assert bind9.query(f'any-name.{bind9.zone}', 'A') == ['127.0.0.1']
    assert bind9.query(f'deeper.name.{bind9.zone}', 'A') == ['127.0.0.1']
    assert bind9.query(bind9.zone, 'A') == ['127.0.0.1']


def test_bind9_refuses_to_resolve_other_zones(bind9: Bind9Server) -> None:
    assert not bind9.query('example.com', 'A')


def test_bind9_applies_tsig_signed_update(bind9: Bind9Server) -> None:
    name = f'_acme-challenge.update-{secrets.token_hex(4)}.{bind9.zone}'
    value = secrets.token_urlsafe(32)
    bind9.add_txt(name, value)
    assert bind9.query_txt(name) == [value]
    bind9.delete_txt(name)
    assert not bind9.query_txt(name)


def test_bind9_challenge_record_hides_the_wildcard_address(bind9: Bind9Server) -> None:
    # RFC 4592: once _acme-challenge.<name> exists, <name> exists too and * no longer covers it.
    name = f'both-{secrets.token_hex(4)}.{bind9.zone}'
    bind9.add_txt(f'_acme-challenge.{name}', 'token')
    try:
        assert not bind9.query(name, 'A')
    finally:
        bind9.delete_txt(f'_acme-challenge.{name}')
    assert bind9.query(name, 'A') == ['127.0.0.1']


def test_bind9_refuses_unsigned_update(bind9: Bind9Server) -> None:
    name = f'_acme-challenge.unsigned.{bind9.zone}'
    update = dns.update.UpdateMessage(bind9.zone)
    update.add(dns.name.from_text(name), 60, 'TXT', 'not allowed')
    response = dns.query.tcp(update, bind9.address, port=bind9.port, timeout=5)
    assert response.rcode() == dns.rcode.REFUSED
    assert not bind9.query_txt(name)


def test_webroot_serves_challenge_files(webroot: WebrootServer, pebble: PebbleServer) -> None:
    assert webroot.port == pebble.http_port
    token = secrets.token_urlsafe(16)
    challenge_file = webroot.challenge_path / token
    challenge_file.write_text('key-authorization', encoding='ascii')
    try:
        with loopback_session() as session:
            response = session.get(f'{webroot.base_url}/.well-known/acme-challenge/{token}', timeout=5)
    finally:
        challenge_file.unlink()  # the webroot is shared by the whole session
    assert response.status_code == 200
    assert response.text == 'key-authorization'


def test_pebble_issues_for_test_zone_names_with_http01(pebble: PebbleServer, webroot: WebrootServer) -> None:
    names = [f'www-{secrets.token_hex(4)}.acme.test', f'acme-{secrets.token_hex(4)}.acme.test']
    probe = AcmeProbe(pebble.directory_url, ca_path=pebble.ca_path)
    probe.register()
    order_url, order = probe.new_order(names)
    for authorization_url in order['authorizations']:
        challenge = probe.challenge(authorization_url, 'http-01')
        if challenge is None:
            continue
        challenge_file = webroot.challenge_path / challenge['token']
        challenge_file.write_text(probe.key_authorization(challenge['token']), encoding='ascii')
        try:
            assert probe.answer(challenge, authorization_url)['status'] == 'valid'
        finally:
            challenge_file.unlink()  # the webroot is shared by the whole session

    leaf, *issuers = probe.finalize(order_url, order, names)
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == names
    assert len(issuers) == 1
    status = pebble.cert_status(format(leaf.serial_number, 'X'))
    assert status['Status'] == 'Valid'


def test_pebble_validates_dns01_through_bind9(pebble: PebbleServer, bind9: Bind9Server) -> None:
    name = f'dns-{secrets.token_hex(4)}.acme.test'
    probe = AcmeProbe(pebble.directory_url, ca_path=pebble.ca_path)
    probe.register()
    _order_url, order = probe.new_order([name])
    authorization_url = order['authorizations'][0]
    challenge = probe.challenge(authorization_url, 'dns-01')
    assert challenge is not None
    record = f'_acme-challenge.{name}'
    bind9.add_txt(record, probe.dns01_value(challenge['token']))
    try:
        assert probe.answer(challenge, authorization_url)['status'] == 'valid'
    finally:
        bind9.delete_txt(record)


def test_pebble_eab_requires_external_account_binding(pebble_eab: PebbleServer) -> None:
    assert pebble_eab.eab_kid
    assert re.fullmatch(r'[A-Za-z0-9_-]{64}', pebble_eab.eab_hmac_key or '')
    probe = AcmeProbe(pebble_eab.directory_url, ca_path=pebble_eab.ca_path)
    assert probe.directory['meta']['externalAccountRequired'] is True
    with pytest.raises(TestbedError, match='externalAccountRequired'):
        probe.register()


def test_pebble_factory_applies_settings(pebble_factory: PebbleFactory) -> None:
    settings = PebbleSettings(chain_length=3, alternate_roots=1, certificate_validity_seconds=3600, nonce_reject_percent=0)
    server = pebble_factory(settings, name='custom')
    try:
        roots = server.root_pems()
        assert len(roots) == 2 and roots[0] != roots[1]
        log = server.log_path.read_text(encoding='utf-8')
        # One chain per root, each "root -> 3 intermediates" (the leaf's issuer is shared).
        chains = re.findall(r'Generated issuance chain: (.*)$', log, re.MULTILINE)
        assert [chain.count(' -> ') for chain in chains] == [3, 3]
        assert 'Using certificate validity period of 3600 seconds' in log
        assert 'Configured to reject 0% of good nonces' in log
    finally:
        server.stop()


def test_acme2certifier_directory_offers_what_it_is_configured_for(acme2certifier: Acme2certifierServer, acme2certifier_eab: Acme2certifierServer) -> None:
    directory = AcmeProbe(acme2certifier.directory_url, ca_path=acme2certifier.ca_path).directory
    assert {'newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange', 'renewalInfo'} <= directory.keys()
    assert directory['meta']['profiles'] == DEFAULT_PROFILES
    assert directory['meta']['version'] == '0.46.3'
    # dns-persist-01 challenges name these as issuer-domain-names.
    assert directory['meta']['caaIdentities'] == ['acme2certifier.test']
    assert 'externalAccountRequired' not in directory['meta']
    assert acme2certifier.eab_kid is None

    assert acme2certifier_eab.eab_kid and re.fullmatch(r'[A-Za-z0-9_-]{64}', acme2certifier_eab.eab_hmac_key or '')
    probe = AcmeProbe(acme2certifier_eab.directory_url, ca_path=acme2certifier_eab.ca_path)
    assert probe.directory['meta']['externalAccountRequired'] is True
    with pytest.raises(TestbedError, match='externalAccountRequired|[Ee]xternal account'):
        probe.register()


def test_acme2certifier_validates_on_the_sessions_own_loopback_address(
    acme2certifier: Acme2certifierServer, a2c_bind9: Bind9Server, a2c_webroot: WebrootServer, session_loopback_address: str
) -> None:
    assert re.fullmatch(r'127\.0\.0\.(\d+)', session_loopback_address) and session_loopback_address != LOOPBACK
    assert a2c_bind9.answer_address == session_loopback_address
    assert (a2c_webroot.address, a2c_webroot.port) == (session_loopback_address, 80)
    assert a2c_bind9.query(f'any-name.{a2c_bind9.zone}', 'A') == [session_loopback_address]
    # acme2certifier asks on port 53 of the session address, through the relay.
    relayed = dns.message.make_query(f'other-name.{a2c_bind9.zone}', 'A')
    for transport in (dns.query.udp, dns.query.tcp):
        answer = transport(relayed, session_loopback_address, port=53, timeout=5)
        assert [rdata.to_text() for rrset in answer.answer for rdata in rrset] == [session_loopback_address], transport
    config = configparser.ConfigParser(interpolation=None)
    config.read(acme2certifier.config_path)
    # Never the machine's resolver: acme2certifier asks only the session's BIND.
    assert json.loads(config['DEFAULT']['dns_server_list']) == [session_loopback_address]


def test_loopback_address_passes_over_an_address_whose_port_is_taken() -> None:
    first = pick_loopback_address(rng=random.Random(7))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((first, 80))
        holder.listen()
        # The same random order, but its first address now has port 80 taken.
        assert pick_loopback_address(rng=random.Random(7)) != first


def test_acme2certifier_stops_by_pid(acme2certifier_factory: Acme2certifierFactory) -> None:
    server = acme2certifier_factory(name='stopped')
    pid, port = server.pid, server.listen_port
    assert pid is not None
    os.kill(pid, 0)  # running
    server.stop()
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError), socket.create_connection((LOOPBACK, port), timeout=5):
        pass


def test_acme_ca_issues_with_http01_from_its_webroot(acme_ca: AcmeCA) -> None:
    names = [acme_ca.unique_name('www'), acme_ca.unique_name('mail')]
    probe = AcmeProbe(acme_ca.directory_url, ca_path=acme_ca.ca_path)
    probe.register()
    order_url, order = probe.new_order(names)
    for authorization_url in order['authorizations']:
        challenge = probe.challenge(authorization_url, 'http-01')
        assert challenge is not None
        challenge_file = acme_ca.webroot.challenge_path / challenge['token']
        challenge_file.write_text(probe.key_authorization(challenge['token']), encoding='ascii')
        try:
            assert probe.answer(challenge, authorization_url)['status'] == 'valid'
        finally:
            challenge_file.unlink()  # the webroot is shared by the whole session

    leaf, *issuers = probe.finalize(order_url, order, names)
    assert sorted(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)) == sorted(names)
    assert [issuer.subject for issuer in issuers] == [x509.load_pem_x509_certificate(acme_ca.intermediate_pem.encode()).subject]
    assert leaf.issuer == issuers[0].subject
    assert issuers[0].issuer == x509.load_pem_x509_certificate(acme_ca.root_pem.encode()).subject


def test_acme_ca_validates_dns01_through_its_dns_server(acme_ca: AcmeCA) -> None:
    name = acme_ca.unique_name('dns')
    probe = AcmeProbe(acme_ca.directory_url, ca_path=acme_ca.ca_path)
    probe.register()
    _order_url, order = probe.new_order([name])
    authorization_url = order['authorizations'][0]
    challenge = probe.challenge(authorization_url, 'dns-01')
    assert challenge is not None
    record = f'_acme-challenge.{name}'
    acme_ca.dns.add_txt(record, probe.dns01_value(challenge['token']))
    try:
        assert probe.answer(challenge, authorization_url)['status'] == 'valid'
    finally:
        acme_ca.dns.delete_txt(record)


@pytest.mark.parametrize('profile', [None, 'tlsserver', 'shortlived'])
def test_acme2certifier_profiles_give_their_lifetimes(
    acme2certifier: Acme2certifierServer, a2c_bind9: Bind9Server, a2c_webroot: WebrootServer, profile: str | None
) -> None:
    name = f'profile-{secrets.token_hex(4)}.{a2c_bind9.zone}'
    probe = AcmeProbe(acme2certifier.directory_url, ca_path=acme2certifier.ca_path)
    probe.register()
    order_url, order = probe.new_order([name], profile=profile)
    # acme2certifier does not repeat the profile in the order object.
    assert 'profile' not in order
    challenge = probe.challenge(order['authorizations'][0], 'http-01')
    assert challenge is not None
    challenge_file = a2c_webroot.challenge_path / challenge['token']
    challenge_file.write_text(probe.key_authorization(challenge['token']), encoding='ascii')
    try:
        assert probe.answer(challenge, order['authorizations'][0])['status'] == 'valid'
    finally:
        challenge_file.unlink()
    leaf, *_issuers = probe.finalize(order_url, order, [name])
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert round(lifetime.total_seconds() / 86400) == DEFAULT_PROFILE_VALIDITY_DAYS[profile or 'classic']


@pytest.mark.acme_ca_needs('dns_persist')
def test_acme_ca_validates_dns_persist_01_through_its_dns_server(acme_ca: AcmeCA) -> None:
    name = acme_ca.unique_name('persist')
    probe = AcmeProbe(acme_ca.directory_url, ca_path=acme_ca.ca_path)
    probe.register()
    _order_url, order = probe.new_order([name])
    authorization_url = order['authorizations'][0]
    challenge = probe.challenge(authorization_url, 'dns-persist-01')
    assert challenge is not None
    assert challenge['accounturi'] == probe.account_url
    issuer = challenge['issuer-domain-names'][0]
    # The record stays: the name has its own A record, so it keeps resolving (see unique_name).
    acme_ca.dns.add_txt(f'_validation-persist.{name}', f'{issuer}; accounturi={probe.account_url}')
    assert probe.answer(challenge, authorization_url)['status'] == 'valid'
    assert acme_ca.dns.query(name, 'A') == [acme_ca.ip_address]


@pytest.mark.acme_ca_needs('revokes_with_certificate_key', 'management_api')
def test_acme_ca_needs_skips_only_the_ca_that_lacks_it(acme_ca: AcmeCA) -> None:
    # Runs on pebble; the acme2certifier run is skipped with the reason (see the skip list).
    assert acme_ca.name == 'pebble'
    assert acme_ca.has('revokes_with_certificate_key')
    with pytest.raises(TestbedError, match='unknown CA capability'):
        acme_ca.has('teleportation')


def test_run_playbook_returns_task_results(run_playbook: Callable[..., PlaybookRun]) -> None:
    playbook = '''
- name: Trivial play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Greet
      ansible.builtin.debug:
        msg: "hello {{ who }}"
    - name: Hidden
      ansible.builtin.debug:
        msg: "{{ secret }}"
      no_log: true
'''
    run = run_playbook(playbook, extra_vars={'who': 'testbed', 'secret': 'do-not-print-me'}, verbosity=3)
    assert run.rc == 0
    assert run['Greet']['msg'] == 'hello testbed'
    assert run.outcome('Greet').action == 'ansible.builtin.debug'
    assert run.recap['localhost']['failures'] == 0
    assert 'hello testbed' in run.stdout
    assert not run.contains('do-not-print-me')


def test_run_playbook_reports_expected_failure(run_playbook: Callable[..., PlaybookRun]) -> None:
    playbook = '''
- name: Failing play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Give up
      ansible.builtin.fail:
        msg: planned failure
'''
    run = run_playbook(playbook, expect_failure=True)
    assert run.rc != 0
    assert run.outcome('Give up').failed
    assert run['Give up']['msg'] == 'planned failure'
