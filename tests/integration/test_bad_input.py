"""Bad input, table-driven: each fails with one short line naming the option or variable, and changes nothing.

Complements ``playbooks/account/bad_input.yml`` (directories, account keys, contacts) and the
revoke mistakes: here every other module and the role's variables. The inputs of a kind run as
the tasks of one playbook (modules) or the rows of one loop over the role (role variables), so
the whole table takes two playbook runs. Each message must be one line without a traceback, name
what was wrong, and never be Ansible's "Finalization of task args ... Error while resolving value"
wrapper around a filter error. Nothing may be created below ``out_dir``, and the CA receives no
POST from any of them.
"""

from __future__ import annotations

import pathlib
import typing as t

import pytest

from testbed.ansible import PlaybookRun
from testbed.pebble import PebbleServer

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'bad_input'
RunPlaybook = t.Callable[..., PlaybookRun]
# Ansible's wrappers around an error raised while templating: the user must get the error itself.
WRAPPERS = ('Finalization of task args', 'Error while resolving value', 'Traceback (most recent call last)')
TRACEBACK = 'Traceback (most recent call last)'
# How ansible-core's role argument validation (meta/argument_specs.yml) begins its message.
ARGUMENT_VALIDATION = 'Validation of arguments failed:'
# ansible-core (2.19) reports a string where a list of dicts with options is wanted twice: first
# this line of its no_log scan, which names nothing, then an element error naming the variable.
ANSIBLE_NO_LOG_SCAN_ERROR = 'dictionary requested, could not parse JSON or key=value'

# Task of modules.yml -> what its message must name (the option).
MODULE_ROWS = {
    'Order with no identifiers': 'identifiers',
    'Order with an empty identifier': 'identifiers',
    'Order with a name that has a space': 'identifiers',
    'Order with a URL as identifier': 'identifiers',
    'Order with a dict as identifier': 'identifiers',
    'Order with a not_before that is no date': 'not_before',
    'Order with a not_after that is no date': 'not_after',
    'Order with an order_uri that is no URL': 'order_uri',
    'Order with an order_uri_file below a file': 'order_uri_file',
    'Order with a replaces that is no ARI id': 'replaces',
    'Challenge of an unknown type': 'challenge',
    'Challenge with a negative timeout': 'timeout',
    'Challenge with an order_uri that is no URL': 'order_uri',
    'Challenge with a word as timeout': 'timeout',
    'Finalize with a CSR that is no PEM': 'csr_content',
    'Finalize with a CSR file that does not exist': 'csr_src',
    'Finalize with a CSR that is a certificate': 'csr_src',
    'Finalize without any CSR': 'csr_',
    'Finalize with a negative timeout': 'timeout',
    'Finalize with a select_chain entry that is no dict': 'select_chain',
    'Account with a negative request_timeout': 'request_timeout',
    'Account with a word as request_timeout': 'request_timeout',
    'Account with an acme_directory that is no URL': 'acme_directory',
    'Account with an EAB without its key': 'external_account_binding',
    'Account with an EAB key that is not base64url': 'external_account_binding',
    'Revoke with a certificate that is no PEM': 'certificate_content',
    'Revoke with a reason code out of range': 'reason',
    'Renewal info with an id that is no ARI id': 'ari_ids',
    'Renewal info with a number as id': 'ari_ids',
    'Account key of an unknown type': 'key_type',
    'Account key below a file': 'path',
    'Account key path that is a directory': 'path',
    'Plan with no identifiers': 'identifiers',
    'Plan with an identifier that has a space': 'identifiers',
    'Plan with an unknown key type': 'key_type',
    'Plan with a negative renew_before_days': 'renew_before_days',
    'Plan with a certificate path that is a directory': 'cert_path',
    'HTTP-01 files with a relative webroot': 'webroot',
    'HTTP-01 files with challenge data that is no token map': 'challenge_data',
    'HTTP-01 files with a mode that is no mode': 'mode',
    'DNS update with a port out of range': 'port',
    'DNS update with a key secret that is not base64': 'key_secret',
    'DNS update with a key name and no secret': 'key_secret',
    'DNS update with a negative ttl': 'ttl',
    'DNS update with records that are no map of lists': 'records',
    'TLS-ALPN responder on a port out of range': 'port',
    'TLS-ALPN responder with challenges that are no list': 'challenges',
    'TLS-ALPN responder with a listen address that is no address': 'listen',
    'Deploy a certificate that is no PEM': 'cert',
    'Deploy with a key mode that is no mode': 'key_mode',
    'Deploy with a certificate mode that is no mode': 'mode',
    'Plan with a key path that is a directory': 'key_path',
    'Lock with a negative timeout': 'timeout',
    'Lock path that is a directory': 'paths',
    'State files with a relative path': 'write',
    'Deploy to an owner that does not exist': 'owner',
}

# Row of role.yml -> what its message must name (the variable).
ROLE_ROWS = {
    'certificates that are no list': 'acme_certificate_certificates',
    'certificate entry that is no dict': 'acme_certificate_certificates',
    'certificate entry without name': 'name',
    'certificate name with a slash': 'name',
    'certificate names used twice': 'www',
    'certificate without identifiers': 'identifiers',
    'identifiers that are no list': 'identifiers',
    'identifier with a space': 'identifiers',
    'identifier that is a URL': 'identifiers',
    'unknown challenge of an entry': 'challenge',
    'unknown key_type of an entry': 'key_type',
    'renew_before_days of an entry that is no number': 'renew_before_days',
    'mode of an entry that is no mode': 'mode',
    'webroot_hosts that is no list': 'webroot_hosts',
    'unknown challenge': 'acme_certificate_challenge',
    'unknown key_type': 'acme_certificate_key_type',
    'unknown account key type': 'acme_certificate_account_key_type',
    'directory that is no URL': 'acme_certificate_directory',
    'request_timeout that is no number': 'acme_certificate_request_timeout',
    'negative challenge_timeout': 'acme_certificate_challenge_timeout',
    'renew_before_days that is no number': 'acme_certificate_renew_before_days',
    'unknown dns provider': 'acme_certificate_dns_provider',
    'challenge_overrides to an unknown challenge': 'challenge_overrides',
    'negative renew_before_days of an entry': 'renew_before_days',
    'certificate directory that is relative': 'acme_certificate_dir',
    'tls-alpn-01 port out of range': 'acme_certificate_tls_alpn_port',
    'tls-alpn-01 listen that is no address': 'acme_certificate_tls_alpn_listen',
    'profile that is no name': 'acme_certificate_profile',
    'profile of an entry that is no name': 'profile',
    'select_chain that is no list': 'acme_certificate_select_chain',
    'select_chain with an unknown criterion': 'acme_certificate_select_chain',
    'select_chain of an entry with an empty criterion': 'select_chain',
    'account key content and path both given': 'acme_certificate_account_key_',
    'account key content that is no key': 'acme_certificate_account_key_content',
    'eab kid without its hmac key': 'acme_certificate_eab_hmac_key',
    'eab hmac key without its kid': 'acme_certificate_eab_kid',
    'eab hmac key that is not base64url': 'acme_certificate_eab_hmac_key',
    'unknown eab algorithm': 'acme_certificate_eab_alg',
    'certificate path of an entry that is relative': 'cert_path',
    'webroot that is relative': 'acme_certificate_webroot',
    'state directory that is relative': 'acme_certificate_state_dir',
    'dns-persist-01 end that is no time': 'acme_certificate_dns_persist_until',
    'account email with mailto': 'acme_certificate_account_email',
    'account email that is no address': 'acme_certificate_account_email',
}


class BadInputRuns(t.NamedTuple):
    """The two runs and what they left: files below out_dir and POSTs the CA received."""

    modules: PlaybookRun
    role: PlaybookRun
    created: list[str]
    ca_posts: list[str]


@pytest.fixture(scope='module')
def bad_input_runs(run_playbook: RunPlaybook, pebble: PebbleServer, tmp_path_factory: pytest.TempPathFactory) -> BadInputRuns:
    """An account to use, then both tables."""
    work_dir = tmp_path_factory.mktemp('bad-input')
    out_dir = work_dir / 'out'
    common = {'acme_directory': pebble.directory_url, 'ca_path': str(pebble.ca_path), 'work_dir': str(work_dir), 'out_dir': str(out_dir)}
    setup = run_playbook(PLAYBOOKS / 'setup.yml', extra_vars=common)
    requests_before = len(pebble.logged_requests())
    modules = run_playbook(PLAYBOOKS / 'modules.yml', extra_vars={**common, 'account_uri': setup['Show the account']['account.account_uri']})
    role = run_playbook(PLAYBOOKS / 'role.yml', extra_vars=common)
    ca_posts = [request.path for request in pebble.logged_requests()[requests_before:] if request.method == 'POST']
    created = sorted(str(path) for path in out_dir.rglob('*')) + ([str(out_dir)] if out_dir.exists() else [])
    return BadInputRuns(modules, role, created, ca_posts)


def assert_clear(message: str, named: str) -> None:
    """One short line, no wrapper or traceback, naming ``named``."""
    assert '\n' not in message.strip(), message
    assert not any(wrapper in message for wrapper in WRAPPERS), message
    assert named in message, f'{named!r} is not named in: {message}'


@pytest.mark.parametrize('task', list(MODULE_ROWS))
def test_module_bad_input_fails_with_one_line_naming_the_option(bad_input_runs: BadInputRuns, task: str) -> None:
    outcome = bad_input_runs.modules.outcome(task)
    assert outcome.failed, f'{task!r} did not fail: {outcome.result}'
    assert TRACEBACK not in str(outcome.result.get('exception', '')), outcome.result['exception']
    assert_clear(str(outcome.result.get('msg', '')), MODULE_ROWS[task])


@pytest.mark.parametrize('row', list(ROLE_ROWS))
def test_role_bad_variable_fails_with_one_line_naming_it(bad_input_runs: BadInputRuns, row: str) -> None:
    failures = bad_input_runs.role['Show the role failures']['bad_role_inputs']
    failure = failures[row]
    assert failure['failed'], f'the role accepted {row!r}'
    assert TRACEBACK not in failure['exception'], failure['exception']
    if failure['msg'].startswith(ARGUMENT_VALIDATION):
        # Ansible's own check of meta/argument_specs.yml: its standard heading, then one line per
        # error in argument_errors, each naming the variable.
        errors = [error for error in failure['argument_errors'] if error != ANSIBLE_NO_LOG_SCAN_ERROR]
        assert errors, failure
        for error in errors:
            assert_clear(error, ROLE_ROWS[row])
    else:
        assert_clear(failure['msg'], ROLE_ROWS[row])


def test_bad_input_changes_nothing(bad_input_runs: BadInputRuns) -> None:
    assert bad_input_runs.created == []
    assert bad_input_runs.ca_posts == []


def test_a_challenge_the_ca_does_not_offer_fails_with_one_line_naming_it(
    run_playbook: RunPlaybook, pebble: PebbleServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Only the CA's authorizations tell which challenges it offers: the order is made, then refused in one line."""
    work_dir = tmp_path_factory.mktemp('bad-challenge')
    common = {'acme_directory': pebble.directory_url, 'ca_path': str(pebble.ca_path), 'work_dir': str(work_dir), 'out_dir': str(work_dir / 'out')}
    run_playbook(PLAYBOOKS / 'setup.yml', extra_vars=common)
    # pebble 2.4.0 offers no dns-persist-01.
    rows = [{'row': 'challenge the CA does not offer', 'challenge': 'dns-persist-01'}]
    failure = run_playbook(PLAYBOOKS / 'role.yml', extra_vars={**common, 'rows': rows})['Show the role failures']['bad_role_inputs'][rows[0]['row']]
    assert failure['failed']
    assert TRACEBACK not in failure['exception'], failure['exception']
    assert_clear(failure['msg'], 'acme_certificate_challenge')
    assert 'dns-persist-01' in failure['msg'], failure['msg']
