"""dns-persist-01 end to end against acme2certifier, through BIND with RFC 2136 updates.

acme2certifier only: pebble 2.4.0 has no dns-persist-01 challenge, so nothing here runs against it.

The role publishes each name's ``_validation-persist`` record once and never again: BIND raises the
zone's SOA serial with every update it applies, so the serial counts the role's writes. The module
tests publish records the way a user's tasks would and check that the CA's refusals (a wildcard
without ``policy=wildcard``, a record naming another account) reach the user with the CA's reason.

acme2certifier 0.46.3 keeps its reason for a dns-persist-01 refusal to itself: neither its answer to
the challenge, nor the authorization, nor a later read of the challenge carries an ``error`` (its log
does). So the error the user gets says the CA gave no reason, names the identifier and the record to
check; the server's log shows that the refusal had the cause the test set up.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import secrets
from collections.abc import Callable
from typing import Any

import dns.name
import dns.query
import dns.rcode
import dns.update
import pytest
from cryptography import x509

from testbed.acme2certifier import Acme2certifierServer, Acme2certifierSettings
from testbed.ansible import PlaybookRun
from testbed.bind9 import QUERY_TIMEOUT_SECONDS, Bind9Server

RunPlaybook = Callable[..., PlaybookRun]
ISSUER = 'ca.a2c.test'
# acme2certifier's reason when no record authorizes the request (its dns_persist_validator), as it logs it.
CA_REFUSAL = 'dns-persist-01 DNS TXT record did not authorize this request'
# What the user sees when the CA's answers carry no error (plugins/module_utils/_acme/validation.py).
NO_REASON = 'the CA gave no reason'
CHECK_SHOW_TASK = 'certforge.acme.acme_certificate : Show the dns-persist-01 records a run would publish (check mode)'
ROLE_PUBLISH_TASK = 'certforge.acme.acme_certificate : Update the dns-01 TXT records on the primary name server (present)'


@pytest.fixture(scope='module')
def persist_ca(acme2certifier_factory: Callable[..., Acme2certifierServer]) -> Acme2certifierServer:
    """An acme2certifier offering dns-persist-01 with one issuer domain name, policy=wildcard honoured."""
    return acme2certifier_factory(
        Acme2certifierSettings(dns_persist_01=True, issuer_domain_names=(ISSUER,), dns_persist_wildcard=True),
        name='persist',
    )


def soa_serial(bind9: Bind9Server) -> int:
    """The zone's serial: BIND raises it once for every update it applies."""
    return int(bind9.query(bind9.zone, 'SOA')[0].split()[2])


def fresh_name(bind9: Bind9Server, label: str) -> str:
    """A new name with an A record of its own (a TXT record below would hide the zone's wildcard for it)."""
    name = f'{label}-{secrets.token_hex(4)}.{bind9.zone}'
    update = dns.update.UpdateMessage(bind9.zone, keyring=bind9.keyring, keyalgorithm=bind9.tsig_algorithm)
    update.add(dns.name.from_text(name), 1, 'A', bind9.answer_address)
    response = dns.query.tcp(update, bind9.address, port=bind9.port, timeout=QUERY_TIMEOUT_SECONDS)
    assert response.rcode() == dns.rcode.NOERROR
    return name


def add_txt(bind9: Bind9Server, name: str, value: str) -> None:
    """Publish ``value`` as one TXT string (quoted: unquoted, its spaces and ';' would split and cut it)."""
    bind9.add_txt(name, '"' + value.replace('"', '\\"') + '"')


def refusal_logged(ca: Acme2certifierServer, identifier: str) -> bool:
    """Whether acme2certifier logged its dns-persist-01 refusal of ``identifier``, with its reason."""
    log = ca.log_path.read_text(encoding='utf-8', errors='replace')
    return any(f'host={identifier} ' in line and CA_REFUSAL in line for line in log.splitlines())


def assert_refused(message: str, ca: Acme2certifierServer, identifier: str, record: str) -> None:
    """Our one-line error names the identifier, the CA's reason (or that it gave none) and the record; the CA did refuse."""
    assert f'{identifier} (dns-persist-01): ' in message, message
    assert CA_REFUSAL in message or NO_REASON in message, message
    assert record in message, message
    assert refusal_logged(ca, identifier)


def san_names(fullchain_pem: str) -> list[str]:
    leaf = x509.load_pem_x509_certificate(fullchain_pem.encode('ascii'))
    return leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def ca_options(ca: Acme2certifierServer, account_key: pathlib.Path) -> dict[str, Any]:
    return {'acme_directory': ca.directory_url, 'ca_path': str(ca.ca_path), 'account_key_src': str(account_key)}


def module_play(ca: Acme2certifierServer, account_key: pathlib.Path, tasks: list[dict[str, Any]]) -> str:
    play = [
        {
            'name': 'dns-persist-01 with the modules',
            'hosts': 'localhost',
            'gather_facts': False,
            'module_defaults': {'group/certforge.acme.acme': ca_options(ca, account_key)},
            'tasks': tasks,
        }
    ]
    return json.dumps(play, indent=1) + '\n'


# acme2certifier refuses an account without contact.
ACCOUNT_TASKS = [
    {'name': 'Make the account key', 'certforge.acme.acme_account_key': {'path': '{{ account_key }}'}},
    {'name': 'Register the account', 'certforge.acme.acme_account': {'terms_agreed': True, 'contact': ['mailto:persist@example.com']}, 'register': 'account'},
]


def order_and_validate(identifiers: list[str], *, fails: bool) -> list[dict[str, Any]]:
    return [
        {'name': 'Order', 'certforge.acme.acme_order': {'account_uri': '{{ account.account_uri }}', 'identifiers': identifiers}, 'register': 'cert_order'},
        {
            'name': 'Let the CA validate',
            'certforge.acme.acme_challenge': {
                'account_uri': '{{ account.account_uri }}',
                'order_uri': '{{ cert_order.order_uri }}',
                'challenge': 'dns-persist-01',
                'timeout': 60,
            },
            **({'ignore_errors': True} if fails else {}),
        },
    ]


def register_account(run_playbook: RunPlaybook, ca: Acme2certifierServer, account_key: pathlib.Path) -> str:
    run = run_playbook(module_play(ca, account_key, ACCOUNT_TASKS), extra_vars={'account_key': str(account_key)})
    return run['Register the account']['account_uri']


def test_a_wildcard_needs_policy_wildcard(run_playbook: RunPlaybook, persist_ca: Acme2certifierServer, a2c_bind9: Bind9Server, tmp_path: pathlib.Path) -> None:
    account_key = tmp_path / 'account.key'
    account_uri = register_account(run_playbook, persist_ca, account_key)
    base = fresh_name(a2c_bind9, 'wild')
    record = f'_validation-persist.{base}'
    # The record a user would write for the base name alone: it does not reach the subdomains.
    add_txt(a2c_bind9, record, f'{ISSUER}; accounturi={account_uri}')

    refused = run_playbook(
        module_play(persist_ca, account_key, ACCOUNT_TASKS + order_and_validate([f'*.{base}'], fails=True)), extra_vars={'account_key': str(account_key)}
    )
    entry = refused['Order']['challenge_data'][f'*.{base}']['dns-persist-01']
    assert entry['issuer-domain-names'] == [ISSUER]
    assert entry['record'] == record
    assert entry['record_value'] == f'{ISSUER}; accounturi={account_uri}; policy=wildcard'
    assert_refused(refused.failure_message('Let the CA validate'), persist_ca, f'*.{base}', record)

    # With the value acme_order proposes for the wildcard, a new order is validated.
    add_txt(a2c_bind9, record, entry['record_value'])
    issued = run_playbook(
        module_play(persist_ca, account_key, ACCOUNT_TASKS + order_and_validate([f'*.{base}'], fails=False)), extra_vars={'account_key': str(account_key)}
    )
    assert issued['Let the CA validate']['order_status'] == 'ready'
    assert issued['Let the CA validate']['authorizations'][0]['challenge'] == 'dns-persist-01'


def test_a_record_naming_another_account_is_refused_with_the_cas_reason(
    run_playbook: RunPlaybook, persist_ca: Acme2certifierServer, a2c_bind9: Bind9Server, tmp_path: pathlib.Path
) -> None:
    other_account = register_account(run_playbook, persist_ca, tmp_path / 'other.key')
    account_key = tmp_path / 'account.key'
    name = fresh_name(a2c_bind9, 'other')
    add_txt(a2c_bind9, f'_validation-persist.{name}', f'{ISSUER}; accounturi={other_account}')

    refused = run_playbook(
        module_play(persist_ca, account_key, ACCOUNT_TASKS + order_and_validate([name], fails=True)), extra_vars={'account_key': str(account_key)}
    )
    assert refused['Register the account']['account_uri'] != other_account
    assert_refused(refused.failure_message('Let the CA validate'), persist_ca, name, f'_validation-persist.{name}')


ROLE_PLAY = '''\
- name: Certificates validated by persistent records
  hosts: localhost
  gather_facts: false
  roles:
    - role: certforge.acme.acme_certificate
'''


def role_vars(ca: Acme2certifierServer, bind9: Bind9Server, root: pathlib.Path, names: list[str], **more: Any) -> dict[str, Any]:
    return {
        'acme_certificate_directory': ca.directory_url,
        'acme_certificate_ca_path': str(ca.ca_path),
        'acme_certificate_terms_agreed': True,
        'acme_certificate_account_email': 'persist@example.com',  # acme2certifier wants a contact
        'acme_certificate_state_dir': str(root / 'state'),
        'acme_certificate_dir': str(root / 'certs'),
        'acme_certificate_use_ari': False,
        'acme_certificate_challenge': 'dns-persist-01',
        'acme_certificate_rfc2136_server': bind9.address,
        'acme_certificate_rfc2136_port': bind9.port,
        'acme_certificate_rfc2136_zone': bind9.zone,
        'acme_certificate_rfc2136_key_name': bind9.tsig_key_name,
        'acme_certificate_rfc2136_key_secret': bind9.tsig_secret,
        'acme_certificate_dns_nameservers': [f'{bind9.address}:{bind9.port}'],
        'acme_certificate_certificates': [{'name': 'persist', 'identifiers': names}],
        **more,
    }


def test_the_role_publishes_the_record_once_and_renews_without_writing(
    run_playbook: RunPlaybook, persist_ca: Acme2certifierServer, a2c_bind9: Bind9Server, tmp_path: pathlib.Path
) -> None:
    base = fresh_name(a2c_bind9, 'role')
    names = [base, f'*.{base}']
    record = f'_validation-persist.{base}'
    settings = role_vars(persist_ca, a2c_bind9, tmp_path, names)

    before = soa_serial(a2c_bind9)
    first = run_playbook(ROLE_PLAY, extra_vars=settings)
    assert soa_serial(a2c_bind9) == before + 1  # one update for the record, none to remove it
    values = a2c_bind9.query_txt(record)
    account_uri = first['certforge.acme.acme_certificate : Register or find the account']['account_uri']
    # The wildcard and its base name share one record with policy=wildcard.
    assert values == [f'{ISSUER}; accounturi={account_uri}; policy=wildcard']
    fullchain = (tmp_path / 'certs' / 'persist' / 'fullchain.pem').read_text(encoding='ascii')
    assert sorted(san_names(fullchain)) == sorted(names)

    renewed_before = soa_serial(a2c_bind9)
    renewal = run_playbook(ROLE_PLAY, extra_vars={**settings, 'acme_certificate_force': True})
    assert soa_serial(a2c_bind9) == renewed_before  # zero DNS writes
    assert a2c_bind9.query_txt(record) == values  # the record stays
    renewed = (tmp_path / 'certs' / 'persist' / 'fullchain.pem').read_text(encoding='ascii')
    assert renewed != fullchain and sorted(san_names(renewed)) == sorted(names)
    if renewal.outcomes_of(ROLE_PUBLISH_TASK):  # the CA asked again: the record was found there
        assert not renewal.outcome(ROLE_PUBLISH_TASK).changed

    # Check mode for one more certificate: the record it would publish, a warning for a near persistUntil, no write.
    more = fresh_name(a2c_bind9, 'more')
    check_before = soa_serial(a2c_bind9)
    ends = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=10)).replace(microsecond=0)
    preview = run_playbook(
        ROLE_PLAY,
        check=True,
        extra_vars={
            **settings,
            'acme_certificate_certificates': [{'name': 'persist', 'identifiers': names}, {'name': 'more', 'identifiers': [more]}],
            'acme_certificate_dns_persist_until': ends.strftime('%Y-%m-%dT%H:%M:%SZ'),
        },
    )
    assert soa_serial(a2c_bind9) == check_before  # check mode writes nothing
    assert preview[CHECK_SHOW_TASK]['msg'] == {f'_validation-persist.{more}': [f'{ISSUER}; accounturi={account_uri}; persistUntil={int(ends.timestamp())}']}
    assert preview.outcome(ROLE_PUBLISH_TASK).changed  # the provider would add it
    assert preview.contains('is less than 60 days away: the next renewal of')
    assert a2c_bind9.query_txt(f'_validation-persist.{more}') == []
