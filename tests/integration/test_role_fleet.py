"""The acme_certificate role on a fleet of three hosts, against pebble, the web server and BIND.

web1 validates with http-01 (its document root is the one the web server serves), dns1 with
dns-01 through RFC 2136 updates to BIND, and tls1 with its own tls-alpn-01 responder; dns1 also
has a load-balanced name whose http-01 files go to the web heads web1 and tls1. The steps build on
each other, as a fleet's life does: first run (strategy free), second run, check mode on a changed
inventory, a forced renewal, a renewal by threshold, an interrupted run resumed, and a host whose
validation fails. Each step is a fixture that keeps what its tests look at, so every test sees the
fleet as its step left it, whichever tests run.
"""

from __future__ import annotations

import pathlib
import socket
import typing as t
from collections.abc import Iterator

import pytest

from test_role_support import (
    HOSTS,
    ORDER_TASK,
    Fleet,
    Step,
    certificate,
    challenge_files,
    create_fleet,
    dns_names,
    public_key_of_certificate,
    public_key_of_private_key,
    serial_of,
    verify_fullchain,
)
from testbed.bind9 import Bind9Server
from testbed.fixtures import ChallengePorts
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

CERTIFICATE_FILES = ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem')
ROOT_UID = ROOT_GID = 0
NOBODY_UID = NOGROUP_GID = 65534


class ResumedRuns(t.NamedTuple):
    """A run that failed after ordering, the order file it left, and the run after it."""

    interrupted: Step
    recorded_order: str
    resumed: Step


@pytest.fixture(scope='module')
def fleet(
    tmp_path_factory: pytest.TempPathFactory,
    pebble: PebbleServer,
    bind9: Bind9Server,
    webroot: WebrootServer,
    challenge_ports: ChallengePorts,
    collections_path: pathlib.Path,
) -> Iterator[Fleet]:
    """The fleet, with the wall time of each run printed at the end (pytest -s shows it)."""
    fleet = create_fleet(
        tmp_path_factory.mktemp('fleet'), pebble=pebble, bind9=bind9, webroot=webroot, challenge_ports=challenge_ports, collections_path=collections_path
    )
    yield fleet
    print('\nrole runs on the fleet:', ', '.join(f'{label} {seconds:.1f} s' for label, seconds in fleet.timings.items()))


def expected_names(fleet: Fleet) -> dict[tuple[str, str], list[str]]:
    """(host, certificate) -> the names the inventory asks for, before any step changes it."""
    return {
        ('web1', 'www'): [f'www.{fleet.name("site")}', fleet.name('site')],
        ('web1', 'static'): [fleet.name('static')],
        ('dns1', 'wildcard'): [f'*.{fleet.name("wild")}', fleet.name('wild')],
        ('dns1', 'mail'): [fleet.name('mail')],
        ('dns1', 'shop'): [fleet.name('shop')],
        ('tls1', 'api'): [fleet.name('api')],
        ('tls1', 'admin'): [fleet.name('admin'), fleet.name('ops')],
    }


def dns01_names(fleet: Fleet) -> tuple[str, ...]:
    """The names dns1 validates with dns-01 in any step (their TXT records must be gone after each run)."""
    return fleet.name('wild'), fleet.name('mail'), fleet.name('smtp')


def assert_deployed(fleet: Fleet, step: Step, host: str, name: str, names: list[str]) -> bytes:
    """The certificate's files are in place, belong together and verify up to pebble's root; returns cert.pem."""
    directory = fleet.cert_dir(host, name)
    cert, chain, fullchain, key = (step.content(directory / file_name) for file_name in CERTIFICATE_FILES)
    verify_fullchain(fullchain, root_pem=fleet.pebble.root_pem(), names=names)
    assert fullchain == cert + chain
    assert dns_names(cert) == sorted(names)
    assert public_key_of_private_key(key) == public_key_of_certificate(cert)
    assert fleet.pebble.cert_status(serial_of(cert))['Status'] == 'Valid'
    assert str(directory / 'privkey.pem.pending') not in step.after
    return cert


def paths_below(paths: set[str], *directories: pathlib.Path) -> set[str]:
    """The paths that lie below one of ``directories``."""
    return {path for path in paths if any(path.startswith(f'{directory}/') for directory in directories)}


# The steps, each building on the one before.


@pytest.fixture(scope='module')
def first_run(fleet: Fleet) -> Step:
    """Everything issued and deployed, with strategy free (hosts go at their own pace)."""
    return fleet.step('first run (strategy free)', extra_vars={'testbed_strategy': 'free'}, txt_names=dns01_names(fleet))


@pytest.fixture(scope='module')
def second_run(fleet: Fleet, first_run: Step) -> Step:  # pylint: disable=unused-argument  # runs after it
    """The same inventory again."""
    return fleet.step('second run')


@pytest.fixture(scope='module')
def check_run(fleet: Fleet, second_run: Step) -> Step:  # pylint: disable=unused-argument
    """Check mode after adding a name to web1's www and a new certificate to tls1."""
    with fleet.inventory_changes():
        fleet.edit_certificate('web1', 'www', identifiers=[*fleet.identifiers('web1', 'www'), 'cdn-{{ testbed_token }}.acme.test'])
        fleet.add_certificate('tls1', {'name': 'metrics', 'identifiers': ['metrics-{{ testbed_token }}.acme.test']})
        return fleet.step('check mode', check=True)


@pytest.fixture(scope='module')
def forced_run(fleet: Fleet, check_run: Step) -> Step:  # pylint: disable=unused-argument
    """force: true on dns1's mail."""
    with fleet.inventory_changes():
        fleet.edit_certificate('dns1', 'mail', force=True)
        return fleet.step('forced renewal', txt_names=dns01_names(fleet))


@pytest.fixture(scope='module')
def threshold_run(fleet: Fleet, forced_run: Step) -> Step:  # pylint: disable=unused-argument
    """renew_before_days on web1's static beyond its 5-year lifetime: due now by that rule."""
    with fleet.inventory_changes():
        fleet.edit_certificate('web1', 'static', renew_before_days=2000)
        return fleet.step('renewal by threshold')


@pytest.fixture(scope='module')
def resumed_runs(fleet: Fleet, threshold_run: Step) -> ResumedRuns:  # pylint: disable=unused-argument
    """A new certificate on tls1 while another program holds the tls-alpn-01 port, so the run fails
    after ordering; then the same again with the port free."""
    with fleet.inventory_changes():
        fleet.add_certificate('tls1', {'name': 'late', 'identifiers': ['late-{{ testbed_token }}.acme.test']})
        with socket.create_server(('127.0.0.1', fleet.challenge_ports.tls)):
            interrupted = fleet.step('interrupted run', expect_failure=True)
        recorded_order = fleet.order_file('tls1', 'late').read_text(encoding='ascii').splitlines()[0]
        resumed = fleet.step('resumed run')
    return ResumedRuns(interrupted, recorded_order, resumed)


@pytest.fixture(scope='module')
def failing_run(fleet: Fleet, resumed_runs: ResumedRuns) -> Step:  # pylint: disable=unused-argument
    """web1 serves from a directory the web server does not serve, while every host wants a new name:
    web1's www and dns1's load-balanced shop fail validation, dns1's mail (dns-01) and tls1's api succeed."""
    with fleet.inventory_changes():
        fleet.set_host_var('web1', 'acme_certificate_webroot', '{{ testbed_root }}/web1/srv/unserved')
        fleet.edit_certificate('web1', 'www', identifiers=[*fleet.identifiers('web1', 'www'), 'blog-{{ testbed_token }}.acme.test'])
        fleet.edit_certificate('dns1', 'mail', identifiers=[*fleet.identifiers('dns1', 'mail'), 'smtp-{{ testbed_token }}.acme.test'])
        fleet.edit_certificate('dns1', 'shop', identifiers=[*fleet.identifiers('dns1', 'shop'), 'store-{{ testbed_token }}.acme.test'])
        fleet.edit_certificate('tls1', 'api', identifiers=[*fleet.identifiers('tls1', 'api'), 'gateway-{{ testbed_token }}.acme.test'])
        return fleet.step('run with a failing host', expect_failure=True, txt_names=dns01_names(fleet))


# First run.


def test_first_run_deploys_every_certificate_with_a_chain_to_the_root(fleet: Fleet, first_run: Step) -> None:
    for (host, name), names in expected_names(fleet).items():
        cert = assert_deployed(fleet, first_run, host, name, names)
        record = first_run.results[host][name]
        assert (record['action'], record['changed'], record['serial']) == ('new', True, serial_of(cert))
        assert record['identifiers'] == names
        directory = fleet.cert_dir(host, name)
        assert (record['cert_path'], record['fullchain_path'], record['key_path']) == (
            str(directory / 'cert.pem'),
            str(directory / 'fullchain.pem'),
            str(directory / 'privkey.pem'),
        )
        assert record['not_after'] == certificate(cert).not_valid_after_utc.isoformat()
        assert record['reason'].startswith('there is no certificate at ')
    assert {host: run['failures'] for host, run in first_run.run.recap.items()} == dict.fromkeys(HOSTS, 0)


def test_first_run_gives_the_files_their_modes_and_owners(fleet: Fleet, first_run: Step) -> None:
    def state(path: pathlib.Path) -> tuple[str, int, int, int]:
        found = first_run.after[str(path)]
        return found.kind, found.mode, found.uid, found.gid

    for host, name in expected_names(fleet):
        directory = fleet.cert_dir(host, name)
        if name == 'static':  # custom owner, group and modes
            for file_name in CERTIFICATE_FILES:
                assert state(directory / file_name) == ('file', 0o640, NOBODY_UID, NOGROUP_GID), file_name
            continue
        for file_name in ('cert.pem', 'chain.pem', 'fullchain.pem'):
            assert state(directory / file_name) == ('file', 0o644, ROOT_UID, ROOT_GID), f'{host} {name} {file_name}'
        assert state(directory / 'privkey.pem') == ('file', 0o600, ROOT_UID, ROOT_GID), f'{host} {name}'
    combined = fleet.host_root('web1') / 'etc' / 'haproxy' / 'static.pem'
    assert state(combined) == ('file', 0o640, NOBODY_UID, NOGROUP_GID)
    static = fleet.cert_dir('web1', 'static')
    assert first_run.content(combined) == first_run.content(static / 'fullchain.pem') + first_run.content(static / 'privkey.pem')
    # The service user that owns static's files can get to them: the directories the role made
    # on the way let others through (the files' own modes keep them out of the key).
    for file_path in (static / 'privkey.pem', combined):
        for directory in file_path.relative_to(fleet.host_root('web1')).parents[:-1]:
            assert first_run.after[str(fleet.host_root('web1') / directory)].mode & 0o001, directory


def test_first_run_runs_the_handler_once_per_host(fleet: Fleet, first_run: Step) -> None:
    for host in HOSTS:
        assert first_run.content(fleet.deployments_log(host)).count(b'\n') == 1, host


def test_first_run_with_strategy_free_makes_one_account(first_run: Step) -> None:
    # strategy free runs the account step on every host that needs a certificate: one at a time,
    # so the first makes the key and registers, and the others find both.
    accounts = first_run.run.outcomes_of('certforge.acme.acme_certificate : Register or find the account')
    assert sorted(outcome.changed for outcome in accounts) == [False] * (len(accounts) - 1) + [True]
    assert len({outcome.result['account_uri'] for outcome in accounts}) == 1
    assert 'Using run_once with the free strategy' in first_run.run.stderr


def test_load_balanced_name_is_published_on_every_web_head(fleet: Fleet, first_run: Step) -> None:
    # dns1's shop is validated through web1 (the only web root the web server serves); tls1 got
    # the same files in its own document root, and both are gone again.
    publishing = [
        item
        for outcome in first_run.run.outcomes_of('certforge.acme.acme_certificate : Write or remove the http-01 files')
        if outcome.host == 'dns1'
        for item in outcome.result['results']
    ]
    written = {
        item['__acme_certificate_place']['host']: item['files']
        for item in publishing
        if item['changed'] and item['invocation']['module_args']['state'] == 'present'
    }
    assert set(written) == {'web1', 'tls1'}
    assert all(path.startswith(f'{fleet.webroot_of(host)}/.well-known/acme-challenge/') for host, paths in written.items() for path in paths)
    assert len(written['web1']) == len(written['tls1']) == 1
    assert_deployed(fleet, first_run, 'dns1', 'shop', [fleet.name('shop')])


def test_first_run_leaves_no_challenge_and_no_order_behind(fleet: Fleet, first_run: Step) -> None:
    # The served webroot is shared with the rest of the session: only files of this run count.
    assert sorted(set(challenge_files(first_run.after)) - set(challenge_files(first_run.before))) == []
    assert first_run.txt_records == dict.fromkeys(dns01_names(fleet), [])
    assert not first_run.tls_port_answers
    assert [path for path in first_run.after if path.startswith(f'{fleet.state_dir}/orders/')] == []


# Second run.


def test_second_run_changes_nothing_and_asks_the_ca_nothing(fleet: Fleet, second_run: Step) -> None:
    assert {host: (run['changed'], run['failures']) for host, run in second_run.run.recap.items()} == dict.fromkeys(HOSTS, (0, 0))
    assert second_run.requests == []
    assert second_run.changed_paths() == set()
    for host, name in expected_names(fleet):
        record = second_run.results[host][name]
        assert (record['action'], record['changed']) == ('none', False)
        assert record['reason'].startswith('valid until ')


# Check mode.


def test_check_mode_reports_what_it_would_do_per_host(fleet: Fleet, check_run: Step) -> None:
    actions = {host: {name: (record['action'], record['reason']) for name, record in records.items()} for host, records in check_run.results.items()}
    assert actions['web1']['www'] == ('renew', f'the names differ (missing: {fleet.name("cdn")}; not wanted: none)')
    assert actions['tls1']['metrics'] == ('new', f'there is no certificate at {fleet.cert_dir("tls1", "metrics")}/cert.pem')
    unchanged = {(host, name) for host, records in actions.items() for name, (action, _reason) in records.items() if action == 'none'}
    assert unchanged == set(expected_names(fleet)) - {('web1', 'www')}
    assert 'www: renew (the names differ' in check_run.run.stdout
    assert {host: run['changed'] > 0 for host, run in check_run.run.recap.items()} == {'web1': True, 'dns1': False, 'tls1': True}


def test_check_mode_touches_nothing(check_run: Step) -> None:
    assert check_run.requests == []
    assert check_run.changed_paths() == set()


# Renewals.


def test_forced_renewal_renews_only_that_certificate(fleet: Fleet, first_run: Step, forced_run: Step) -> None:
    mail = fleet.cert_dir('dns1', 'mail')
    record = forced_run.results['dns1']['mail']
    assert (record['action'], record['reason'], record['changed']) == ('renew', 'renewal is forced', True)
    cert = assert_deployed(fleet, forced_run, 'dns1', 'mail', [fleet.name('mail')])
    assert serial_of(cert) != serial_of(first_run.content(mail / 'cert.pem'))
    assert forced_run.content(mail / 'privkey.pem') != first_run.content(mail / 'privkey.pem')  # reuse_key is false
    backups = [path for path in forced_run.changed_paths() if path.startswith(f'{mail}/cert.pem.')]
    assert [forced_run.content(pathlib.Path(path)) for path in backups] == [first_run.content(mail / 'cert.pem')]
    # Nothing else: no other certificate file, and the handler ran on dns1 only.
    assert paths_below(forced_run.changed_paths(), *(fleet.host_root(host) for host in HOSTS)) == (
        paths_below(forced_run.changed_paths(), mail) | {str(mail), str(fleet.deployments_log('dns1'))}
    )
    assert {name for name, item in forced_run.results['dns1'].items() if item['changed']} == {'mail'}
    assert {host: run['changed'] for host, run in forced_run.run.recap.items()}['web1'] == 0
    assert {host: run['changed'] for host, run in forced_run.run.recap.items()}['tls1'] == 0
    assert forced_run.orders_created() == {'dns1': ['mail']}
    assert forced_run.txt_records == dict.fromkeys(dns01_names(fleet), [])


def test_threshold_renews_only_the_certificate_it_makes_due(fleet: Fleet, threshold_run: Step) -> None:
    static = fleet.cert_dir('web1', 'static')
    record = threshold_run.results['web1']['static']
    assert record['action'] == 'renew'
    assert record['reason'].endswith('days, within 2000 days')
    assert_deployed(fleet, threshold_run, 'web1', 'static', [fleet.name('static')])
    # The renewed files keep the owner and modes asked for.
    assert {(state.mode, state.uid, state.gid) for path, state in threshold_run.after.items() if path.startswith(f'{static}/') and path.endswith('.pem')} == {
        (0o640, NOBODY_UID, NOGROUP_GID)
    }
    changed = {(host, name) for host, records in threshold_run.results.items() for name, item in records.items() if item['changed']}
    assert changed == {('web1', 'static')}
    assert threshold_run.orders_created() == {'web1': ['static']}


# An interrupted run.


def test_interrupted_run_keeps_its_order_and_the_next_run_resumes_it(fleet: Fleet, resumed_runs: ResumedRuns) -> None:
    interrupted, recorded_order, resumed = resumed_runs
    failure = next(outcome for outcome in interrupted.run.outcomes if outcome.host == 'tls1' and outcome.failed and not outcome.ignored)
    assert 'could not start' in failure.result['msg']
    assert interrupted.orders_created() == {'tls1': ['late']}
    ordered = next(outcome for outcome in interrupted.run.outcomes_of(ORDER_TASK) if outcome.host == 'tls1')
    assert recorded_order == ordered.result['results'][0]['order_uri']
    # The next run orders nothing: it validates and finalizes the recorded order.
    assert resumed.new_order_requests() == 0
    resumed_order = next(outcome for outcome in resumed.run.outcomes_of(ORDER_TASK) if outcome.host == 'tls1')
    assert [(item['order_uri'], item['changed']) for item in resumed_order.result['results']] == [(recorded_order, False)]
    assert_deployed(fleet, resumed, 'tls1', 'late', [fleet.name('late')])
    assert not fleet.order_file('tls1', 'late').exists()


# A host whose validation fails.


def test_failing_host_fails_with_the_ca_reason_and_keeps_its_certificate(fleet: Fleet, resumed_runs: ResumedRuns, failing_run: Step) -> None:
    before = resumed_runs.resumed
    assert failing_run.run.recap['web1']['failures'] == 1
    failures = {
        outcome.host: outcome.result['msg']
        for outcome in failing_run.run.outcomes_of('certforge.acme.acme_certificate : Fail with the reason, leaving the deployed certificates in place')
    }
    assert set(failures) == {'web1', 'dns1'}
    assert failures['web1'].startswith('web1: www: validation failed')
    # Pebble reuses some valid authorizations and invalidates the order at the first refusal, so which of www's names
    # were refused first varies: at least one is named with the CA's reason, and the new name blog is never valid.
    message = failures['web1']
    names = [f'www.{fleet.name("site")}', fleet.name('site'), fleet.name('blog')]
    refused = [name for name in names if f'{name} (http-01): unauthorized' in message]
    assert refused and '404' in message
    assert fleet.name('blog') in refused or fleet.name('blog') in message.split('not decided when the order failed: ')[-1]
    for file_name in CERTIFICATE_FILES:
        path = fleet.cert_dir('web1', 'www') / file_name
        assert failing_run.after[str(path)] == before.after[str(path)], file_name


def test_failing_host_leaves_no_challenge_behind(fleet: Fleet, failing_run: Step) -> None:
    assert sorted(set(challenge_files(failing_run.after)) - set(challenge_files(failing_run.before))) == []
    unserved = fleet.host_root('web1') / 'srv' / 'unserved' / '.well-known' / 'acme-challenge'
    assert unserved.is_dir() and list(unserved.iterdir()) == []
    assert failing_run.txt_records == dict.fromkeys(dns01_names(fleet), [])
    assert not failing_run.tls_port_answers


def test_other_hosts_and_certificates_succeed_beside_a_failing_one(fleet: Fleet, resumed_runs: ResumedRuns, failing_run: Step) -> None:
    before = resumed_runs.resumed
    assert failing_run.run.recap['tls1']['failures'] == 0
    assert_deployed(fleet, failing_run, 'tls1', 'api', [fleet.name('api'), fleet.name('gateway')])
    # dns1's shop failed like web1 (its web heads now serve from elsewhere), its mail did not.
    assert failing_run.run.recap['dns1']['failures'] == 1
    assert_deployed(fleet, failing_run, 'dns1', 'mail', [fleet.name('mail'), fleet.name('smtp')])
    shop = fleet.cert_dir('dns1', 'shop')
    assert all(failing_run.after[str(shop / name)] == before.after[str(shop / name)] for name in CERTIFICATE_FILES)
    # dns1's handler ran for its new mail files although dns1 failed; web1 deployed nothing.
    log_lines = {
        host: failing_run.content(fleet.deployments_log(host)).count(b'\n') - before.content(fleet.deployments_log(host)).count(b'\n') for host in HOSTS
    }
    assert log_lines == {'web1': 0, 'dns1': 1, 'tls1': 1}
    # Failed hosts leave the play before its last task; tls1 reports its one change.
    assert {host: {name for name, item in records.items() if item['changed']} for host, records in failing_run.results.items()} == {'tls1': {'api'}}
