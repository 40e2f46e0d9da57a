"""Record each task result of a playbook run as JSON, for ``testbed.ansible``.

It runs next to the default stdout callback, so the console output stays exactly what a user
sees (the tests search it for leaked secrets); this plugin only writes the file named by
``TESTBED_RESULTS_PATH`` when the playbook ends.
"""

from __future__ import annotations

import json
import os
import typing as t

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: testbed_results
type: aggregate
short_description: Write every task result of a run to a JSON file for the test suite
description:
  - Writes the file named by the environment variable E(TESTBED_RESULTS_PATH) at the end of the playbook.
requirements:
  - enabled through C(ANSIBLE_CALLBACKS_ENABLED=testbed_results)
'''

RESULTS_PATH_VARIABLE = 'TESTBED_RESULTS_PATH'


def _delegated_host(task: t.Any, result: dict[str, t.Any]) -> str | None:
    """The host a delegated task ran on: as templated for this host, else as the task writes it (a loop's)."""
    delegated = result.get('_ansible_delegated_vars') or {}
    return delegated.get('ansible_host') or task.delegate_to or None


class CallbackModule(CallbackBase):
    """Collect task outcomes in order, then dump them with the play recap."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'testbed_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._outcomes: list[dict[str, t.Any]] = []

    def _record(self, result: t.Any, status: str, ignored: bool = False) -> None:
        task = result.task
        self._outcomes.append(
            {
                'task': task.get_name(),
                'action': getattr(task, 'resolved_action', None) or task.action,
                'host': result.host.get_name(),
                'status': status,
                'ignored': ignored,
                # Where the task ran when it was delegated (a loop's items say it, not the loop), so tests can
                # tell the host's module runs from the controller's.
                'delegated_to': _delegated_host(task, result.result),
                # Keys starting with _ansible_ are Ansible's internal bookkeeping.
                'result': {key: value for key, value in result.result.items() if not key.startswith('_ansible_')},
            }
        )

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._record(result, 'failed', ignored=ignore_errors)

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._record(result, 'unreachable')

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        path = os.environ.get(RESULTS_PATH_VARIABLE)
        if not path:
            return
        recap = {host: stats.summarize(host) for host in sorted(stats.processed)}
        with open(path, 'w', encoding='utf-8') as results_file:
            # default=str: a few result values (e.g. dates from facts) have no JSON form.
            json.dump({'outcomes': self._outcomes, 'recap': recap}, results_file, indent=1, default=str)
