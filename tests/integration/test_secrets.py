"""No secret is ever printed at -vvv: not on success, not on a failure the CA or the network causes.

The module flow gets the account key as text (encrypted, with its passphrase) and an External Account
Binding HMAC key; the role gets a TSIG secret for RFC 2136 and an EAB HMAC key, and keeps the account
key in a file, then gets it as a vault value (encrypted, with its passphrase). Both run through a
fault-injecting proxy in front of a pebble that requires EAB: once cleanly, then with persistent
faults (a 500 or a non-JSON answer to newAccount, a non-JSON answer to the authorizations, a 500 to
the challenge), so that every error path also shows what it prints.
``test_acme_account.py`` checks the EAB registration itself at -vvv; ``test_acme_dns_rfc2136.py``
the DNS module's own errors.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable, Iterator

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from test_faults_support import PERSISTENT_RETRY_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS, failed_task
from test_issuance_support import unique_name, write_csr
from testbed import faults
from testbed.ansible import PlaybookRun, PlaybookRunner
from testbed.bind9 import Bind9Server
from testbed.fault_proxy import FaultProxy
from testbed.faults import Fault, Rule
from testbed.host_python import host_python
from testbed.pebble import PebbleServer, PebbleSettings, new_eab_credentials
from testbed.webserver import WebrootServer

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'secrets'
RunPlaybook = Callable[..., PlaybookRun]
PASSPHRASE = 'tr0ub4dor and three more words'
MASKED = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
# Printed only at -vvv: by a module run, or (for a run refused before any module runs) by the inventory plugins.
VERBOSE_MARKERS = ('<localhost> ESTABLISH LOCAL CONNECTION', 'declined parsing')
# Parts of a signed ACME request: an error must describe the request, never echo it.
REQUEST_BODY_MARKS = ('"protected"', '"payload"', '"signature"', 'externalAccountBinding')
HOST = 'mail1'


def pem_lines(pem: str | bytes, label: str) -> dict[str, str]:
    """Every base64 line of a PEM body, so that no piece of the key may show either."""
    text = pem.decode('ascii') if isinstance(pem, bytes) else pem
    return {f'{label} line {number}': line for number, line in enumerate(text.splitlines()) if line and '-----' not in line}


def encrypted_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(PASSPHRASE.encode())).decode(
        'ascii'
    )


@dataclasses.dataclass(frozen=True)
class FaultedRun:
    """One -vvv run and the faults the proxy applied during it."""

    run: PlaybookRun
    faulted: list[str]


@dataclasses.dataclass(frozen=True)
class SecretRuns:
    """The runs of one part (module flow or role) and every secret they were given."""

    runs: dict[str, FaultedRun]
    secrets: dict[str, str]


@pytest.fixture(scope='module')
def eab_pebble(pebble_factory: Callable[..., PebbleServer]) -> PebbleServer:
    """A pebble of this file's own that requires External Account Binding."""
    return pebble_factory(PebbleSettings(eab_mac_keys=new_eab_credentials('secrets-kid')), name='pebble-secrets')


@pytest.fixture(scope='module')
def proxy(eab_pebble: PebbleServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    """The fault-injecting proxy in front of ``eab_pebble``."""
    server = FaultProxy(upstream_port=eab_pebble.listen_port, tls=eab_pebble.tls, log_path=tmp_path_factory.mktemp('secrets-proxy') / 'fault-proxy.log')
    server.start()
    try:
        yield server
    finally:
        server.stop()


def faulted_run(proxy: FaultProxy, rules: tuple[Rule, ...], run: Callable[[], PlaybookRun]) -> FaultedRun:
    proxy.plan(*rules)
    before = len(proxy.faulted())
    try:
        result = run()
    finally:
        proxy.plan()
    return FaultedRun(result, [record.resource for record in proxy.faulted()[before:]])


# The module flow's failures: (label, faults, which key: the registered one or a new one).
MODULE_FAILURES = (
    ('500 to newAccount', (faults.always(Fault.status(500), ['newAccount']),), 'new'),
    ('non-JSON newAccount', (faults.always(Fault(faults.NON_JSON), ['newAccount']),), 'new'),
    ('non-JSON authorization', (faults.always(Fault(faults.NON_JSON), ['authz']),), 'registered'),
)


@pytest.fixture(scope='module')
def module_runs(
    run_playbook: RunPlaybook, eab_pebble: PebbleServer, proxy: FaultProxy, webroot: WebrootServer, bind9: Bind9Server, tmp_path_factory: pytest.TempPathFactory
) -> SecretRuns:
    work_dir = tmp_path_factory.mktemp('secrets-modules')
    keys = {'registered': encrypted_key_pem(), 'new': encrypted_key_pem()}
    assert eab_pebble.eab_kid and eab_pebble.eab_hmac_key
    domains = [unique_name('secrets', bind9.zone)]
    common = {
        'acme_directory': proxy.directory_url,
        'ca_path': str(proxy.ca_path),
        'account_key_passphrase': PASSPHRASE,
        'eab_kid': eab_pebble.eab_kid,
        'eab_hmac_key': eab_pebble.eab_hmac_key,
        'request_timeout': REQUEST_TIMEOUT_SECONDS,
        'retry_timeout': PERSISTENT_RETRY_TIMEOUT_SECONDS,
        'domains': domains,
    }
    issue_vars = {
        **common,
        'step': 'issue',
        'account_key_pem': keys['registered'],
        'webroot': str(webroot.path),
        'csr_path': str(write_csr(work_dir / 'secrets.csr', domains)),
        'certificate_dir': str(work_dir),
    }
    runs = {'issue': faulted_run(proxy, (), lambda: run_playbook(PLAYBOOKS / 'modules.yml', extra_vars=issue_vars, verbosity=3))}
    for label, rules, key in MODULE_FAILURES:
        fail_vars = {**common, 'step': 'fail', 'account_key_pem': keys[key]}
        runs[label] = faulted_run(
            proxy,
            rules,
            lambda variables=fail_vars: run_playbook(  # type: ignore[misc]
                PLAYBOOKS / 'modules.yml', extra_vars=variables, verbosity=3
            ),
        )
    secrets = {
        'account_key_passphrase': PASSPHRASE,
        'eab_hmac_key': eab_pebble.eab_hmac_key,
        **pem_lines(keys['registered'], 'account key'),
        **pem_lines(keys['new'], 'new account key'),
    }
    return SecretRuns(runs, secrets)


@pytest.fixture(scope='module')
def role_runs(
    eab_pebble: PebbleServer, proxy: FaultProxy, bind9: Bind9Server, collections_path: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> SecretRuns:
    root = tmp_path_factory.mktemp('secrets-role')
    state_dir = root / 'controller'
    certificate_dir = root / HOST / 'etc' / 'ssl' / 'acme'
    mail = {'name': 'mail', 'identifiers': [unique_name('secrets-mail', bind9.zone)]}
    # A name of its own for the failing run: pebble may reuse a valid authorization, which needs no challenge.
    shop = {'name': 'shop', 'identifiers': [unique_name('secrets-shop', bind9.zone)]}
    host_vars = {
        'ansible_connection': 'local',
        'ansible_python_interpreter': str(host_python()),  # cryptography only: a host, not the controller
        'acme_certificate_directory': proxy.directory_url,
        'acme_certificate_ca_path': str(proxy.ca_path),
        'acme_certificate_request_timeout': REQUEST_TIMEOUT_SECONDS,
        'acme_certificate_state_dir': str(state_dir),
        'acme_certificate_terms_agreed': True,
        'acme_certificate_eab_kid': eab_pebble.eab_kid,
        'acme_certificate_eab_hmac_key': eab_pebble.eab_hmac_key,
        'acme_certificate_dir': str(certificate_dir),
        'acme_certificate_challenge': 'dns-01',
        'acme_certificate_rfc2136_server': '127.0.0.1',
        'acme_certificate_rfc2136_port': bind9.port,
        'acme_certificate_rfc2136_key_name': bind9.tsig_key_name,
        'acme_certificate_rfc2136_key_secret': bind9.tsig_secret,
        'acme_certificate_rfc2136_key_algorithm': bind9.tsig_algorithm,
        'acme_certificate_dns_nameservers': [f'127.0.0.1:{bind9.port}'],
        'acme_certificate_certificates': [mail],
    }
    inventory = root / 'inventory.yml'
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {HOST: host_vars}}}), encoding='utf-8')
    runner = PlaybookRunner(work_dir=root / 'ansible', collections_path=collections_path)
    runner.inventory_path = inventory
    # The role may not have a variable for retry_timeout yet: the play's module default stands in for it.
    bounded = {'retry_timeout': PERSISTENT_RETRY_TIMEOUT_SECONDS, 'acme_certificate_retry_timeout': PERSISTENT_RETRY_TIMEOUT_SECONDS}
    runs = {'issue': faulted_run(proxy, (), lambda: runner.run(PLAYBOOKS / 'role.yml', extra_vars=bounded, verbosity=3))}
    runs['500 to the challenge'] = faulted_run(
        proxy,
        (faults.always(Fault.status(500), ['challenge']),),
        lambda: runner.run(PLAYBOOKS / 'role.yml', extra_vars={**bounded, 'acme_certificate_certificates': [mail, shop]}, verbosity=3, expect_failure=True),
    )
    # The account key as a vault value (encrypted, with its passphrase): issuing, a CA that breaks the
    # registration, and a passphrase that does not open it (refused before anything is done).
    content_keys = {'issue': encrypted_key_pem(), 'fail': encrypted_key_pem()}
    as_value = {
        **bounded,
        'acme_certificate_account_key_passphrase': PASSPHRASE,
        'acme_certificate_certificates': [{'name': 'vault', 'identifiers': [unique_name('secrets-vault', bind9.zone)]}],
    }
    runs['key as a value'] = faulted_run(
        proxy,
        (),
        lambda: runner.run(PLAYBOOKS / 'role.yml', extra_vars={**as_value, 'acme_certificate_account_key_content': content_keys['issue']}, verbosity=3),
    )
    runs['key as a value, 500 to newAccount'] = faulted_run(
        proxy,
        (faults.always(Fault.status(500), ['newAccount']),),
        lambda: runner.run(
            PLAYBOOKS / 'role.yml',
            extra_vars={**as_value, 'acme_certificate_account_key_content': content_keys['fail'], 'acme_certificate_force': True},
            verbosity=3,
            expect_failure=True,
        ),
    )
    runs['key as a value, wrong passphrase'] = faulted_run(
        proxy,
        (),
        lambda: runner.run(
            PLAYBOOKS / 'role.yml',
            extra_vars={
                **as_value,
                'acme_certificate_account_key_content': content_keys['issue'],
                'acme_certificate_account_key_passphrase': 'not the passphrase',
                'acme_certificate_force': True,
            },
            verbosity=3,
            expect_failure=True,
        ),
    )
    secrets = {
        'tsig_secret': bind9.tsig_secret,
        'eab_hmac_key': str(eab_pebble.eab_hmac_key),
        'account_key_passphrase': PASSPHRASE,
        **pem_lines((state_dir / 'account.key').read_text(encoding='ascii'), 'account key'),
        **pem_lines((certificate_dir / 'mail' / 'privkey.pem').read_text(encoding='ascii'), 'certificate key'),
        **pem_lines(content_keys['issue'], 'account key value'),
        **pem_lines(content_keys['fail'], 'failing account key value'),
    }
    return SecretRuns(runs, secrets)


def check_no_secret_printed(part: SecretRuns) -> None:
    for label, faulted in part.runs.items():
        run = faulted.run
        assert any(marker in run.stdout for marker in VERBOSE_MARKERS), f'{label}: -vvv was not in effect'
        for name, secret in part.secrets.items():
            assert not run.contains(secret), f'{label}: {name} appears in the output of {" ".join(run.command)}'
        for outcome in run.outcomes:
            if outcome.failed:
                shown = json.dumps(outcome.result)
                echoed = [mark for mark in REQUEST_BODY_MARKS if mark in shown]
                assert not echoed, f'{label}: {outcome.task!r} echoes the request ({echoed}): {shown[:2000]}'


def test_the_module_flow_issues_then_fails_where_the_proxy_breaks_it(module_runs: SecretRuns) -> None:
    issue = module_runs.runs['issue'].run
    assert issue['Register with External Account Binding']['account']['status'] == 'valid'
    assert issue['Finalize the order']['cert'].startswith('-----BEGIN CERTIFICATE-----')
    for label, rules, _key in MODULE_FAILURES:
        faulted = module_runs.runs[label]
        assert set(faulted.faulted) == {rule.resources and next(iter(rule.resources)) for rule in rules}, label
        assert faulted.run.outcome('Order the certificate').failed, label
        faulted.run.failure_message('Order the certificate')  # one line, no traceback
    # The secrets reached the modules, masked in what -vvv prints of their arguments.
    for shown in (f'"account_key_content": "{MASKED}"', f'"account_key_passphrase": "{MASKED}"', f'"key": "{MASKED}"'):
        assert shown in issue.stdout


def test_the_module_flow_prints_no_secret_at_vvv(module_runs: SecretRuns) -> None:
    check_no_secret_printed(module_runs)


def test_the_role_issues_with_dns01_then_fails_where_the_proxy_breaks_it(role_runs: SecretRuns) -> None:
    assert role_runs.runs['issue'].faulted == []
    failing = role_runs.runs['500 to the challenge']
    assert set(failing.faulted) == {'challenge'}
    failing.run.failure_message(failed_task(failing.run))  # one line, no traceback


def test_the_role_takes_the_account_key_as_a_value_and_fails_clearly_without_showing_it(role_runs: SecretRuns) -> None:
    issue = role_runs.runs['key as a value'].run
    assert issue['certforge.acme.acme_certificate : Register or find the account']['account']['status'] == 'valid'
    # The value reached the modules, masked in what -vvv prints of their arguments.
    assert f'"account_key_content": "{MASKED}"' in issue.stdout
    assert f'"account_key_passphrase": "{MASKED}"' in issue.stdout
    broken = role_runs.runs['key as a value, 500 to newAccount']
    assert set(broken.faulted) == {'newAccount'}
    broken.run.failure_message(failed_task(broken.run))  # one line, no traceback
    wrong = role_runs.runs['key as a value, wrong passphrase'].run
    assert wrong.failure_message(failed_task(wrong)) == (
        'acme_certificate_account_key_content: cannot decrypt the key: acme_certificate_account_key_passphrase is wrong, or the key is damaged'
    )


def test_the_role_prints_no_secret_at_vvv(role_runs: SecretRuns) -> None:
    check_no_secret_printed(role_runs)
