"""acme_account_key and acme_account against each CA of the testbed: the "Foundation" issue's done-when list.

Account scenarios take ``acme_ca`` and run on pebble and on acme2certifier; the key-type and
bad-input tests check pebble's own answers word for word and stay pebble-only.
"""

from __future__ import annotations

import dataclasses
import http.server
import os
import pathlib
import ssl
import stat
import threading
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from testbed.acme_ca import AcmeCA, AcmeServer
from testbed.acme_probe import AcmeProbe
from testbed.ansible import TRACEBACK, PlaybookRun
from testbed.pebble import PebbleServer, new_eab_credentials
from testbed.ports import LOOPBACK, free_port
from testbed.tls import ServerTLS

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'account'
# rsa3072/rsa4096 only cost time: generating them proves nothing rsa2048 does not.
KEY_TYPES = ['ec256', 'ec384', 'ec521', 'rsa2048', 'ed25519']
KEY_PASSPHRASE = 'correct horse battery staple'
# What Python prints above a traceback; a module failure must never show one.

RunPlaybook = Callable[..., PlaybookRun]


def _key_type(path: pathlib.Path, passphrase: str | None = None) -> str:
    """The acme_account_key ``key_type`` name of the key in a PEM file."""
    password = passphrase.encode() if passphrase else None
    public = serialization.load_pem_private_key(path.read_bytes(), password=password).public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return {'secp256r1': 'ec256', 'secp384r1': 'ec384', 'secp521r1': 'ec521'}[public.curve.name]
    if isinstance(public, rsa.RSAPublicKey):
        return f'rsa{public.key_size}'
    assert isinstance(public, ed25519.Ed25519PublicKey)
    return 'ed25519'


def _mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _write_key(path: pathlib.Path, passphrase: str | None = None) -> bytes:
    """Write a new P-256 key (encrypted when a passphrase is given) as a user's existing key; return its PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    path.write_bytes(pem)
    path.chmod(0o600)
    return pem


def _acme_vars(server: AcmeServer | AcmeCA, work_dir: pathlib.Path, **more: object) -> dict[str, object]:
    """Extra vars that point a playbook at ``server`` and keep its files in ``work_dir``."""
    return {'acme_directory': server.directory_url, 'ca_path': str(server.ca_path), 'work_dir': str(work_dir), **more}


def _register(server: AcmeServer | AcmeCA, key_path: pathlib.Path) -> str:
    """Register an account for the P-256 key at ``key_path`` with the testbed's own client; return its URL.

    Quicker than a playbook run, for tests about what happens to an account that exists.
    """
    probe = AcmeProbe(server.directory_url, ca_path=server.ca_path)
    probe.key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    probe.register()
    assert probe.account_url
    return probe.account_url


def test_account_key_check_apply_idempotent(run_playbook: RunPlaybook, tmp_path: pathlib.Path) -> None:
    extra_vars = {'key_dir': str(tmp_path), 'key_types': KEY_TYPES, 'key_passphrase': KEY_PASSPHRASE}

    check = run_playbook(PLAYBOOKS / 'keys.yml', extra_vars=extra_vars, check=True)
    assert [item['changed'] for item in check['Create one account key per type']['results']] == [True] * len(KEY_TYPES)
    assert check['Create an encrypted account key']['changed']
    assert list(tmp_path.iterdir()) == []

    applied = run_playbook(PLAYBOOKS / 'keys.yml', extra_vars=extra_vars)
    again = run_playbook(PLAYBOOKS / 'keys.yml', extra_vars=extra_vars)

    assert applied.changed_tasks == ['Create one account key per type', 'Create an encrypted account key']
    assert again.changed_tasks == []
    first = {item['key_type']: item for item in applied['Create one account key per type']['results']}
    second = {item['key_type']: item for item in again['Create one account key per type']['results']}
    for key_type in KEY_TYPES:
        path = tmp_path / f'account-{key_type}.key'
        assert _key_type(path) == key_type
        assert _mode(path) == 0o600
        assert first[key_type]['changed'] and not second[key_type]['changed']
        assert first[key_type]['thumbprint'] == second[key_type]['thumbprint']
    encrypted = tmp_path / 'account-encrypted.key'
    assert encrypted.read_bytes().startswith(b'-----BEGIN ENCRYPTED PRIVATE KEY-----')
    assert _key_type(encrypted, KEY_PASSPHRASE) == 'ec256'
    assert _mode(encrypted) == 0o600
    assert not again['Create an encrypted account key']['changed']


def test_account_key_meets_existing_keys(run_playbook: RunPlaybook, tmp_path: pathlib.Path) -> None:
    plain_pem = _write_key(tmp_path / 'account-ec256.key')
    encrypted_pem = _write_key(tmp_path / 'account-encrypted.key', KEY_PASSPHRASE)

    run = run_playbook(PLAYBOOKS / 'key_conflicts.yml', extra_vars={'key_dir': str(tmp_path), 'key_passphrase': KEY_PASSPHRASE})

    assert run.failure_message('Ask for another type than the existing key') == (
        f'key_type: {tmp_path}/account-ec256.key holds a ec256 key, not ec384; set key_type: ec256 to keep it, or force: true to replace it'
    )
    assert not run['Read the encrypted key with its passphrase']['changed']
    assert run.failure_message('Read the encrypted key with a wrong passphrase') == (
        'path: cannot decrypt the key: passphrase is wrong, or the key is damaged; set force: true to replace it (the old key is lost unless backup: true)'
    )
    assert run.failure_message('Read the encrypted key without its passphrase').startswith('path: the key is encrypted; set passphrase')
    assert (tmp_path / 'account-encrypted.key').read_bytes() == encrypted_pem

    replaced = run['Replace the key by one of another type, keeping a backup']
    assert replaced['changed'] and replaced['key_type'] == 'rsa2048'
    assert _key_type(tmp_path / 'account-ec256.key') == 'rsa2048'
    assert _mode(tmp_path / 'account-ec256.key') == 0o600
    backup = pathlib.Path(replaced['backup_file'])
    assert backup.parent == tmp_path and backup.read_bytes() == plain_pem
    assert TRACEBACK not in run.stdout + run.stderr


def test_account_register_find_and_update_contact(run_playbook: RunPlaybook, acme_ca: AcmeCA, tmp_path: pathlib.Path) -> None:
    first_contact = ['mailto:hostmaster@acme.test']
    second_contact = ['mailto:admin@acme.test', 'mailto:security@acme.test']

    check = run_playbook(PLAYBOOKS / 'register.yml', extra_vars=_acme_vars(acme_ca, tmp_path, contact=first_contact), check=True, diff=True)
    assert check.changed_tasks == ['Create the account key', 'Register the account']
    assert not (tmp_path / 'account.key').exists()
    # The key is only there in a real run: check mode predicts the registration without looking up anything.
    registration = check['Register the account']
    assert registration['account_uri'] is None
    assert registration['warnings'] == [f'account_key_src {tmp_path}/account.key does not exist yet; a new account would be registered for it']
    assert registration['diff'] == {'before': {'status': 'absent'}, 'after': {'status': 'valid', 'contact': first_contact}}
    # ... and a lookup that may not register predicts the failure of the real run.
    assert check.failure_message('Find the account without registering one') == (
        f'allow_creation: no account exists for account_key_src {tmp_path}/account.key, which does not exist yet; set allow_creation: true to register one'
    )

    applied = run_playbook(PLAYBOOKS / 'register.yml', extra_vars=_acme_vars(acme_ca, tmp_path, contact=first_contact))
    again = run_playbook(PLAYBOOKS / 'register.yml', extra_vars=_acme_vars(acme_ca, tmp_path, contact=first_contact))

    assert applied.changed_tasks == ['Create the account key', 'Register the account']
    assert again.changed_tasks == []
    account = applied['Register the account']
    assert account['account_uri'].startswith(acme_ca.directory_url.rsplit('/', 1)[0])
    assert account['account']['status'] == 'valid'
    assert account['account']['contact'] == first_contact
    for run in (applied, again):
        for task in ('Register the account', 'Find the account without registering one', 'Read the account by its URL'):
            assert run[task]['account_uri'] == account['account_uri'], task
            assert run[task]['account']['contact'] == first_contact, task

    update_vars = _acme_vars(acme_ca, tmp_path, contact=second_contact)
    check = run_playbook(PLAYBOOKS / 'register.yml', extra_vars=update_vars, check=True, diff=True)
    assert check.changed_tasks == ['Register the account']
    assert check['Register the account']['account']['contact'] == second_contact
    # Check mode changed nothing at the CA.
    assert check['Read the account by its URL']['account']['contact'] == first_contact

    applied = run_playbook(PLAYBOOKS / 'register.yml', extra_vars=update_vars, diff=True)
    again = run_playbook(PLAYBOOKS / 'register.yml', extra_vars=update_vars, diff=True)
    assert applied.changed_tasks == ['Register the account']
    assert again.changed_tasks == []
    assert applied['Read the account by its URL']['account']['contact'] == second_contact
    assert applied['Register the account']['diff'] == {
        'before': {'status': 'valid', 'contact': first_contact},
        'after': {'status': 'valid', 'contact': second_contact},
    }
    # What --diff shows a person: the old address removed, the new ones added.
    assert '-        "mailto:hostmaster@acme.test"' in applied.stdout
    assert '+        "mailto:admin@acme.test",' in applied.stdout
    assert '+        "mailto:security@acme.test"' in applied.stdout


def test_account_key_rollover(run_playbook: RunPlaybook, acme_ca: AcmeCA, tmp_path: pathlib.Path) -> None:
    _write_key(tmp_path / 'account.key')
    account_uri = _register(acme_ca, tmp_path / 'account.key')
    extra_vars = _acme_vars(acme_ca, tmp_path)

    check = run_playbook(PLAYBOOKS / 'rollover.yml', extra_vars=extra_vars, check=True)
    assert check.changed_tasks == ['Create the new account key', 'Change the account key']
    assert check['Find the account with the old key']['account_uri'] == account_uri
    assert check.failure_message('Find the account with the new key').startswith('allow_creation: no account exists')

    applied = run_playbook(PLAYBOOKS / 'rollover.yml', extra_vars=extra_vars)
    again = run_playbook(PLAYBOOKS / 'rollover.yml', extra_vars=extra_vars)

    assert applied.changed_tasks == ['Change the account key']
    assert again.changed_tasks == []
    for run in (applied, again):
        assert run['Change the account key']['account_uri'] == account_uri
        assert run.failure_message('Find the account with the old key').startswith('allow_creation: no account exists')
        assert run['Find the account with the new key']['account_uri'] == account_uri
        assert run['Find the account with the new key']['account']['status'] == 'valid'


def test_account_deactivation(run_playbook: RunPlaybook, acme_ca: AcmeCA, tmp_path: pathlib.Path) -> None:
    _write_key(tmp_path / 'account.key')
    account_uri = _register(acme_ca, tmp_path / 'account.key')
    extra_vars = _acme_vars(acme_ca, tmp_path, account_key_path=str(tmp_path / 'account.key'))

    check = run_playbook(PLAYBOOKS / 'deactivate.yml', extra_vars=extra_vars, check=True, diff=True)
    assert check.changed_tasks == ['Deactivate the account']
    assert check['Deactivate the account']['diff']['after']['status'] == 'deactivated'
    # Still valid after the check run; the real run below deactivates it.
    assert check['Find the account']['account_uri'] == account_uri
    assert check['Find the account']['account']['status'] == 'valid'

    applied = run_playbook(PLAYBOOKS / 'deactivate.yml', extra_vars=extra_vars)
    again = run_playbook(PLAYBOOKS / 'deactivate.yml', extra_vars=extra_vars)

    assert applied.changed_tasks == ['Deactivate the account']
    assert applied['Deactivate the account']['account_uri'] == account_uri
    assert applied['Deactivate the account']['account']['status'] == 'deactivated'
    assert again.changed_tasks == []
    assert again['Deactivate the account']['account_uri'] is None
    for run in (applied, again):
        # A CA refuses every request for a deactivated account: for the key, there is none any more.
        assert run.failure_message('Find the account').startswith('allow_creation: no account exists')


def test_account_key_types_at_pebble(run_playbook: RunPlaybook, pebble: PebbleServer, tmp_path: pathlib.Path) -> None:
    extra_vars = _acme_vars(pebble, tmp_path, key_types=KEY_TYPES)

    applied = run_playbook(PLAYBOOKS / 'key_types.yml', extra_vars=extra_vars)
    again = run_playbook(PLAYBOOKS / 'key_types.yml', extra_vars=extra_vars)

    first = {item['item']: item for item in applied['Register one account per key type']['results']}
    second = {item['item']: item for item in again['Register one account per key type']['results']}
    for key_type in ('ec256', 'ec384', 'ec521', 'rsa2048'):
        assert first[key_type]['changed'] and first[key_type]['account']['status'] == 'valid', key_type
        assert not second[key_type]['changed'] and second[key_type]['account_uri'] == first[key_type]['account_uri'], key_type
    # Pebble 2.4.0 knows no EdDSA and refuses the key with badPublicKey (not badSignatureAlgorithm).
    for result in (first['ed25519'], second['ed25519']):
        assert result['failed']
        assert result['msg'] == (
            'looking up the account: CA error badPublicKey (HTTP 400): no signature algorithms suitable for given key type: '
            'ed25519.PublicKey (the CA does not accept this kind of key for signing requests; use an EC P-256 or RSA key)'
        )


# What each CA answers to a binding signed with the wrong HMAC key, as the module words it.
WRONG_EAB_KEY_MESSAGES = {
    'pebble': (
        'creating the account: CA error unauthorized (HTTP 403): external account binding JWS verification error: '
        'square/go-jose: error in cryptographic primitive (the CA refused the request)'
    ),
    'acme2certifier': 'creating the account: CA error unauthorized (HTTP 403): invalid eab credentials (the CA refused the request)',
}


@dataclasses.dataclass(frozen=True)
class EabRuns:
    """eab.yml in check mode, applied, and applied again, all at -vvv, with the secrets it was given."""

    ca_name: str
    check: PlaybookRun
    applied: PlaybookRun
    again: PlaybookRun
    secrets: dict[str, str]


@pytest.fixture(scope='module')
def eab_runs(run_playbook: RunPlaybook, acme_ca_eab: AcmeCA, tmp_path_factory: pytest.TempPathFactory) -> EabRuns:
    key_path = tmp_path_factory.mktemp('eab') / 'account.key'
    key_pem = _write_key(key_path, KEY_PASSPHRASE).decode('ascii')
    assert acme_ca_eab.eab_kid and acme_ca_eab.eab_hmac_key
    extra_vars = {
        'acme_directory': acme_ca_eab.directory_url,
        'ca_path': str(acme_ca_eab.ca_path),
        'account_key_pem': key_pem,
        'account_key_passphrase': KEY_PASSPHRASE,
        'eab_kid': acme_ca_eab.eab_kid,
        'eab_hmac_key': acme_ca_eab.eab_hmac_key,
        'wrong_eab_hmac_key': next(iter(new_eab_credentials().values())),
    }
    return EabRuns(
        ca_name=acme_ca_eab.name,
        check=run_playbook(PLAYBOOKS / 'eab.yml', extra_vars=extra_vars, check=True, verbosity=3),
        applied=run_playbook(PLAYBOOKS / 'eab.yml', extra_vars=extra_vars, verbosity=3),
        again=run_playbook(PLAYBOOKS / 'eab.yml', extra_vars=extra_vars, verbosity=3),
        secrets={
            'account_key_passphrase': KEY_PASSPHRASE,
            'eab_hmac_key': acme_ca_eab.eab_hmac_key,
            'wrong_eab_hmac_key': extra_vars['wrong_eab_hmac_key'],
            # Every base64 line of the PEM body, so that no piece of the key may show either.
            **{f'account_key_pem line {number}': line for number, line in enumerate(key_pem.splitlines()) if '-----' not in line},
        },
    )


def test_external_account_binding(eab_runs: EabRuns) -> None:
    for run in (eab_runs.check, eab_runs.applied):
        message = run.failure_message('Register without External Account Binding')
        assert message.startswith('external_account_binding: the CA requires External Account Binding for new accounts')
    # Check mode cannot know the HMAC key is wrong: only the CA can tell.
    assert eab_runs.check.changed_tasks == ['Register with a wrong HMAC key', 'Register with External Account Binding']
    assert eab_runs.check['Register with External Account Binding']['account_uri'] is None
    # The check run registered nothing for the key.
    assert eab_runs.check.failure_message('Find the account without registering one').startswith('allow_creation: no account exists for this account key')

    assert eab_runs.applied.failure_message('Register with a wrong HMAC key') == WRONG_EAB_KEY_MESSAGES[eab_runs.ca_name]
    created = eab_runs.applied['Register with External Account Binding']
    assert created['changed'] and created['account']['status'] == 'valid'
    assert created['account']['contact'] == ['mailto:hostmaster@acme.test']

    # Binding only matters for a new account: once it exists, every task finds it.
    assert eab_runs.again.changed_tasks == []
    assert eab_runs.applied['Find the account without registering one']['account_uri'] == created['account_uri']
    for task in (
        'Register without External Account Binding',
        'Register with a wrong HMAC key',
        'Register with External Account Binding',
        'Find the account without registering one',
    ):
        assert eab_runs.again[task]['account_uri'] == created['account_uri'], task


def test_secrets_never_appear_in_output(eab_runs: EabRuns) -> None:
    for run in (eab_runs.check, eab_runs.applied, eab_runs.again):
        # -vvv really was in effect: the action says where the module's code runs (a process or the controller's own)
        assert 'certforge.acme: acme_account runs ' in run.stdout
        for name, secret in eab_runs.secrets.items():
            assert not run.contains(secret), f'{name} appears in the output of {" ".join(run.command)}'
    # At -vvv Ansible prints the module arguments: the secrets reached the module, masked.
    masked = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    for shown in (f'"account_key_content": "{masked}"', f'"account_key_passphrase": "{masked}"', f'"key": "{masked}"'):
        assert shown in eab_runs.applied.stdout


class _NotAcmeHandler(http.server.BaseHTTPRequestHandler):
    """Answers like a web server that is not an ACME CA."""

    PAGES = {
        '/index.html': ('text/html; charset=utf-8', b'<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>'),
        '/status.json': ('application/json', b'{"status": "ok", "version": "1.2.3"}'),
    }

    def do_GET(self) -> None:  # noqa: N802  # the name http.server dispatches to
        content_type, body = self.PAGES.get(self.path, ('text/plain', b'not found'))
        self.send_response(200 if self.path in self.PAGES else 404)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin
        """Keep the test output clean."""


@pytest.fixture(scope='module')
def not_acme_server(server_tls: ServerTLS) -> Iterator[str]:
    """A web server on 127.0.0.1 with the testbed's TLS certificate that is no ACME CA; yields its base URL."""
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _NotAcmeHandler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server_tls.certificate_path, server_tls.private_key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'https://{LOOPBACK}:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_bad_input_fails_with_one_line_naming_the_option(run_playbook: RunPlaybook, pebble: PebbleServer, not_acme_server: str, tmp_path: pathlib.Path) -> None:
    _write_key(tmp_path / 'account.key')
    _write_key(tmp_path / 'account-encrypted.key', KEY_PASSPHRASE)
    (tmp_path / 'random.txt').write_text('these are not the droids you are looking for\n', encoding='ascii')
    closed_port = free_port()  # nothing listens there; free_port only asked the kernel for it
    pebble_base = pebble.directory_url.rsplit('/', 1)[0]
    extra_vars = _acme_vars(
        pebble,
        tmp_path,
        key_passphrase=KEY_PASSPHRASE,
        closed_port_url=f'https://{LOOPBACK}:{closed_port}/dir',
        http_url=f'http://{LOOPBACK}:{pebble.listen_port}/dir',
        not_found_url=f'{pebble_base}/nonexistent',
        html_url=f'{not_acme_server}/index.html',
        pem_url=f'{pebble.management_url}/roots/0',
        json_url=f'{not_acme_server}/status.json',
    )

    run = run_playbook(PLAYBOOKS / 'bad_input.yml', extra_vars=extra_vars)

    expected = {
        # task: (option named first, what the message must say)
        'Use a port nothing listens on': ('acme_directory', f'cannot connect to {extra_vars["closed_port_url"]}: '),
        'Use an http URL': ('acme_directory', 'is not an https:// URL; ACME requires HTTPS'),
        'Use a URL that answers 404': ('acme_directory', 'answered HTTP 404; is this the CA\'s ACME directory URL?'),
        'Use the URL of an HTML page': ('acme_directory', 'did not answer with a JSON ACME directory (got text/html)'),
        'Use the URL of a PEM certificate': ('acme_directory', 'did not answer with a JSON ACME directory'),
        'Use the URL of JSON that is no directory': ('acme_directory', 'is not an ACME directory: it lacks newNonce, newAccount, newOrder'),
        'Leave out ca_path': ('acme_directory', 'certificate verify failed'),
        'Use a key file that does not exist': ('account_key_src', f'{tmp_path}/missing.key does not exist'),
        'Use a directory as key file': ('account_key_src', f'{tmp_path} is a directory, not a file'),
        'Use a certificate as key': ('account_key_src', 'cannot read the PEM private key: it is damaged or not a private key'),
        'Use random text as key': ('account_key_src', "is not a PEM private key (no '-----BEGIN' line found)"),
        'Use an encrypted key with a wrong passphrase': ('account_key_src', 'account_key_passphrase is wrong'),
        'Use an encrypted key without its passphrase': ('account_key_src', 'the key is encrypted; set account_key_passphrase'),
        'Give an address without mailto': ('contact', "'hostmaster@acme.test' is not a URL; write mailto:hostmaster@acme.test"),
    }
    assert [outcome.task for outcome in run.outcomes][: len(expected)] == list(expected)
    for task, (option, text) in expected.items():
        message = run.failure_message(task)
        assert message.startswith(f'{option}: '), (task, message)
        assert text in message, (task, message)
    # The TLS failure says how to fix it.
    assert run.failure_message('Leave out ca_path').endswith('set ca_path to its certificate bundle')
    # Only the CA knows which URL schemes it takes; its refusal comes with advice.
    assert run.failure_message('Give a telephone number') == (
        'creating the account: CA error unsupportedContact (HTTP 400): contact method "tel" is not supported '
        '(the CA does not accept this contact URL; use mailto: addresses)'
    )
    assert TRACEBACK not in run.stdout + run.stderr
