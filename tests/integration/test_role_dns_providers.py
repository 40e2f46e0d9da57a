"""The role's DNS provider contract, checked with provider task files a user writes (README "Your own DNS provider").

Two hosts validate the same name at the same time: one wants ``shared-…``, the other ``*.shared-…``, so both
need a value at ``_acme-challenge.shared-…``. Their provider can only replace a whole TXT record set (as Route53
with ``overwrite`` and Cloudflare can), so it is safe only when the role hands it each name once, with the values
of both hosts, and on removal what must remain.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import pytest
import yaml

from test_role_support import verify_fullchain
from testbed.acme_ca import AcmeCA
from testbed.ansible import PlaybookRun, PlaybookRunner

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'dns_providers'
RESULTS_TASK = 'Show what the role did'
HOSTS = ('one', 'two')


class Validators:
    """Two local hosts, each with its own directory, and the role's variables for them."""

    def __init__(self, acme_ca: AcmeCA, root: pathlib.Path, collections_path: pathlib.Path) -> None:
        self.ca = acme_ca
        self.root = root
        self.runner = PlaybookRunner(work_dir=root / 'ansible', collections_path=collections_path)
        self.handover_log = root / 'handovers.jsonl'
        self.keyfile = root / 'tsig.key'
        bind9 = acme_ca.dns
        self.keyfile.write_text(f'key "{bind9.tsig_key_name}" {{ algorithm {bind9.tsig_algorithm}; secret "{bind9.tsig_secret}"; }};\n',
                                encoding='ascii')
        self.keyfile.chmod(0o600)

    def cert_dir(self, host: str, name: str) -> pathlib.Path:
        return self.root / host / name

    def write_inventory(self, certificates: dict[str, list[dict[str, Any]]]) -> pathlib.Path:
        hosts = {host: {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                        'acme_certificate_dir': str(self.root / host), 'acme_certificate_certificates': certificates[host]}
                 for host in HOSTS}
        path = self.root / 'inventory.yml'
        path.write_text(yaml.safe_dump({'all': {'children': {'validators': {'hosts': hosts}}}}), encoding='utf-8')
        return path

    def run(self, certificates: dict[str, list[dict[str, Any]]], *, provider: str, expect_failure: bool = False) -> PlaybookRun:
        bind9 = self.ca.dns
        self.runner.inventory_path = self.write_inventory(certificates)
        variables = {
            'acme_certificate_directory': self.ca.directory_url,
            'acme_certificate_ca_path': str(self.ca.ca_path),
            'acme_certificate_state_dir': str(self.root / 'controller'),
            'acme_certificate_terms_agreed': True,
            'acme_certificate_account_email': 'hostmaster@acme.test',
            'acme_certificate_dns_tasks': str(PLAYBOOKS / provider),
            'testbed_dns_port': bind9.port,
            'testbed_tsig_keyfile': str(self.keyfile),
            'testbed_handover_log': str(self.handover_log),
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
    return {outcome.host: {record['name']: record for record in outcome.result['acme_certificate_results']}
            for outcome in run.outcomes_of(RESULTS_TASK) if outcome.status == 'ok'}


def test_two_hosts_sharing_a_name_both_get_their_certificates_through_a_provider_that_replaces_the_record_set(
        validators: Validators, acme_ca: AcmeCA) -> None:
    shared = acme_ca.unique_name('shared')
    certificates = {'one': [{'name': 'base', 'identifiers': [shared], 'challenge': 'dns-01'}],
                    'two': [{'name': 'wildcard', 'identifiers': [f'*.{shared}'], 'challenge': 'dns-01'}]}
    run = validators.run(certificates, provider='replace_rrset.yml')

    done = results(run)
    assert (done['one']['base']['action'], done['two']['wildcard']['action']) == ('new', 'new'), done
    verify_fullchain((validators.cert_dir('one', 'base') / 'fullchain.pem').read_bytes(), root_pem=acme_ca.root_pem, names=[shared])
    verify_fullchain((validators.cert_dir('two', 'wildcard') / 'fullchain.pem').read_bytes(), root_pem=acme_ca.root_pem,
                     names=[f'*.{shared}'])
    # Once per name with both hosts' values, then once to remove them, leaving nothing behind.
    challenge = f'_acme-challenge.{shared}'
    present, absent = validators.handovers()
    assert present['state'] == 'present' and list(present['records']) == [challenge] and len(present['records'][challenge]) == 2
    assert absent == {'state': 'absent', 'records': present['records']}
    assert acme_ca.dns.query_txt(challenge) == []
