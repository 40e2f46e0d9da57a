"""The acme_certificate role renews by the CA's rule: when less than a third of the lifetime is left.

A pebble that issues one-minute certificates serves the fleet. web1 and dns1 get their certificates
first, tls1 a while later; once the first two are past two thirds of their lifetime, a run renews
exactly those two and leaves tls1's younger certificate alone.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from test_role_support import Fleet, Step, certificate, create_fleet, serial_of, verify_fullchain, wait_until
from testbed.bind9 import Bind9Server
from testbed.fixtures import ChallengePorts, PebbleFactory
from testbed.pebble import PebbleServer, PebbleSettings
from testbed.webserver import WebrootServer

VALIDITY_SECONDS = 60
# The longest a run may take from its start to the decision on each host.
PLAN_SECONDS = 8
# The certificate of each host in this test.
CERTIFICATES = {'web1': 'www', 'dns1': 'mail', 'tls1': 'api'}


@pytest.fixture(scope='module')
def short_lived_pebble(pebble_factory: PebbleFactory) -> PebbleServer:
    """A pebble whose certificates are valid for a minute."""
    return pebble_factory(PebbleSettings(certificate_validity_seconds=VALIDITY_SECONDS), name='short-lived')


@pytest.fixture(scope='module')
def fleet(tmp_path_factory: pytest.TempPathFactory, short_lived_pebble: PebbleServer, bind9: Bind9Server,
          webroot: WebrootServer, challenge_ports: ChallengePorts, collections_path: pathlib.Path) -> Iterator[Fleet]:
    """The fleet with one certificate per host."""
    fleet = create_fleet(tmp_path_factory.mktemp('renewal'), pebble=short_lived_pebble, bind9=bind9, webroot=webroot,
                         challenge_ports=challenge_ports, collections_path=collections_path)
    for host, name in CERTIFICATES.items():
        host_vars = fleet.host_vars(host)
        host_vars['acme_certificate_certificates'] = [
            entry for entry in host_vars['acme_certificate_certificates'] if entry['name'] == name]
        fleet.set_host_vars(host, host_vars)
    yield fleet
    print('\nrole runs with short-lived certificates:', ', '.join(f'{label} {seconds:.1f} s' for label, seconds in fleet.timings.items()))


def validity(step: Step, fleet: Fleet, host: str) -> tuple[float, float]:
    """(not before, not after) of the host's certificate as deployed, in seconds since the epoch."""
    cert = certificate(step.content(fleet.cert_dir(host, CERTIFICATES[host]) / 'cert.pem'))
    return cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()


def renewal_due(step: Step, fleet: Fleet, host: str) -> float:
    """When a third of the lifetime of the host's certificate is left."""
    not_before, not_after = validity(step, fleet, host)
    return not_after - (not_after - not_before) / 3


@pytest.fixture(scope='module')
def steps(fleet: Fleet) -> tuple[Step, Step, Step]:
    """web1 and dns1 first; tls1 once a quarter of their lifetime has passed; then the run at which
    the first two are due and tls1's is not."""
    tls1_certificates = fleet.host_vars('tls1')['acme_certificate_certificates']
    fleet.set_host_var('tls1', 'acme_certificate_certificates', [])
    first = fleet.step('web1 and dns1 issued')
    wait_until(validity(first, fleet, 'web1')[0] + VALIDITY_SECONDS / 4)
    fleet.set_host_var('tls1', 'acme_certificate_certificates', tls1_certificates)
    second = fleet.step('tls1 issued')
    due = max(renewal_due(first, fleet, host) for host in ('web1', 'dns1')) + 1
    # The third run decides within seconds of starting; tls1's certificate must not be due by then.
    if renewal_due(second, fleet, 'tls1') < due + PLAN_SECONDS:
        pytest.fail('tls1 was issued too late after the others for this test to tell them apart; the machine is too slow')
    wait_until(due)
    third = fleet.step('renewal of the due certificates')
    return first, second, third


def test_first_runs_issue_short_lived_certificates(fleet: Fleet, steps: tuple[Step, Step, Step]) -> None:
    first, second, _third = steps
    assert {host for host, records in first.results.items() if records} == {'web1', 'dns1'}
    assert [record['action'] for record in second.results['tls1'].values()] == ['new']
    for step, host in ((first, 'web1'), (first, 'dns1'), (second, 'tls1')):
        not_before, not_after = validity(step, fleet, host)
        assert not_after - not_before == pytest.approx(VALIDITY_SECONDS, abs=2)


def test_renewal_by_the_third_of_the_lifetime_renews_only_the_due_certificates(
        fleet: Fleet, steps: tuple[Step, Step, Step]) -> None:
    first, second, third = steps
    for host in ('web1', 'dns1'):
        record = third.results[host][CERTIFICATES[host]]
        assert (record['action'], record['changed']) == ('renew', True), host
        assert record['reason'].endswith('days, within a third of its lifetime'), record['reason']
        cert_path = fleet.cert_dir(host, CERTIFICATES[host]) / 'cert.pem'
        assert serial_of(third.content(cert_path)) != serial_of(first.content(cert_path))
        verify_fullchain(third.content(fleet.cert_dir(host, CERTIFICATES[host]) / 'fullchain.pem'),
                         root_pem=fleet.pebble.root_pem(), names=record['identifiers'])
    record = third.results['tls1']['api']
    assert (record['action'], record['changed']) == ('none', False)
    api = fleet.cert_dir('tls1', 'api')
    assert {path for path in third.changed_paths() if path.startswith(f'{api}/')} == set()
    assert third.content(api / 'cert.pem') == second.content(api / 'cert.pem')
    assert third.orders_created() == {'web1': ['www'], 'dns1': ['mail']}
    assert third.run.recap['tls1']['changed'] == 0
