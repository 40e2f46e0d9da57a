"""Knowing before it breaks: the hosts' Prometheus textfile metrics and the fleet report of playbooks/report.yml.

Two local hosts against pebble: ``web1`` whose web root is served, ``web2`` whose is not (its validation fails).
The shipped playbooks/report.yml runs the role and writes the report; each host has
acme_certificate_metrics_file in a directory of its own. The metrics file is read with a strict parser of the
exposition format (testbed/prometheus_text.py), not with the writer's own.
"""

from __future__ import annotations

import json
import pathlib
import sys
import typing as t

import pytest
import yaml
from cryptography import x509

from test_issuance_support import unique_name
from testbed.ansible import PlaybookRun, PlaybookRunner
from testbed.bind9 import Bind9Server
from testbed.pebble import PebbleServer
from testbed.prometheus_text import by_label
from testbed.webserver import WebrootServer

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
REPORT = REPO_ROOT / 'playbooks' / 'report.yml'
REVOKE = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'role_options' / 'revoke.yml'
EXPIRY = 'certforge_acme_certificate_expiry_timestamp_seconds'
RENEWAL = 'certforge_acme_certificate_last_renewal_timestamp_seconds'
ATTEMPT = 'certforge_acme_certificate_last_attempt_timestamp_seconds'
FAILED = 'certforge_acme_certificate_last_attempt_failed'


class Monitored:
    """The two hosts, their inventory, and where their metrics and the report go."""

    def __init__(self, root: pathlib.Path, pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path) -> None:
        self.root = root
        self.zone = bind9.zone
        self.runner = PlaybookRunner(work_dir=root / 'ansible', collections_path=collections_path)
        self.report_dir = root / 'controller' / 'report'
        unserved = root / 'not-served'
        unserved.mkdir()
        self.hosts: dict[str, dict[str, t.Any]] = {}
        for host, served in (('web1', webroot.path), ('web2', unserved)):
            (root / host / 'textfile').mkdir(parents=True)
            self.hosts[host] = {
                'ansible_connection': 'local',
                'ansible_python_interpreter': sys.executable,
                'acme_certificate_directory': pebble.directory_url,
                'acme_certificate_ca_path': str(pebble.ca_path),
                'acme_certificate_state_dir': str(root / 'controller' / 'acme'),
                'acme_certificate_terms_agreed': True,
                'acme_certificate_dir': str(root / host / 'certs'),
                'acme_certificate_webroot': str(served),
                'acme_certificate_challenge_timeout': 60,
                'acme_certificate_metrics_file': str(self.metrics_path(host)),
                'acme_certificate_certificates': [{'name': 'site', 'identifiers': [unique_name(f'monitor-{host}', bind9.zone)]}],
            }

    def metrics_path(self, host: str) -> pathlib.Path:
        return self.root / host / 'textfile' / 'acme_certificates.prom'

    def metrics(self, host: str) -> dict[str, dict[str, float]]:
        """certificate -> metric -> value, read strictly."""
        return by_label(self.metrics_path(host).read_text(encoding='utf-8'), 'certificate')

    def cert_path(self, host: str) -> pathlib.Path:
        return self.root / host / 'certs' / 'site' / 'cert.pem'

    def run(self, playbook: pathlib.Path = REPORT, *, check: bool = False, expect_failure: bool = False, **extra_vars: t.Any) -> PlaybookRun:
        inventory = self.root / 'inventory.yml'
        inventory.write_text(yaml.safe_dump({'all': {'hosts': self.hosts}}), encoding='utf-8')
        self.runner.inventory_path = inventory
        return self.runner.run(
            playbook, check=check, expect_failure=expect_failure, extra_vars={'acme_certificate_report_dir': str(self.report_dir), **extra_vars}
        )

    def report(self) -> dict[str, t.Any]:
        return json.loads((self.report_dir / 'certificates.json').read_text(encoding='utf-8'))

    def markdown_rows(self) -> list[list[str]]:
        """The cells of the Markdown table's rows, below its header."""
        lines = [line for line in (self.report_dir / 'certificates.md').read_text(encoding='utf-8').splitlines() if line.startswith('|')]
        return [[cell.strip() for cell in line.strip('|').split(' | ')] for line in lines[2:]]


def not_after(pem: bytes) -> float:
    certificate = x509.load_pem_x509_certificate(pem)
    return certificate.not_valid_after_utc.timestamp()


@pytest.fixture(name='monitored')
def fixture_monitored(tmp_path: pathlib.Path, pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path) -> Monitored:
    return Monitored(tmp_path, pebble, webroot, bind9, collections_path)


def test_report_lists_the_failing_host_first_and_metrics_record_the_outcomes(monitored: Monitored) -> None:
    monitored.run(expect_failure=True)  # web2's validation fails; the run fails once the report is written

    rows = monitored.report()['certificates']
    assert [(row['host'], row['name'], row['failed']) for row in rows] == [('web2', 'site', True), ('web1', 'site', False)]
    assert 'validation failed' in rows[0]['failure'] and rows[0]['failure'].startswith('web2: ')
    good = rows[1]
    deployed = monitored.cert_path('web1').read_bytes()
    assert good['action'] == 'new' and good['reason'] and good['changed']
    assert good['identifiers'] == monitored.hosts['web1']['acme_certificate_certificates'][0]['identifiers']
    assert good['issuer'] == x509.load_pem_x509_certificate(deployed).issuer.rfc4514_string()
    assert good['days_left'] > 0
    assert [row[:2] for row in monitored.markdown_rows()] == [['web2', 'site'], ['web1', 'site']]

    good_metrics = monitored.metrics('web1')['site']
    assert good_metrics[EXPIRY] == pytest.approx(not_after(deployed), abs=1)
    assert good_metrics[FAILED] == 0 and good_metrics[RENEWAL] == good_metrics[ATTEMPT]
    # A first attempt that failed: nothing is deployed, so there is no expiry and no renewal yet.
    assert monitored.metrics('web2') == {'site': {ATTEMPT: pytest.approx(good_metrics[ATTEMPT], abs=3600), FAILED: 1.0}}

    # A renewal of web1 that fails: the certificate in place keeps its expiry and its renewal time. A name of its own
    # that the CA cannot validate (pebble may reuse the first name's valid authorization).
    monitored.hosts['web1']['acme_certificate_webroot'] = monitored.hosts['web2']['acme_certificate_webroot']
    monitored.hosts['web1']['acme_certificate_certificates'][0]['identifiers'].append(unique_name('monitor-web1-more', monitored.zone))
    monitored.run(expect_failure=True)
    failed_renewal = monitored.metrics('web1')['site']
    assert failed_renewal[FAILED] == 1
    assert failed_renewal[EXPIRY] == good_metrics[EXPIRY] and failed_renewal[RENEWAL] == good_metrics[RENEWAL]
    assert failed_renewal[ATTEMPT] >= good_metrics[ATTEMPT]
    assert monitored.cert_path('web1').read_bytes() == deployed
    rows = monitored.report()['certificates']
    assert [(row['host'], row['failed']) for row in rows] == [('web2', True), ('web1', True)]


def test_check_mode_is_an_audit_that_still_writes_the_report(monitored: Monitored) -> None:
    del monitored.hosts['web2']
    monitored.run()
    metrics_before = monitored.metrics_path('web1').read_bytes()
    deployed = monitored.cert_path('web1').read_bytes()
    (monitored.report_dir / 'certificates.json').unlink()

    monitored.run(check=True, acme_certificate_force=True)
    report = monitored.report()
    assert report['check_mode'] is True
    [row] = report['certificates']
    assert (row['host'], row['action'], row['failed'], row['changed']) == ('web1', 'renew', False, False)
    assert row['not_after'] and row['days_left'] > 0
    assert monitored.cert_path('web1').read_bytes() == deployed
    assert monitored.metrics_path('web1').read_bytes() == metrics_before


def test_a_removed_certificate_leaves_the_metrics_file(monitored: Monitored) -> None:
    del monitored.hosts['web2']
    monitored.run()
    assert list(monitored.metrics('web1')) == ['site']

    monitored.run(REVOKE, acme_certificate_revoke_name='site', acme_certificate_revoke_remove=True)
    assert not monitored.cert_path('web1').exists()
    assert not monitored.metrics_path('web1').exists()


def test_the_report_playbook_without_a_report_directory_refuses_before_it_does_anything(monitored: Monitored) -> None:
    run = monitored.run(expect_failure=True, acme_certificate_report_dir='')
    assert 'acme_certificate_report_dir: empty; give the directory on the controller' in run.failure_message('Refuse to start without a report directory')
    assert not monitored.cert_path('web1').exists() and not (monitored.root / 'controller').exists()
