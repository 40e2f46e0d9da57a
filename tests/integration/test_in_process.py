"""The controller's ACME steps give the same results in the controller's process as in a module process.

Each run sets ``certforge_acme_in_process`` itself, so both paths run whatever
CERTFORGE_TEST_ACME_STEPS says; Ansible's own -vvv line for a module it starts ("Using module
file") tells which path really ran, so a plugin that silently always fell back fails here.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from testbed.acme_ca import AcmeCA
from testbed.ansible import PlaybookRun, acme_steps

PLAYBOOK = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'in_process' / 'steps.yml'
STEPS = ('acme_account', 'acme_order', 'acme_renewal_info')
SAME_EXACTLY = ('Refuse an unknown state', 'Refuse a key given twice', 'Ask for renewal information')
MASKED = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def _new_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _run(
    run_playbook: Callable[..., PlaybookRun], acme_ca: AcmeCA, work_dir: pathlib.Path, name: str, *, in_process: bool | None, check: bool = False
) -> PlaybookRun:
    work_dir.mkdir(parents=True, exist_ok=True)
    # The same name in both runs (results are keyed by name); each run has its own account, so its own order.
    chosen = {} if in_process is None else {'certforge_acme_in_process': in_process}
    return run_playbook(
        PLAYBOOK,
        verbosity=3,
        check=check,
        extra_vars={
            **chosen,
            'acme_directory': acme_ca.directory_url,
            'ca_path': str(acme_ca.ca_path),
            'account_key_pem': _new_key_pem(),
            'order_name': name,
            'order_uri_file': str(work_dir / 'order.uri'),
        },
    )


def _modules_started(run: PlaybookRun) -> list[str]:
    """The certforge.acme modules Ansible built and started a process for (its -vvv "Using module file" lines)."""
    return re.findall(r'Using module file \S*/plugins/modules/(acme_\w+)\.py', run.stdout)


def _steady(result: dict[str, Any]) -> dict[str, Any]:
    """The result without what changes from run to run: the retries of pebble's random badNonce answers and their
    warning, and what ca_session hands on to the next step: a fresh nonce, and the directory as the CA sent it
    (acme2certifier adds a random entry each time, as Let's Encrypt suggests to servers)."""
    steady = {key: value for key, value in result.items() if key != 'retries'}
    if isinstance(steady.get('ca_session'), dict):
        steady['ca_session'] = {key: value for key, value in steady['ca_session'].items() if key not in ('nonce', 'directory')}
    warnings = [warning for warning in result.get('warnings', []) if not str(warning).startswith('retried ')]
    if warnings:
        steady['warnings'] = warnings
    else:
        steady.pop('warnings', None)
    return steady


def _shape(value: Any) -> Any:
    """A result with every scalar replaced by its type: what two runs for different accounts and names share."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def _without_account(result: dict[str, Any]) -> str:
    """The result as text, with the account's URL and id (which its orders URL holds too) left out."""
    text, account_uri = repr(_steady(result)), result.get('account_uri')
    if account_uri:
        text = text.replace(account_uri, '<account>').replace(account_uri.rstrip('/').rsplit('/', 1)[-1], '<account id>')
    return text


def _assert_same_results(in_process: PlaybookRun, module: PlaybookRun) -> None:
    assert [(o.task, o.status, o.ignored, o.changed) for o in in_process.outcomes] == [(o.task, o.status, o.ignored, o.changed) for o in module.outcomes]
    for task in SAME_EXACTLY:
        assert _steady(in_process[task]) == _steady(module[task]), task
    for task in ('Register the account', 'Find the account without verifying the CA'):
        assert _without_account(in_process[task]) == _without_account(module[task]), task
    assert _shape(_steady(in_process['Order one name'])) == _shape(_steady(module['Order one name']))


def test_steps_run_in_the_controllers_process_with_the_modules_results(
    run_playbook: Callable[..., PlaybookRun], acme_ca: AcmeCA, tmp_path: pathlib.Path
) -> None:
    name = acme_ca.unique_name('inproc')
    in_process = _run(run_playbook, acme_ca, tmp_path / 'in-process', name, in_process=True)
    module = _run(run_playbook, acme_ca, tmp_path / 'module', name, in_process=False)

    assert _modules_started(in_process) == []
    assert sorted(set(_modules_started(module))) == sorted(STEPS)
    for step in STEPS:
        assert f"certforge.acme: {step} runs in the controller's process" in in_process.stdout
        assert f'certforge.acme: {step} runs as a module process: certforge_acme_in_process is false' in module.stdout

    _assert_same_results(in_process, module)
    # What a user would look at, on the in-process path as on the module's.
    assert in_process.failure_message('Refuse an unknown state').startswith('value of state must be one of: present, absent, changed_key')
    assert in_process.failure_message('Refuse a key given twice') == 'parameters are mutually exclusive: account_key_src|account_key_content'
    unverified = in_process['Find the account without verifying the CA']
    assert any('validate_certs: false' in str(warning) for warning in unverified['warnings'])
    assert unverified['invocation']['module_args']['account_key_content'] == MASKED
    assert in_process['Register the account']['changed'] and in_process['Order one name']['changed']


def test_check_mode_is_the_same_both_ways(run_playbook: Callable[..., PlaybookRun], acme_ca: AcmeCA, tmp_path: pathlib.Path) -> None:
    name = acme_ca.unique_name('inproc')
    in_process = _run(run_playbook, acme_ca, tmp_path / 'in-process', name, in_process=True, check=True)
    module = _run(run_playbook, acme_ca, tmp_path / 'module', name, in_process=False, check=True)
    assert _modules_started(in_process) == []
    assert 'acme_account' in _modules_started(module)
    assert [(o.task, o.status, o.changed) for o in in_process.outcomes] == [(o.task, o.status, o.changed) for o in module.outcomes]
    for task in SAME_EXACTLY:
        assert _steady(in_process[task]) == _steady(module[task]), task
    assert not (tmp_path / 'in-process' / 'order.uri').exists() and not (tmp_path / 'module' / 'order.uri').exists()


def test_the_test_sessions_choice_reaches_every_playbook(run_playbook: Callable[..., PlaybookRun], acme_ca: AcmeCA, tmp_path: pathlib.Path) -> None:
    """CERTFORGE_TEST_ACME_STEPS=module (make integration-modules) really runs the steps as module processes."""
    run = _run(run_playbook, acme_ca, tmp_path, acme_ca.unique_name('inproc'), in_process=None, check=True)
    if acme_steps() == 'module':
        assert 'acme_account' in _modules_started(run)
        assert 'certforge.acme: acme_account runs as a module process: certforge_acme_in_process is false' in run.stdout
    else:
        assert _modules_started(run) == []
        assert "certforge.acme: acme_account runs in the controller's process" in run.stdout
