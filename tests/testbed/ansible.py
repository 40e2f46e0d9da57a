"""Run playbooks against localhost with this checkout as the ``certforge.acme`` collection.

``ansible-playbook`` comes from the same venv as the test interpreter. Its console output is the
default callback's, exactly as a user sees it; the ``testbed_results`` callback next to it
writes the structured results to a JSON file, which is what ``PlaybookRun`` exposes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

from .errors import TestbedError

CALLBACK_PLUGINS = pathlib.Path(__file__).resolve().parent / 'callback_plugins'
RESULTS_CALLBACK = 'testbed_results'
PLAYBOOK_TIMEOUT_SECONDS = 600
# How the controller's ACME steps run in every playbook: 'in-process' (the collection's default) or
# 'module' (`make integration-modules`), so the suite covers both paths of the action plugins.
ACME_STEPS_VARIABLE = 'CERTFORGE_TEST_ACME_STEPS'
ACME_STEPS = ('in-process', 'module')
OUTPUT_TAIL_CHARACTERS = 6000
TRACEBACK = 'Traceback (most recent call last)'


@dataclasses.dataclass(frozen=True)
class TaskOutcome:
    """The result of one task on one host."""

    task: str
    action: str
    host: str
    status: str  # 'ok', 'failed', 'skipped' or 'unreachable'
    ignored: bool  # failed, but the task had ignore_errors
    result: dict[str, Any]
    delegated_to: str | None = None  # the host it ran on when delegated (delegate_to)

    @property
    def changed(self) -> bool:
        """Whether the task reported a change."""
        return bool(self.result.get('changed'))

    @property
    def failed(self) -> bool:
        """Whether the task failed (even if its failure was ignored)."""
        return self.status == 'failed'


@dataclasses.dataclass(frozen=True)
class PlaybookRun:
    """What one ``ansible-playbook`` run did and printed."""

    command: list[str]
    rc: int
    stdout: str
    stderr: str
    outcomes: list[TaskOutcome]
    recap: dict[str, dict[str, int]]
    results_json: str

    def outcomes_of(self, task_name: str) -> list[TaskOutcome]:
        """All outcomes of the task named ``task_name``, in order (loops over includes repeat a task)."""
        return [outcome for outcome in self.outcomes if outcome.task == task_name]

    def outcome(self, task_name: str) -> TaskOutcome:
        """The last outcome of the task named ``task_name``."""
        outcomes = self.outcomes_of(task_name)
        if not outcomes:
            known = ', '.join(repr(name) for name in dict.fromkeys(outcome.task for outcome in self.outcomes))
            raise KeyError(f'no task named {task_name!r} ran; tasks that ran: {known or "none"}')
        return outcomes[-1]

    def __getitem__(self, task_name: str) -> dict[str, Any]:
        """The module result of the last run of task ``task_name``: ``run['Create account']['changed']``."""
        return self.outcome(task_name).result

    @property
    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported a change, in order."""
        return [outcome.task for outcome in self.outcomes if outcome.changed]

    def contains(self, text: str) -> bool:
        """Whether ``text`` appears anywhere the run wrote: stdout, stderr or the recorded results."""
        return any(text in output for output in (self.stdout, self.stderr, self.results_json))

    def failure_message(self, task_name: str) -> str:
        """The message of a task that must have failed, checked to be one line without a traceback."""
        outcome = self.outcome(task_name)
        assert outcome.failed, f'{task_name!r} did not fail: {outcome.result}'
        message: str = outcome.result['msg']
        assert '\n' not in message
        assert TRACEBACK not in message and TRACEBACK not in str(outcome.result.get('exception', ''))
        return message


class PlaybookRunner:
    """Runs playbooks with a fixed inventory of one local host and an isolated Ansible setup."""

    def __init__(self, *, work_dir: pathlib.Path, collections_path: pathlib.Path) -> None:
        self.work_dir = work_dir
        self.collections_path = collections_path
        self.ansible_playbook = pathlib.Path(sys.executable).with_name('ansible-playbook')
        if not self.ansible_playbook.exists():
            raise TestbedError(f'{self.ansible_playbook} is missing; run the tests with the .venv interpreter (make setup)')
        work_dir.mkdir(parents=True, exist_ok=True)
        self.inventory_path = work_dir / 'inventory.ini'
        # Modules must run with this interpreter, which has cryptography and requests.
        self.inventory_path.write_text(f'localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n', encoding='utf-8')
        # An empty config keeps an ansible.cfg in the current directory or in ~ from changing the runs.
        self.config_path = work_dir / 'ansible.cfg'
        self.config_path.write_text('', encoding='utf-8')

    def environment(self) -> dict[str, str]:
        """The environment ansible-playbook runs with."""
        environment = dict(os.environ)
        environment.update(
            {
                'ANSIBLE_CONFIG': str(self.config_path),
                'ANSIBLE_COLLECTIONS_PATH': str(self.collections_path),
                # Only this checkout may provide certforge.acme, not a copy installed in the venv.
                'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
                'ANSIBLE_CALLBACK_PLUGINS': str(CALLBACK_PLUGINS),
                'ANSIBLE_CALLBACKS_ENABLED': RESULTS_CALLBACK,
                'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default',
                'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_LOCAL_TEMP': str(self.work_dir / 'ansible-local-tmp'),
                'ANSIBLE_REMOTE_TEMP': str(self.work_dir / 'ansible-remote-tmp'),
                'ANSIBLE_RETRY_FILES_ENABLED': 'false',
            }
        )
        environment.pop('ANSIBLE_FORCE_COLOR', None)
        return environment

    def run(
        self,
        playbook: str | os.PathLike[str],
        *,
        extra_vars: Mapping[str, Any] | None = None,
        check: bool = False,
        diff: bool = False,
        verbosity: int = 0,
        expect_failure: bool | None = False,
    ) -> PlaybookRun:
        """Run ``playbook`` (a path, or YAML text when it is a string with a line break).

        Fails the calling test when the exit status does not match ``expect_failure``; ``None``
        accepts either (for runs whose outcome the test itself examines, e.g. two at once).
        """
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix='run-') as run_dir_name:
            run_dir = pathlib.Path(run_dir_name)
            playbook_path = self._playbook_path(playbook, run_dir)
            results_path = run_dir / 'results.json'
            command = [str(self.ansible_playbook), '-i', str(self.inventory_path), str(playbook_path)]
            if acme_steps() == 'module':
                # Before the test's own extra vars, so that a test may still choose a path itself.
                command += ['--extra-vars', 'certforge_acme_in_process=false']
            if extra_vars:
                # A file keeps values (secrets too) out of the command line and free of quoting rules.
                extra_vars_path = run_dir / 'extra-vars.json'
                extra_vars_path.write_text(json.dumps(dict(extra_vars)), encoding='utf-8')
                command += ['--extra-vars', f'@{extra_vars_path}']
            if check:
                command.append('--check')
            if diff:
                command.append('--diff')
            if verbosity:
                command.append('-' + 'v' * verbosity)
            environment = self.environment()
            environment['TESTBED_RESULTS_PATH'] = str(results_path)
            completed = subprocess.run(
                command,
                env=environment,
                cwd=playbook_path.parent,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=PLAYBOOK_TIMEOUT_SECONDS,
                check=False,
            )
            results_json = results_path.read_text(encoding='utf-8') if results_path.exists() else '{}'
        run = _playbook_run(command, completed, results_json)
        if expect_failure is None:
            return run
        if expect_failure and run.rc == 0:
            raise AssertionError(f'the playbook succeeded, but it was expected to fail\n{_describe(run)}')
        if not expect_failure and run.rc != 0:
            raise AssertionError(f'the playbook failed with exit status {run.rc}\n{_describe(run)}')
        return run

    @staticmethod
    def _playbook_path(playbook: str | os.PathLike[str], run_dir: pathlib.Path) -> pathlib.Path:
        if isinstance(playbook, str) and '\n' in playbook:
            path = run_dir / 'playbook.yml'
            path.write_text(playbook, encoding='utf-8')
            return path
        path = pathlib.Path(playbook).resolve()
        if not path.is_file():
            raise TestbedError(f'playbook {path} does not exist (YAML text needs at least one line break)')
        return path


def acme_steps() -> str:
    """How this test session runs the controller's ACME steps (see ACME_STEPS_VARIABLE)."""
    steps = os.environ.get(ACME_STEPS_VARIABLE) or ACME_STEPS[0]
    if steps not in ACME_STEPS:
        raise TestbedError(f'{ACME_STEPS_VARIABLE}={steps!r}: use one of {", ".join(ACME_STEPS)}')
    return steps


def _playbook_run(command: list[str], completed: subprocess.CompletedProcess[str], results_json: str) -> PlaybookRun:
    results = json.loads(results_json)
    return PlaybookRun(
        command=command,
        rc=completed.returncode,
        stdout=completed.stdout,
        stderr=completed.stderr,
        outcomes=[TaskOutcome(**outcome) for outcome in results.get('outcomes', [])],
        recap=results.get('recap', {}),
        results_json=results_json,
    )


def _describe(run: PlaybookRun) -> str:
    return (
        f'command: {" ".join(run.command)}\n'
        f'--- stdout (tail) ---\n{run.stdout[-OUTPUT_TAIL_CHARACTERS:]}\n'
        f'--- stderr (tail) ---\n{run.stderr[-OUTPUT_TAIL_CHARACTERS:]}'
    )
