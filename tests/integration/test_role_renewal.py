"""The acme_certificate role renews by the CA's rule: when less than a third of the lifetime is left.

A pebble that issues one-day certificates serves the fleet. web1 and dns1 get their certificates
first, tls1 a few seconds later. The third run decides on moved clocks: each host's planning module
runs under faketime, frozen a minute after the moment its certificate is due (web1, dns1) or a minute
before (tls1), so it renews exactly those two and leaves tls1's certificate alone however long the
runs take (pebble and the controller keep the real clock; nothing is near expiry). Each certificate's
moment includes its share of the spread (acme_certificate_plan's docs), computed by the collection's
own rule from the deployed certificate.
"""

from __future__ import annotations

import datetime
import pathlib
import re
from collections.abc import Iterator

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.certificates import certificate_info
from ansible_collections.certforge.acme.plugins.module_utils._acme.renewal import renewal_time
from test_role_support import Fleet, Step, certificate, create_fleet, serial_of, verify_fullchain
from testbed.bind9 import Bind9Server
from testbed.fixtures import ChallengePorts, PebbleFactory
from testbed.host_python import host_python
from testbed.moved_clock import moved_clock_interpreter
from testbed.pebble import PebbleServer, PebbleSettings
from testbed.webserver import WebrootServer

VALIDITY_SECONDS = 24 * 3600
# How far from its certificate's moment each host's moved clock stands.
CLOCK_MARGIN = datetime.timedelta(minutes=1)
# The certificate of each host in this test.
CERTIFICATES = {'web1': 'www', 'dns1': 'mail', 'tls1': 'api'}


@pytest.fixture(scope='module')
def short_lived_pebble(pebble_factory: PebbleFactory) -> PebbleServer:
    """A pebble whose certificates are valid for a day."""
    return pebble_factory(PebbleSettings(certificate_validity_seconds=VALIDITY_SECONDS), name='short-lived')


@pytest.fixture(scope='module')
def fleet(
    tmp_path_factory: pytest.TempPathFactory,
    short_lived_pebble: PebbleServer,
    bind9: Bind9Server,
    webroot: WebrootServer,
    challenge_ports: ChallengePorts,
    collections_path: pathlib.Path,
) -> Iterator[Fleet]:
    """The fleet with one certificate per host."""
    fleet = create_fleet(
        tmp_path_factory.mktemp('renewal'),
        pebble=short_lived_pebble,
        bind9=bind9,
        webroot=webroot,
        challenge_ports=challenge_ports,
        collections_path=collections_path,
    )
    for host, name in CERTIFICATES.items():
        host_vars = fleet.host_vars(host)
        host_vars['acme_certificate_certificates'] = [entry for entry in host_vars['acme_certificate_certificates'] if entry['name'] == name]
        fleet.set_host_vars(host, host_vars)
    yield fleet
    print('\nrole runs with one-day certificates:', ', '.join(f'{label} {seconds:.1f} s' for label, seconds in fleet.timings.items()))


def validity(step: Step, fleet: Fleet, host: str) -> tuple[float, float]:
    """(not before, not after) of the host's certificate as deployed, in seconds since the epoch."""
    cert = certificate(step.content(fleet.cert_dir(host, CERTIFICATES[host]) / 'cert.pem'))
    return cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()


def renewal_due(step: Step, fleet: Fleet, host: str) -> datetime.datetime:
    """When the host's certificate is due: a third of its lifetime left, moved by its share of the spread."""
    info = certificate_info(certificate(step.content(fleet.cert_dir(host, CERTIFICATES[host]) / 'cert.pem')))
    return renewal_time(info, renew_before_days=None)


@pytest.fixture(scope='module')
def steps(fleet: Fleet) -> tuple[Step, Step, Step]:
    """web1 and dns1 first; tls1 later; then the run whose hosts see clocks at which the first two are
    due and tls1's is not."""
    tls1_certificates = fleet.host_vars('tls1')['acme_certificate_certificates']
    fleet.set_host_var('tls1', 'acme_certificate_certificates', [])
    first = fleet.step('web1 and dns1 issued')
    fleet.set_host_var('tls1', 'acme_certificate_certificates', tls1_certificates)
    second = fleet.step('tls1 issued')
    moments = {
        'web1': renewal_due(first, fleet, 'web1') + CLOCK_MARGIN,
        'dns1': renewal_due(first, fleet, 'dns1') + CLOCK_MARGIN,
        'tls1': renewal_due(second, fleet, 'tls1') - CLOCK_MARGIN,
    }
    with fleet.inventory_changes():
        for host, moment in moments.items():
            interpreter = moved_clock_interpreter(fleet.root / f'python-at-renewal-time-{host}', at=moment, python=host_python())
            fleet.set_host_var(host, 'ansible_python_interpreter', str(interpreter))
        third = fleet.step('renewal of the due certificates (moved clocks)')
    return first, second, third


def test_first_runs_issue_short_lived_certificates(fleet: Fleet, steps: tuple[Step, Step, Step]) -> None:
    first, second, _third = steps
    assert {host for host, records in first.results.items() if records} == {'web1', 'dns1'}
    assert [record['action'] for record in second.results['tls1'].values()] == ['new']
    for step, host in ((first, 'web1'), (first, 'dns1'), (second, 'tls1')):
        not_before, not_after = validity(step, fleet, host)
        assert not_after - not_before == pytest.approx(VALIDITY_SECONDS, abs=2)


def test_renewal_by_the_third_of_the_lifetime_renews_only_the_due_certificates(fleet: Fleet, steps: tuple[Step, Step, Step]) -> None:
    first, second, third = steps
    for host in ('web1', 'dns1'):
        record = third.results[host][CERTIFICATES[host]]
        assert (record['action'], record['changed']) == ('renew', True), host
        # one-day certificates: the time left is told in hours, never "0 days"
        assert re.fullmatch(r'it expires in \d+ hours, within a third of its lifetime \(and its share of the spread\)', record['reason']), record['reason']
        cert_path = fleet.cert_dir(host, CERTIFICATES[host]) / 'cert.pem'
        assert serial_of(third.content(cert_path)) != serial_of(first.content(cert_path))
        verify_fullchain(
            third.content(fleet.cert_dir(host, CERTIFICATES[host]) / 'fullchain.pem'), root_pem=fleet.pebble.root_pem(), names=record['identifiers']
        )
    record = third.results['tls1']['api']
    assert (record['action'], record['changed']) == ('none', False)
    api = fleet.cert_dir('tls1', 'api')
    assert {path for path in third.changed_paths() if path.startswith(f'{api}/')} == set()
    assert third.content(api / 'cert.pem') == second.content(api / 'cert.pem')
    assert third.orders_created() == {'web1': ['www'], 'dns1': ['mail']}
    assert third.run.recap['tls1']['changed'] == 0
