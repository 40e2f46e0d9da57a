"""acme_order: resuming an interrupted flow, and what it makes of the identifiers it is given."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import idna
import pytest

from test_issuance_support import (
    PLAYBOOKS,
    PebbleLog,
    TestAccount,
    create_account,
    new_session,
    subject_alternative_names,
    unique_name,
    write_csr,
)
from testbed.ansible import PlaybookRun
from testbed.bind9 import Bind9Server
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer


@pytest.fixture(scope='module')
def account(pebble: PebbleServer, tmp_path_factory: pytest.TempPathFactory) -> TestAccount:
    """An account of this file's own."""
    return create_account(pebble, tmp_path_factory.mktemp('issuance-orders'))


def test_interrupted_flow_resumes_its_order(
    account: TestAccount, pebble: PebbleServer, bind9: Bind9Server, webroot: WebrootServer, run_playbook: Callable[..., PlaybookRun], tmp_path: pathlib.Path
) -> None:
    names = [unique_name('resume', bind9.zone), unique_name('resume', bind9.zone)]
    acme = account.module_defaults()
    first = PebbleLog(pebble)
    interrupted = run_playbook(PLAYBOOKS / 'order.yml', extra_vars={'acme': acme, 'orders': [{'name': 'first run', 'identifiers': names}]})
    [placed] = interrupted['Order a certificate']['results']
    assert first.orders_created() == 1

    second = PebbleLog(pebble)
    fullchain_path = tmp_path / 'fullchain.pem'
    resumed = run_playbook(
        PLAYBOOKS / 'resume.yml',
        extra_vars={
            'acme': acme,
            'order_uri': placed['order_uri'],
            # The same identifiers, written differently: still the same order.
            'identifiers': [name.upper() for name in reversed(names)] + [names[0]],
            'other_identifiers': [names[0], unique_name('other', bind9.zone)],
            'webroot': str(webroot.path),
            'csr_path': str(write_csr(tmp_path / 'cert.csr', names)),
            'fullchain_path': str(fullchain_path),
        },
    )

    for offered in resumed['Resume the order']['challenge_data'].values():
        (webroot.path / offered['http-01']['resource']).unlink()
    assert resumed['Resume the order']['changed'] is False
    assert resumed['Resume the order']['order_uri'] == placed['order_uri']
    assert resumed['Resume the order']['challenge_data'].keys() == placed['challenge_data'].keys()
    assert resumed['Finalize']['finalized'] is True
    assert sorted(subject_alternative_names(fullchain_path.read_text(encoding='ascii'))) == sorted(names)
    other = resumed['Order other identifiers with the same order_uri']
    assert other['changed'] is True
    assert other['order_uri'] != placed['order_uri']
    # Only the order for other identifiers was new.
    assert second.orders_created() == 1


def test_identifiers_are_normalised_and_bad_ones_refused(
    account: TestAccount, pebble: PebbleServer, bind9: Bind9Server, run_playbook: Callable[..., PlaybookRun]
) -> None:
    directory = new_session(pebble).directory
    if directory.resource('renewalInfo') is not None or directory.profiles:
        pytest.skip('this pebble offers ARI or profiles; the refusals tested here need a CA without them')
    idn = unique_name('bücher', bind9.zone)
    label = idn.split('.', maxsplit=1)[0]
    a_label = idna.encode(idn, uts46=True).decode('ascii')
    www = unique_name('www', bind9.zone)
    messy = [idn, www.upper() + '.', www, {'type': 'dns', 'value': f'{label.upper()}.{bind9.zone}'}, ' 127.0.0.1 ']
    bad = [
        [www, 'bad..name.example'],
        [www, 'www.*.example.com'],
        [{'type': 'ip', 'value': '300.1.2.3'}],
        [{'type': 'email', 'value': 'hostmaster@example.com'}],
    ]
    log = PebbleLog(pebble)
    run = run_playbook(PLAYBOOKS / 'identifiers.yml', extra_vars={'acme': account.module_defaults(), 'messy_identifiers': messy, 'bad_identifiers': bad})

    ordered = run['Order with an IDN, upper case, a trailing dot and duplicates']
    assert a_label.startswith('xn--')
    assert {(item['type'], item['value']) for item in ordered['order']['identifiers']} == {('dns', a_label), ('dns', www), ('ip', '127.0.0.1')}
    assert len(ordered['order']['identifiers']) == 3
    assert sorted(ordered['challenge_data']) == sorted([a_label, www, '127.0.0.1'])

    refusals = [result['msg'] for result in run['Order with an invalid identifier']['results']]
    assert all(result['failed'] for result in run['Order with an invalid identifier']['results'])
    assert refusals[0] == "identifiers: 'bad..name.example' is not a valid domain name (use names like www.example.com or *.example.com)"
    assert refusals[1].startswith("identifiers: 'www.*.example.com' is not a valid domain name")
    assert refusals[2] == "identifiers: '300.1.2.3' is not an IP address"
    assert refusals[3].startswith("identifiers: {'type': 'email', 'value': 'hostmaster@example.com'} must be")

    assert run.outcome('Ask to replace a certificate (ARI)').failed
    replaces = run['Ask to replace a certificate (ARI)']
    assert replaces['msg'] == 'replaces: this CA does not support ACME Renewal Information (no renewalInfo in its directory); remove replaces'
    assert run.outcome('Ask for a profile').failed
    profile = run['Ask for a profile']
    assert profile['msg'] == "profile: the CA does not offer the profile 'shortlived' (it offers: none)"
    # Refused before anything was ordered: the one new order is the tidy one.
    assert log.orders_created() == 1
