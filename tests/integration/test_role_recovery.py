"""The acme_certificate role never leaves a host worse off: what an interrupted run left is finished or removed by the next.

One certificate per host of the fleet (web1 with http-01, dns1 with dns-01, tls1 with tls-alpn-01). The
steps build on each other: a run whose deploy fails after the CA issued (the state a controller killed
between finalize and deploy leaves), the fixed run that deploys those certificates without a second
order or issuance, a run that finds what killed runs provisioned and never removed, a run that repairs
a truncated chain and a full chain that is the leaf alone, and a run that changes nothing.
"""

from __future__ import annotations

import json
import os
import pathlib
import typing as t
from collections.abc import Iterator

import pytest

from ansible_collections.certforge.acme.plugins.module_utils.run_locks import process_identity
from test_role_support import (
    HOSTS,
    Fleet,
    Step,
    challenge_files,
    create_fleet,
    public_key_of_certificate,
    public_key_of_private_key,
    serial_of,
    verify_fullchain,
)
from testbed.bind9 import Bind9Server
from testbed.fixtures import ChallengePorts
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

CERTIFICATES = {'web1': 'www', 'dns1': 'mail', 'tls1': 'api'}
FINALIZE_TASK = "certforge.acme.acme_certificate : Finalize with the host's CSRs"


class CaEvents(t.NamedTuple):
    """What pebble did during a run, from its log: orders it created and certificates it issued."""

    orders_created: int
    serials_issued: list[str]


class Observed(t.NamedTuple):
    step: Step
    ca: CaEvents


@pytest.fixture(scope='module')
def fleet(
    tmp_path_factory: pytest.TempPathFactory,
    pebble: PebbleServer,
    bind9: Bind9Server,
    webroot: WebrootServer,
    challenge_ports: ChallengePorts,
    collections_path: pathlib.Path,
) -> Iterator[Fleet]:
    """The fleet with one certificate per host."""
    fleet = create_fleet(
        tmp_path_factory.mktemp('recovery'), pebble=pebble, bind9=bind9, webroot=webroot, challenge_ports=challenge_ports, collections_path=collections_path
    )
    for host, name in CERTIFICATES.items():
        host_vars = fleet.host_vars(host)
        host_vars['acme_certificate_certificates'] = [entry for entry in host_vars['acme_certificate_certificates'] if entry['name'] == name]
        fleet.set_host_vars(host, host_vars)
    yield fleet
    print('\nrole runs recovering:', ', '.join(f'{label} {seconds:.1f} s' for label, seconds in fleet.timings.items()))


def observed_step(fleet: Fleet, label: str, **options: t.Any) -> Observed:
    """Run the fleet and read pebble's log for the orders it created and the certificates it issued meanwhile."""
    log = fleet.pebble.log_path
    offset = log.stat().st_size
    step = fleet.step(label, txt_names=(fleet.name('mail'),), **options)
    with log.open('rb') as handle:
        handle.seek(offset)
        text = handle.read().decode('utf-8', 'replace')
    serials = [line.split('Issued certificate serial ', 1)[1].split()[0] for line in text.splitlines() if 'Issued certificate serial ' in line]
    return Observed(step, CaEvents(text.count('Added order "'), serials))


def state_files(fleet: Fleet, kind: str) -> list[str]:
    """The files in one kind of state directory on the controller (orders, provisioned, locks)."""
    directory = fleet.state_dir / kind
    return sorted(path.name for path in directory.iterdir()) if directory.is_dir() else []


def lock_files(fleet: Fleet) -> list[str]:
    """Every lock file: the controller's and those in the hosts' certificate directories."""
    host_locks = [str(path) for host in HOSTS for path in (fleet.host_root(host) / 'etc').rglob('.acme_certificate.lock')]
    return state_files(fleet, 'locks') + host_locks


def assert_deployed_whole(fleet: Fleet, step: Step, host: str) -> bytes:
    """The certificate of ``host`` is in place with its own key, its chain and full chain; returns cert.pem."""
    directory = fleet.cert_dir(host, CERTIFICATES[host])
    cert, chain, fullchain, key = (step.content(directory / name) for name in ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem'))
    assert fullchain == cert + chain
    names = [f'www.{fleet.name("site")}', fleet.name('site')] if host == 'web1' else [fleet.name(CERTIFICATES[host])]
    verify_fullchain(fullchain, root_pem=fleet.pebble.root_pem(), names=names)
    assert public_key_of_private_key(key) == public_key_of_certificate(cert)
    assert str(directory / 'privkey.pem.pending') not in step.after
    return cert


def assert_nothing_left(fleet: Fleet, step: Step) -> None:
    """No challenge, record or lock stays behind after a run."""
    assert sorted(set(challenge_files(step.after)) - set(challenge_files(step.before))) == []
    assert step.txt_records == {fleet.name('mail'): []}
    assert not step.tls_port_answers
    assert state_files(fleet, 'provisioned') == []
    assert lock_files(fleet) == []


# The steps, each building on the one before.


@pytest.fixture(scope='module')
def refused_deploy(fleet: Fleet) -> Observed:
    """Every host gets its certificate from the CA, and then cannot deploy it (an owner the hosts do not know)."""
    with fleet.inventory_changes():
        for host, name in CERTIFICATES.items():
            fleet.edit_certificate(host, name, owner='no-such-user')
        return observed_step(fleet, 'deploy refused after the CA issued', expect_failure=True)


@pytest.fixture(scope='module')
def resumed_deploy(fleet: Fleet, refused_deploy: Observed) -> Observed:  # pylint: disable=unused-argument  # runs after it
    """The same inventory without the mistake."""
    return observed_step(fleet, 'deploy after the fix')


@pytest.fixture(scope='module')
def leftovers_removed(fleet: Fleet, resumed_deploy: Observed) -> tuple[Observed, dict[str, t.Any]]:  # pylint: disable=unused-argument
    """Records and challenges a killed run left for web1 and dns1 (a file in the web root, a TXT value), a lock
    of a killed run on the controller and one in dns1's certificate directory; both certificates renewed by force."""
    leftover_file = fleet.webroot_of('web1') / '.well-known' / 'acme-challenge' / f'leftover-{fleet.token}'
    leftover_file.parent.mkdir(parents=True, exist_ok=True)
    leftover_file.write_text('token.thumbprint', encoding='ascii')
    txt_name = f'_acme-challenge.{fleet.name("mail")}'
    fleet.bind9.add_txt(txt_name, 'leftover-value')
    records = {
        'web1-www.json': {
            'http-01': [
                {
                    'host': 'web1',
                    'webroot': str(fleet.webroot_of('web1')),
                    'webroot_owner': '',
                    'webroot_group': '',
                    'challenge_data': {
                        f'www.{fleet.name("site")}': {
                            'http-01': {'resource': f'.well-known/acme-challenge/{leftover_file.name}', 'resource_value': 'token.thumbprint'}
                        }
                    },
                }
            ],
            'dns-01': {},
            'tls-alpn-01': [],
        },
        'dns1-mail.json': {'http-01': [], 'dns-01': {txt_name: ['leftover-value']}, 'tls-alpn-01': []},
    }
    (fleet.state_dir / 'provisioned').mkdir(mode=0o700, exist_ok=True)
    for name, record in records.items():
        (fleet.state_dir / 'provisioned' / name).write_text(json.dumps(record), encoding='utf-8')
    killed = {**process_identity(1), 'pid': 2**22 + 1, 'pid_start': '1', 'expires': '2999-01-01T00:00:00+00:00', 'expires_epoch': 32472144000}
    (fleet.state_dir / 'locks').mkdir(mode=0o700, exist_ok=True)
    (fleet.state_dir / 'locks' / 'web1-www.lock').write_text(json.dumps(killed), encoding='ascii')
    (fleet.cert_dir('dns1', 'mail') / '.acme_certificate.lock').write_text(json.dumps(killed), encoding='ascii')
    with fleet.inventory_changes():
        fleet.edit_certificate('web1', 'www', force=True)
        fleet.edit_certificate('dns1', 'mail', force=True)
        observed = observed_step(fleet, 'leftovers of killed runs')
    return observed, {'file': leftover_file, 'txt_name': txt_name}


@pytest.fixture(scope='module')
def repaired_chains(fleet: Fleet, leftovers_removed: tuple[Observed, dict[str, t.Any]]) -> tuple[Observed, Observed]:  # pylint: disable=unused-argument
    """web1's chain.pem cut short, dns1's fullchain.pem the certificate alone; then the same run again."""
    www, mail = fleet.cert_dir('web1', 'www'), fleet.cert_dir('dns1', 'mail')
    chain = (www / 'chain.pem').read_bytes()
    (www / 'chain.pem').write_bytes(chain[: len(chain) // 2])
    (mail / 'fullchain.pem').write_bytes((mail / 'cert.pem').read_bytes())
    return observed_step(fleet, 'broken chains repaired'), observed_step(fleet, 'nothing to do')


# A deploy that fails after the CA issued.


def test_a_failed_deploy_keeps_the_order_and_leaves_nothing_else(fleet: Fleet, refused_deploy: Observed) -> None:
    step, ca = refused_deploy
    assert ca.orders_created == 3 and len(ca.serials_issued) == 3
    failures = {
        outcome.host: outcome.result['msg']
        for outcome in step.run.outcomes_of('certforge.acme.acme_certificate : Fail with the reason, leaving the deployed certificates in place')
    }
    assert set(failures) == set(HOSTS)
    assert failures['web1'].startswith("web1: www: owner: there is no user 'no-such-user' on this host; nothing was deployed")
    assert state_files(fleet, 'orders') == ['dns1-mail.uri', 'tls1-api.uri', 'web1-www.uri']
    assert_nothing_left(fleet, step)
    for host in HOSTS:
        assert not (fleet.cert_dir(host, CERTIFICATES[host]) / 'cert.pem').exists()


def test_the_next_run_deploys_the_issued_certificates_without_ordering_or_issuing_again(
    fleet: Fleet, refused_deploy: Observed, resumed_deploy: Observed
) -> None:
    step, ca = resumed_deploy
    assert ca == CaEvents(0, [])
    issued = {outcome.host: outcome.result['results'][0]['serial'] for outcome in refused_deploy.step.run.outcomes_of(FINALIZE_TASK)}
    for host in HOSTS:
        cert = assert_deployed_whole(fleet, step, host)
        assert serial_of(cert) == issued[host]
        assert step.results[host][CERTIFICATES[host]]['changed'] is True
    assert {int(serial, 16) for serial in refused_deploy.ca.serials_issued} == {int(serial, 16) for serial in issued.values()}
    assert state_files(fleet, 'orders') == []
    assert_nothing_left(fleet, step)


# What killed runs left.


def test_what_killed_runs_provisioned_is_removed_and_their_locks_taken_over(fleet: Fleet, leftovers_removed: tuple[Observed, dict[str, t.Any]]) -> None:
    (step, ca), left = leftovers_removed
    assert not left['file'].exists()
    assert fleet.bind9.query_txt(left['txt_name']) == []
    assert ca.orders_created == 2 and len(ca.serials_issued) == 2
    for host in ('web1', 'dns1'):
        assert step.results[host][CERTIFICATES[host]]['changed'] is True
        assert_deployed_whole(fleet, step, host)
    assert state_files(fleet, 'orders') == []
    assert_nothing_left(fleet, step)


# Chains.


def test_a_broken_chain_or_full_chain_is_repaired_with_the_reason(fleet: Fleet, repaired_chains: tuple[Observed, Observed]) -> None:
    (step, _ca), _again = repaired_chains
    www, mail = step.results['web1']['www'], step.results['dns1']['mail']
    assert (www['action'], www['changed']) == ('renew', True)
    assert www['reason'].startswith('chain.pem is incomplete')
    assert (mail['action'], mail['changed']) == ('renew', True)
    assert mail['reason'].startswith('fullchain.pem is not the certificate followed by chain.pem')
    assert step.results['tls1']['api']['action'] == 'none'
    for host in ('web1', 'dns1'):
        assert_deployed_whole(fleet, step, host)
    assert_nothing_left(fleet, step)


def test_after_the_repair_a_run_changes_nothing_and_asks_the_ca_nothing(repaired_chains: tuple[Observed, Observed]) -> None:
    _repaired, (step, ca) = repaired_chains
    assert {host: (run['changed'], run['failures']) for host, run in step.run.recap.items()} == dict.fromkeys(HOSTS, (0, 0))
    assert step.requests == [] and ca == CaEvents(0, [])
    assert step.changed_paths() == set()


# Another run at work.


@pytest.fixture(scope='module')
def held_locks(fleet: Fleet, repaired_chains: tuple[Observed, Observed]) -> tuple[Observed, dict[str, pathlib.Path]]:  # pylint: disable=unused-argument
    """A live run (this test process) holds web1's certificate directory and tls1's certificate on the controller
    while every certificate is renewed by force, with a lock timeout of one second."""
    holder = {**process_identity(os.getpid()), 'expires': '2999-01-01T00:00:00+00:00', 'expires_epoch': 32472144000}
    locks = {'web1': fleet.cert_dir('web1', 'www') / '.acme_certificate.lock', 'tls1': fleet.state_dir / 'locks' / 'tls1-api.lock'}
    for path in locks.values():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_text(json.dumps(holder), encoding='ascii')
    try:
        observed = observed_step(
            fleet, 'locks held by another run', expect_failure=True, extra_vars={'acme_certificate_force': True, 'acme_certificate_lock_timeout': 1}
        )
        return observed, {host: pathlib.Path(str(path)) for host, path in locks.items() if path.exists()}
    finally:
        for path in locks.values():
            path.unlink(missing_ok=True)


def test_a_certificate_another_run_holds_is_refused_clearly(fleet: Fleet, held_locks: tuple[Observed, dict[str, pathlib.Path]]) -> None:
    (step, _ca), still_held = held_locks
    assert still_held == {'web1': fleet.cert_dir('web1', 'www') / '.acme_certificate.lock', 'tls1': fleet.state_dir / 'locks' / 'tls1-api.lock'}
    me = process_identity(os.getpid())
    failures = {
        outcome.host: next((item['msg'] for item in outcome.result.get('results', []) if item.get('failed')), outcome.result.get('msg'))
        for outcome in step.run.outcomes
        if outcome.failed and not outcome.ignored
    }
    assert set(failures) == {'web1', 'tls1'}
    for host, path in still_held.items():
        assert f"another run holds {path} (pid {me['pid']} on {me['controller']}), started at {me['started']}; " in failures[host]
    assert failures['web1'].startswith('cert_path: ')
    # dns1 was not in the way of either and renewed; tls1 released its host lock when it failed.
    assert step.results['dns1']['mail']['changed'] is True
    assert [path for path in lock_files(fleet) if str(path) not in {str(held) for held in still_held.values()}] == []
    assert_deployed_whole(fleet, step, 'dns1')


# A deploy killed after it put every file in place, before it removed the staged key.


@pytest.fixture(scope='module')
def completed_deploy(fleet: Fleet, held_locks: tuple[Observed, dict[str, pathlib.Path]]) -> Observed:  # pylint: disable=unused-argument
    """tls1's api as such a deploy leaves it: the staged key beside the key it became, a saved copy of the
    previous certificate, and the order still recorded on the controller."""
    api = fleet.cert_dir('tls1', 'api')
    (api / 'privkey.pem.pending').write_bytes((api / 'privkey.pem').read_bytes())
    (api / '.cert.pem.k1ll3d00.restore').write_bytes(b'the previous certificate')
    (fleet.state_dir / 'orders' / 'tls1-api.uri').write_text('https://127.0.0.1:9/my-order/deployed\n', encoding='ascii')
    return observed_step(fleet, 'deploy completed after a kill')


def test_a_deploy_killed_after_its_last_rename_is_completed_without_the_ca(fleet: Fleet, completed_deploy: Observed) -> None:
    step, ca = completed_deploy
    assert step.requests == [] and ca == CaEvents(0, [])
    api = fleet.cert_dir('tls1', 'api')
    assert sorted(path for path in step.changed_paths() if path.startswith(f'{fleet.root}/tls1/')) == sorted(
        [str(api / 'privkey.pem.pending'), str(api / '.cert.pem.k1ll3d00.restore'), str(api)]
    )
    assert state_files(fleet, 'orders') == []
    assert step.results['tls1']['api']['action'] == 'none'
    assert_deployed_whole(fleet, step, 'tls1')
    assert lock_files(fleet) == []
