"""What the role can be told to do that the modules already can: profiles, chains, the account key
as a vault value, External Account Binding, and a rerun after a validation the user has fixed.

One host (local connection) with an inventory the tests write; each test has its own state and
certificate directories and names of its own, so that no authorization of another test is reused.
The scenarios run on pebble and on acme2certifier (``acme_ca``), except the choice among alternate
chains, which only pebble offers. Pebble 2.4.0 offers no profiles, so there a profile is refused as
asked of a CA without any; acme2certifier offers Let's Encrypt's three, so there one is issued and an
unknown one is refused naming them.
"""

from __future__ import annotations

import dataclasses
import pathlib
import typing as t

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from test_faults_support import failed_task
from test_issuance_support import unique_name
from test_role_support import ORDER_TASK, results_of, verify_fullchain
from testbed.acme_ca import AcmeCA, AcmeServer
from testbed.ansible import PlaybookRun, PlaybookRunner
from testbed.bind9 import Bind9Server
from testbed.host_python import host_python
from testbed.pebble import PebbleServer, PebbleSettings
from testbed.webserver import WebrootServer

SITE = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'role_options' / 'site.yml'
REVOKE = SITE.parent / 'revoke.yml'
HOST = 'options1'
FINALIZE_TASK = "certforge.acme.acme_certificate : Finalize with the host's CSRs"


@dataclasses.dataclass
class OneHost:
    """A host of its own, with its inventory, its controller state and its file system below ``root``."""

    root: pathlib.Path
    runner: PlaybookRunner
    host_vars: dict[str, t.Any]

    @property
    def state_dir(self) -> pathlib.Path:
        return self.root / 'controller'

    def cert_dir(self, name: str) -> pathlib.Path:
        return self.root / HOST / 'certs' / name

    def run(self, *, playbook: pathlib.Path = SITE, expect_failure: bool = False, **changes: t.Any) -> PlaybookRun:
        """Write the inventory with ``changes`` to the host vars (kept for later runs) and run the role."""
        self.host_vars.update(changes)
        inventory = self.root / 'inventory.yml'
        inventory.write_text(yaml.safe_dump({'all': {'hosts': {HOST: self.host_vars}}}), encoding='utf-8')
        self.runner.inventory_path = inventory
        return self.runner.run(playbook, expect_failure=expect_failure)

    def orders_created(self, run: PlaybookRun) -> list[str]:
        """The certificates the run created a new order for (resumed orders are not changed)."""
        return [
            item['__acme_certificate_cert']['name']
            for outcome in run.outcomes_of(ORDER_TASK)
            for item in outcome.result.get('results', [])
            if item.get('changed')
        ]


def one_host(
    root: pathlib.Path, server: AcmeServer, collections_path: pathlib.Path, webroot: WebrootServer, certificates: list[dict[str, t.Any]], **host_vars: t.Any
) -> OneHost:
    runner = PlaybookRunner(work_dir=root / 'ansible', collections_path=collections_path)
    return OneHost(
        root=root,
        runner=runner,
        host_vars={
            'ansible_connection': 'local',
            'ansible_python_interpreter': str(host_python()),  # cryptography only: a host, not the controller
            'acme_certificate_directory': server.directory_url,
            'acme_certificate_ca_path': str(server.ca_path),
            'acme_certificate_state_dir': str(root / 'controller'),
            'acme_certificate_terms_agreed': True,
            'acme_certificate_account_email': 'hostmaster@example.com',  # acme2certifier registers no account without one
            'acme_certificate_dir': str(root / HOST / 'certs'),
            'acme_certificate_webroot': str(webroot.path),
            'acme_certificate_challenge_timeout': 60,
            'acme_certificate_certificates': certificates,
            **host_vars,
        },
    )


def common_name(pem: str) -> str:
    name = x509.load_pem_x509_certificate(pem.encode('ascii')).subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    return str(name)


def test_a_profile_the_ca_does_not_offer_fails_that_certificate_before_ordering_and_the_others_are_deployed(
    tmp_path: pathlib.Path, acme_ca: AcmeCA, collections_path: pathlib.Path
) -> None:
    offers = acme_ca.has('profiles')
    www = {'name': 'www', 'identifiers': [acme_ca.unique_name('profile-www')], **({'profile': 'shortlived'} if offers else {})}
    refused = {'name': 'refused', 'identifiers': [acme_ca.unique_name('profile-refused')], 'profile': 'sixdays' if offers else 'shortlived'}
    host = one_host(tmp_path, acme_ca.server, collections_path, acme_ca.webroot, [www, refused])
    if offers:
        expected = (
            "refused: acme_certificate_certificates[1].profile: the CA offers no profile 'sixdays'; "
            "set one it offers (classic, shortlived, tlsserver) or '' for its default"
        )
    else:
        expected = (
            "refused: acme_certificate_certificates[1].profile: the CA offers no certificate profiles (none in its directory); "
            "set acme_certificate_certificates[1].profile to '' to order without one"
        )

    run = host.run(expect_failure=True)
    assert expected in run.failure_message(failed_task(run))
    assert host.orders_created(run) == ['www']
    [order] = run[ORDER_TASK]['results']
    assert order['invocation']['module_args']['profile'] == ('shortlived' if offers else None)
    assert (host.cert_dir('www') / 'fullchain.pem').exists()
    assert not (host.cert_dir('refused') / 'cert.pem').exists()
    assert not (host.state_dir / 'orders' / f'{HOST}-refused.uri').exists()

    # The choice the README documents: a deployed certificate is not renewed only because the profile
    # asked for changed; a role-wide profile the CA does not offer is not even looked at then.
    host.host_vars['acme_certificate_certificates'] = [{key: value for key, value in www.items() if key != 'profile'}]
    deployed = (host.cert_dir('www') / 'cert.pem').read_bytes()
    quiet = host.run(acme_certificate_profile='sixdays')
    assert host.orders_created(quiet) == []
    assert results_of(quiet)[HOST]['www']['changed'] is False
    assert (host.cert_dir('www') / 'cert.pem').read_bytes() == deployed

    # With force, the certificate is renewed, and the role-wide profile is refused naming its variable.
    forced = host.run(expect_failure=True, acme_certificate_force=True)
    assert "www: acme_certificate_profile: the CA offers no " in forced.failure_message(failed_task(forced))
    assert host.orders_created(forced) == []


def test_select_chain_of_the_role_and_of_an_entry_choose_the_deployed_chain(
    tmp_path: pathlib.Path, pebble_factory: t.Callable[..., PebbleServer], bind9: Bind9Server, webroot: WebrootServer, collections_path: pathlib.Path
) -> None:
    pebble = pebble_factory(PebbleSettings(alternate_roots=1), name='alternate-roots')
    default_root, alternate_root = pebble.root_pems()
    alternate = {'name': 'alternate', 'identifiers': [unique_name('chain-alt', bind9.zone)]}
    default = {'name': 'default', 'identifiers': [unique_name('chain-default', bind9.zone)], 'select_chain': []}
    by_entry = {
        'name': 'byentry',
        'identifiers': [unique_name('chain-entry', bind9.zone)],
        'select_chain': [{'issuer_common_name': 'No Such Root'}, {'issuer_common_name': common_name(default_root)}],
    }
    host = one_host(
        tmp_path,
        pebble,
        collections_path,
        webroot,
        [alternate, default, by_entry],
        acme_certificate_select_chain=[{'issuer_common_name': common_name(alternate_root)}],
    )

    run = host.run()
    finalized = {item['__acme_certificate_cert']['name']: item for item in run[FINALIZE_TASK]['results']}
    assert {name: result['chains_offered'] for name, result in finalized.items()} == {'alternate': 2, 'default': 1, 'byentry': 2}
    expectations = {'alternate': alternate_root, 'default': default_root, 'byentry': default_root}
    for name, root in expectations.items():
        fullchain = (host.cert_dir(name) / 'fullchain.pem').read_bytes()
        entry = next(entry for entry in (alternate, default, by_entry) if entry['name'] == name)
        verify_fullchain(fullchain, root_pem=root, names=entry['identifiers'])


def test_the_account_key_from_a_vault_value_registers_with_eab_and_is_never_written(
    tmp_path: pathlib.Path, acme_ca_eab: AcmeCA, collections_path: pathlib.Path
) -> None:
    key = (
        ec.generate_private_key(ec.SECP384R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode('ascii')
    )
    mail = {'name': 'mail', 'identifiers': [acme_ca_eab.unique_name('vault-key')]}
    host = one_host(
        tmp_path,
        acme_ca_eab.server,
        collections_path,
        acme_ca_eab.webroot,
        [mail],
        acme_certificate_account_key_content=key,
        acme_certificate_eab_kid=acme_ca_eab.eab_kid,
        acme_certificate_eab_hmac_key=acme_ca_eab.eab_hmac_key,
        acme_certificate_eab_alg='HS256',
    )

    run = host.run()
    account = run['certforge.acme.acme_certificate : Register or find the account']
    assert account['changed'] and account['account']['status'] == 'valid'
    assert (host.cert_dir('mail') / 'fullchain.pem').exists()
    assert sorted(path.name for path in host.state_dir.rglob('*.key')) == []
    assert not run.contains(key.splitlines()[1])

    # A forced renewal with the same value finds the same account, and still writes no key.
    again = host.run(acme_certificate_force=True)
    assert not again['certforge.acme.acme_certificate : Register or find the account']['changed']
    assert again['certforge.acme.acme_certificate : Register or find the account']['account_uri'] == account['account_uri']
    assert host.orders_created(again) == ['mail']
    assert sorted(path.name for path in host.state_dir.rglob('*.key')) == []

    # The revoke entry point signs with the same value.
    certificate = (host.cert_dir('mail') / 'cert.pem').read_text(encoding='ascii')
    revoked = host.run(playbook=REVOKE, acme_certificate_revoke_name='mail', acme_certificate_force=False)
    assert revoked['certforge.acme.acme_certificate : Revoke the certificate']['changed']
    assert acme_ca_eab.revocation_reason(certificate) is not None  # revoked (acme2certifier records no reason: 0)
    assert not revoked.contains(key.splitlines()[1])


def test_a_rerun_after_the_webroot_is_fixed_succeeds_at_once_with_a_new_order(tmp_path: pathlib.Path, acme_ca: AcmeCA, collections_path: pathlib.Path) -> None:
    name = acme_ca.unique_name('fixed-webroot')
    unserved = tmp_path / 'not-served'
    unserved.mkdir()
    host = one_host(
        tmp_path,
        acme_ca.server,
        collections_path,
        acme_ca.webroot,
        [{'name': 'site', 'identifiers': [name]}],
        acme_certificate_webroot=str(unserved),
        acme_certificate_challenge_timeout=300,
    )

    failed = host.run(expect_failure=True)
    message = failed.failure_message(failed_task(failed))
    # Ended by the CA's decision, naming the name (not by the 300 s timeout, whatever the CA does with the order).
    assert 'site: validation failed for 1 of 1 identifiers' in message and f'{name} (http-01): ' in message, message
    order_file = host.state_dir / 'orders' / f'{HOST}-site.uri'
    failed_order = order_file.read_text(encoding='utf-8') if order_file.exists() else ''

    fixed = host.run(acme_certificate_webroot=str(acme_ca.webroot.path))
    assert host.orders_created(fixed) == ['site']
    new_order = fixed[ORDER_TASK]['results'][0]['order_uri']
    assert new_order not in failed_order
    assert (host.cert_dir('site') / 'fullchain.pem').exists()
    assert not order_file.exists()
