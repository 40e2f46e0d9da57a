"""The role's DNS providers: its contract, checked with a provider task file a user writes (README "Your own DNS
provider"), and the provider files it ships (README "DNS providers").

Two hosts validate the same name at the same time: one wants ``shared-…``, the other ``*.shared-…``, so both
need a value at ``_acme-challenge.shared-…``. Their provider can only replace a whole TXT record set (as Route53
with ``overwrite`` and Cloudflare can), so it is safe only when the role hands it each name once, with the values
of both hosts, and on removal what must remain. The shipped nsupdate provider runs the same way against BIND; those
for services no test can reach run with the real modules of their collections (from ``.collections-peers``, made by
tests/setup.sh), whose argument checks pass before each fails for want of boto3 or of the service.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
from typing import Any

import pytest
import yaml

from test_role_support import verify_fullchain
from testbed.acme_ca import AcmeCA
from testbed.ansible import PlaybookRun, PlaybookRunner
from testbed.ports import free_port

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'dns_providers'
PEERS = pathlib.Path(__file__).resolve().parents[2] / '.collections-peers'
ROLE_TASKS = pathlib.Path(__file__).resolve().parents[2] / 'roles' / 'acme_certificate' / 'tasks'
RESULTS_TASK = 'Show what the role did'
HOSTS = ('one', 'two')
ARGUMENT_ERRORS = (
    'Unsupported parameters',
    'missing required arguments',
    'must be one of',
    'mutually exclusive',
    'is of type',
    'one of the following is required',
    'but all of the following are missing',
)


class PeersRunner(PlaybookRunner):
    """Our collection and the DNS collections of the ansible package; HTTPS goes to a closed loopback port."""

    def __init__(self, *, work_dir: pathlib.Path, collections_path: pathlib.Path, peers: bool = True) -> None:
        super().__init__(work_dir=work_dir, collections_path=collections_path)
        self.peers = peers
        self.closed_port = free_port()

    def environment(self) -> dict[str, str]:
        environment = super().environment()
        if self.peers:
            if not (PEERS / 'ansible_collections' / 'community' / 'dns').is_dir():
                pytest.fail(f'{PEERS} lacks community.dns; run tests/setup.sh')
            environment['ANSIBLE_COLLECTIONS_PATH'] += os.pathsep + str(PEERS)
        # A provider that calls its service's API fails at once instead of leaving the machine; the CA stays direct.
        for variable in ('https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'):
            environment[variable] = f'http://127.0.0.1:{self.closed_port}'
        for variable in ('no_proxy', 'NO_PROXY'):
            environment[variable] = 'localhost,127.0.0.1,127.0.0.0/8'
        return environment


class Validators:
    """Two local hosts, each with its own directory, and the role's variables for them."""

    def __init__(self, acme_ca: AcmeCA, root: pathlib.Path, collections_path: pathlib.Path) -> None:
        self.ca = acme_ca
        self.root = root
        self.runner = PeersRunner(work_dir=root / 'ansible', collections_path=collections_path)
        self.handover_log = root / 'handovers.jsonl'
        self.keyfile = root / 'tsig.key'
        bind9 = acme_ca.dns
        self.keyfile.write_text(f'key "{bind9.tsig_key_name}" {{ algorithm {bind9.tsig_algorithm}; secret "{bind9.tsig_secret}"; }};\n', encoding='ascii')
        self.keyfile.chmod(0o600)

    def cert_dir(self, host: str, name: str) -> pathlib.Path:
        return self.root / host / name

    def write_inventory(self, certificates: dict[str, list[dict[str, Any]]]) -> pathlib.Path:
        hosts = {
            host: {
                'ansible_connection': 'local',
                'ansible_python_interpreter': sys.executable,
                'acme_certificate_dir': str(self.root / host),
                'acme_certificate_certificates': certificates[host],
            }
            for host in HOSTS
        }
        path = self.root / 'inventory.yml'
        path.write_text(yaml.safe_dump({'all': {'children': {'validators': {'hosts': hosts}}}}), encoding='utf-8')
        return path

    def run(self, certificates: dict[str, list[dict[str, Any]]], *, provider: str, expect_failure: bool = False, **extra: Any) -> PlaybookRun:
        bind9 = self.ca.dns
        self.runner.inventory_path = self.write_inventory(certificates)
        variables = {
            'acme_certificate_directory': self.ca.directory_url,
            'acme_certificate_ca_path': str(self.ca.ca_path),
            'acme_certificate_state_dir': str(self.root / 'controller'),
            'acme_certificate_terms_agreed': True,
            'acme_certificate_account_email': 'hostmaster@acme.test',
            'acme_certificate_dns_tasks': str(PLAYBOOKS / provider) if provider.endswith('.yml') else '',
            'acme_certificate_dns_provider': 'rfc2136' if provider.endswith('.yml') else provider,
            'testbed_dns_port': bind9.port,
            'testbed_tsig_keyfile': str(self.keyfile),
            'testbed_handover_log': str(self.handover_log),
            **extra,
        }
        return self.runner.run(PLAYBOOKS / 'site.yml', extra_vars=variables, expect_failure=expect_failure)

    def handovers(self) -> list[dict[str, Any]]:
        if not self.handover_log.exists():
            return []
        return [json.loads(line) for line in self.handover_log.read_text(encoding='utf-8').splitlines()]


@pytest.fixture
def validators(acme_ca: AcmeCA, tmp_path: pathlib.Path, collections_path: pathlib.Path) -> Validators:
    return Validators(acme_ca, tmp_path, collections_path)


def results(run: PlaybookRun) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        outcome.host: {record['name']: record for record in outcome.result['acme_certificate_results']}
        for outcome in run.outcomes_of(RESULTS_TASK)
        if outcome.status == 'ok'
    }


def test_two_hosts_sharing_a_name_both_get_their_certificates_through_a_provider_that_replaces_the_record_set(validators: Validators, acme_ca: AcmeCA) -> None:
    shared = acme_ca.unique_name('shared')
    certificates = {
        'one': [{'name': 'base', 'identifiers': [shared], 'challenge': 'dns-01'}],
        'two': [{'name': 'wildcard', 'identifiers': [f'*.{shared}'], 'challenge': 'dns-01'}],
    }
    run = validators.run(certificates, provider='replace_rrset.yml')

    done = results(run)
    assert (done['one']['base']['action'], done['two']['wildcard']['action']) == ('new', 'new'), done
    verify_fullchain((validators.cert_dir('one', 'base') / 'fullchain.pem').read_bytes(), root_pem=acme_ca.root_pem, names=[shared])
    verify_fullchain((validators.cert_dir('two', 'wildcard') / 'fullchain.pem').read_bytes(), root_pem=acme_ca.root_pem, names=[f'*.{shared}'])
    # Once per name with both hosts' values, then once to remove them, leaving nothing behind.
    challenge = f'_acme-challenge.{shared}'
    present, absent = validators.handovers()
    assert present['state'] == 'present' and list(present['records']) == [challenge] and len(present['records'][challenge]) == 2
    assert absent == {'state': 'absent', 'records': present['records']}
    assert acme_ca.dns.query_txt(challenge) == []


def test_the_shipped_nsupdate_provider_issues_for_two_hosts_sharing_a_name(validators: Validators, acme_ca: AcmeCA) -> None:
    """community.general.nsupdate against BIND. Its wait (community.dns.wait_for_txt) stays off: that module looks up
    the addresses of name servers with this machine's resolver, which no test may ask; its arguments are checked below."""
    bind9 = acme_ca.dns
    shared = acme_ca.unique_name('nsupdate')
    certificates = {
        'one': [{'name': 'base', 'identifiers': [shared], 'challenge': 'dns-01'}],
        'two': [{'name': 'wildcard', 'identifiers': [f'*.{shared}'], 'challenge': 'dns-01'}],
    }
    run = validators.run(
        certificates,
        provider='nsupdate',
        acme_certificate_rfc2136_server='127.0.0.1',
        acme_certificate_rfc2136_port=bind9.port,
        acme_certificate_rfc2136_key_name=bind9.tsig_key_name,
        acme_certificate_rfc2136_key_secret=bind9.tsig_secret,
        acme_certificate_dns_propagation_timeout=0,
    )
    done = results(run)
    assert (done['one']['base']['action'], done['two']['wildcard']['action']) == ('new', 'new'), done
    verify_fullchain((validators.cert_dir('two', 'wildcard') / 'fullchain.pem').read_bytes(), root_pem=acme_ca.root_pem, names=[f'*.{shared}'])
    challenge = f'_acme-challenge.{shared}'
    updates = [
        (outcome.host, item['invocation']['module_args'])
        for outcome in run.outcomes
        if outcome.action == 'community.general.nsupdate'
        for item in outcome.result['results']
    ]
    # One host handed the name over, with both values, then removed it.
    assert [(host, arguments['record'], arguments['state']) for host, arguments in updates] == [
        ('one', challenge + '.', 'present'),
        ('one', challenge + '.', 'absent'),
    ]
    assert len(updates[0][1]['value']) == 2
    assert bind9.query_txt(challenge) == []
    assert not run.contains(bind9.tsig_secret)


def test_the_wait_of_the_shipped_providers_passes_wait_for_txts_argument_checks() -> None:
    """providers/wait-for-txt.yml, templated as the role runs it, against community.dns.wait_for_txt's own argument spec."""
    # pylint: disable=import-outside-toplevel  # Ansible's templating, only for this check
    import ast

    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    source = (PEERS / 'ansible_collections' / 'community' / 'dns' / 'plugins' / 'modules' / 'wait_for_txt.py').read_text(encoding='utf-8')
    call = next(node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.keyword) and node.arg == 'argument_spec')
    argument_spec = ast.literal_eval(call.value)
    task = yaml.safe_load((ROLE_TASKS / 'providers' / 'wait-for-txt.yml').read_text(encoding='utf-8'))[0]
    omit = '__omit_place_holder__'
    variables = {
        'omit': omit,
        'acme_certificate_dns_propagation_timeout': 120,
        'acme_certificate_dns_resolvers': ['192.0.2.53'],
        'acme_certificate_dns_records': {'_acme-challenge.example.com': ['first', 'second']},
    }
    # As Ansible does with a task file of the role: its strings are templates.
    trusted = {name: trust_as_template(value) if isinstance(value, str) else value for name, value in task['community.dns.wait_for_txt'].items()}
    arguments = Templar(loader=DataLoader(), variables=variables).template(trusted)
    arguments = {name: value for name, value in arguments.items() if value != omit}
    result = ArgumentSpecValidator(argument_spec).validate(arguments)
    assert not result.error_messages, result.error_messages
    assert result.validated_parameters['records'] == [{'name': '_acme-challenge.example.com', 'values': ['first', 'second'], 'mode': 'subset'}]
    assert result.validated_parameters['server'] == ['192.0.2.53'] and result.validated_parameters['timeout'] == 120


PROVIDER_FILE_PLAYBOOK = """\
- name: A shipped DNS provider, as the role includes it to publish, to remove keeping a value, and to remove
  hosts: localhost
  gather_facts: false
  tasks:
""" + ''.join(
    f"""\
    - name: Hand the records over ({state}, {len(remaining)} remaining)
      block:
        - name: Include the provider
          ansible.builtin.include_role:
            name: certforge.acme.acme_certificate
            tasks_from: dns-{{provider}}.yml
          vars:
            acme_certificate_dns_state: {state}
            acme_certificate_dns_remaining: {json.dumps(remaining).replace('{', '{{').replace('}', '}}')}
      rescue:
        - name: Go on with the next hand-over
          ansible.builtin.debug:
            msg: failed as expected
"""
    for state, remaining in (('present', {}), ('absent', {'_acme-challenge.example.com': ['kept']}), ('absent', {}))
)

# What each module fails with here once it accepted its arguments: no boto3 on this machine, no way to its service.
NO_SERVICE = {
    'route53': ('amazon.aws.route53', 'botocore'),
    'cloudflare': ('community.general.cloudflare_dns', 'Connection refused'),
    'hetzner': ('community.dns.hetzner_dns_record_set', 'HTTP status code -1'),  # the connection failed
}


@pytest.mark.parametrize('provider', sorted(NO_SERVICE))
def test_shipped_providers_without_a_reachable_service_pass_the_modules_argument_checks(
    provider: str, tmp_path: pathlib.Path, collections_path: pathlib.Path
) -> None:
    action, failure = NO_SERVICE[provider]
    runner = PeersRunner(work_dir=tmp_path, collections_path=collections_path)
    records = {'_acme-challenge.example.com': ['first', 'second'], '_acme-challenge.www.example.com.': ['third']}
    run = runner.run(
        PROVIDER_FILE_PLAYBOOK.format(provider=provider),
        extra_vars={
            'acme_certificate_dns_records': records,
            'acme_certificate_dns_propagation_timeout': 0,
            'acme_certificate_route53_zone': 'example.com',
            'acme_certificate_cloudflare_zone': 'example.com',
            'acme_certificate_cloudflare_api_token': 'not-a-real-token',
            'acme_certificate_hetzner_zone': 'example.com',
            'acme_certificate_hetzner_api_token': 'not-a-real-token',
        },
    )
    calls = [item for outcome in run.outcomes if outcome.action == action for item in outcome.result['results']]
    assert calls, f'{action} never ran'
    for item in calls:
        message = item.get('msg', '')
        assert item['failed'] and failure in message and not any(error in message for error in ARGUMENT_ERRORS), item
    assert not run.contains('not-a-real-token')
    if provider != 'cloudflare':
        # Whole record sets: each name set to its values, then to what remains, then deleted.
        arguments = [item['invocation']['module_args'] for item in calls]
        assert [(arguments['record'].rstrip('.'), arguments['state'], arguments.get('value')) for arguments in arguments] == [
            ('_acme-challenge.example.com', 'present', ['"first"', '"second"'] if provider == 'route53' else ['first', 'second']),
            ('_acme-challenge.www.example.com', 'present', ['"third"'] if provider == 'route53' else ['third']),
            ('_acme-challenge.example.com', 'present', ['"kept"'] if provider == 'route53' else ['kept']),
            ('_acme-challenge.www.example.com', 'absent', None),
            ('_acme-challenge.example.com', 'absent', None),
            ('_acme-challenge.www.example.com', 'absent', None),
        ]


@pytest.mark.parametrize(
    'provider, collections', [('route53', 'amazon.aws'), ('hetzner', 'community.dns'), ('nsupdate', 'community.general and community.dns')]
)
def test_a_missing_collection_fails_with_one_line_naming_it(provider: str, collections: str, tmp_path: pathlib.Path, collections_path: pathlib.Path) -> None:
    runner = PeersRunner(work_dir=tmp_path, collections_path=collections_path, peers=False)
    run = runner.run(PROVIDER_FILE_PLAYBOOK.format(provider=provider), extra_vars={'acme_certificate_dns_records': {'_acme-challenge.example.com': ['value']}})
    (check, *_rest) = [outcome for outcome in run.outcomes if outcome.action == 'ansible.builtin.fail']
    install = collections.replace(' and ', ' ')
    assert check.result['msg'] == (
        f'acme_certificate_dns_provider={provider} needs the collection{"s" if " and " in collections else ""} {collections}, '
        f'which Ansible cannot find; install {"them" if " and " in collections else "it"} with: ansible-galaxy collection install {install}'
    )
    assert "couldn't resolve module/action" not in run.stdout + run.stderr


def test_what_killed_runs_left_at_a_shared_name_goes_once_and_the_new_values_stay(validators: Validators, acme_ca: AcmeCA) -> None:
    """Both hosts find a value a killed run of theirs published at the shared name; the replacing provider removes
    them in one hand-over before either host publishes, then publishes both new values in one."""
    bind9 = acme_ca.dns
    shared = acme_ca.unique_name('leftover')
    challenge = f'_acme-challenge.{shared}'
    provisioned = validators.root / 'controller' / 'provisioned'
    provisioned.mkdir(parents=True, mode=0o700)
    for host, name in (('one', 'base'), ('two', 'wildcard')):
        bind9.add_txt(challenge, f'killed-{host}', ttl=60)
        record = {'http-01': [], 'dns-01': {challenge: [f'killed-{host}']}, 'tls-alpn-01': []}
        (provisioned / f'{host}-{name}.json').write_text(json.dumps(record), encoding='utf-8')
    certificates = {
        'one': [{'name': 'base', 'identifiers': [shared], 'challenge': 'dns-01'}],
        'two': [{'name': 'wildcard', 'identifiers': [f'*.{shared}'], 'challenge': 'dns-01'}],
    }
    run = validators.run(certificates, provider='replace_rrset.yml')

    done = results(run)
    assert (done['one']['base']['action'], done['two']['wildcard']['action']) == ('new', 'new'), done
    leftovers, present, absent = validators.handovers()
    assert leftovers == {'state': 'absent', 'records': {challenge: ['killed-one', 'killed-two']}}
    assert present['state'] == 'present' and len(present['records'][challenge]) == 2
    assert absent == {'state': 'absent', 'records': present['records']}
    assert bind9.query_txt(challenge) == []
    assert sorted(path.name for path in provisioned.iterdir()) == []


def test_a_host_failing_before_its_validation_keeps_its_value_for_the_next_run_to_remove(validators: Validators, acme_ca: AcmeCA) -> None:
    """Host two fails while publishing an http-01 file (its web root cannot be written), after the play's dns-01
    records are worked out: one's removal keeps two's value (a whole-set provider sets the name to it), and two
    keeps the record holding it (not the other), so that the next run removes the value."""
    bind9 = acme_ca.dns
    shared = acme_ca.unique_name('failing')
    challenge = f'_acme-challenge.{shared}'
    broken = {'name': 'broken', 'identifiers': [acme_ca.unique_name('web')], 'challenge': 'http-01', 'webroot': '/proc/no-web-root-here'}
    certificates = {
        'one': [{'name': 'base', 'identifiers': [shared], 'challenge': 'dns-01'}],
        'two': [{'name': 'wildcard', 'identifiers': [f'*.{shared}'], 'challenge': 'dns-01'}, broken],
    }
    first = validators.run(certificates, provider='replace_rrset.yml', expect_failure=True)
    assert results(first)['one']['base']['action'] == 'new'
    assert [outcome.host for outcome in first.outcomes if outcome.failed and not outcome.ignored][0] == 'two'
    kept = bind9.query_txt(challenge)
    assert len(kept) == 1
    provisioned = validators.root / 'controller' / 'provisioned'
    assert sorted(path.name for path in provisioned.iterdir()) == ['two-wildcard.json']

    certificates['two'].remove(broken)
    second = validators.run(certificates, provider='replace_rrset.yml')
    assert results(second)['two']['wildcard']['action'] == 'new'
    assert bind9.query_txt(challenge) == []
    assert sorted(path.name for path in provisioned.iterdir()) == []
