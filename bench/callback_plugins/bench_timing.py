"""Record what a playbook run cost on the controller, for bench/run.py.

Runs in the ``ansible-playbook`` process itself (callbacks are not forked), so it can read that
process's own peak resident memory (``VmHWM`` in ``/proc/self/status``) when the playbook ends.
It records the start of every task (with one host and the linear strategy a task lasts until the next
one starts) and counts task executions by what they cost, without keeping any result, so that
its own memory does not grow with the number of hosts. The file named by ``BENCH_TIMING_PATH``
gets everything when the playbook ends.
"""

from __future__ import annotations

import json
import os
import time
import typing as t

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: bench_timing
type: aggregate
short_description: Write task start times, task execution counts and peak memory of a run for bench/run.py
description:
  - Writes the file named by the environment variable E(BENCH_TIMING_PATH) at the end of the playbook.
requirements:
  - enabled through C(ANSIBLE_CALLBACKS_ENABLED=bench_timing)
'''

TIMING_PATH_VARIABLE = 'BENCH_TIMING_PATH'

# Actions that Ansible runs inside the controller process without executing a module anywhere.
CONTROLLER_ONLY_ACTIONS = frozenset(
    f'ansible.builtin.{name}'
    for name in (
        'add_host',
        'assert',
        'debug',
        'fail',
        'group_by',
        'import_tasks',
        'include_role',
        'include_tasks',
        'include_vars',
        'meta',
        'set_fact',
        'set_stats',
        'validate_argument_spec',
    )
)

HOST_MODULE_RUNS = 'host_module_runs'
CONTROLLER_MODULE_RUNS = 'controller_module_runs'
CONTROLLER_ONLY_EXECUTIONS = 'controller_only_executions'


def full_action(action: str) -> str:
    """``set_fact`` -> ``ansible.builtin.set_fact``; collection names stay as they are."""
    return action if '.' in action else f'ansible.builtin.{action}'


def classify(*, action: str, skipped: bool, delegated: bool, result: dict[str, t.Any]) -> dict[str, int]:
    """What one task result on one host cost, as counts.

    A skipped task and a controller-only action are one controller-only execution (Ansible still
    forks a worker per host for them, loops included). Anything else is one module run per loop item
    that was not skipped (an action that runs helper modules, like ``copy`` running ``stat``, counts
    once), on the controller when the task was delegated (``delegate_to: localhost``), else on the host.
    """
    if skipped or full_action(action) in CONTROLLER_ONLY_ACTIONS:
        return {CONTROLLER_ONLY_EXECUTIONS: 1}
    items = result.get('results')
    runs = sum(1 for item in items if not (isinstance(item, dict) and item.get('skipped'))) if isinstance(items, list) else 1
    return {CONTROLLER_MODULE_RUNS if delegated else HOST_MODULE_RUNS: runs}


CONTROLLER_NAMES = frozenset({'localhost', '127.0.0.1', '::1'})


def on_controller(task: t.Any) -> bool:
    """Whether the task was delegated to the controller (``delegate_to: localhost``), not to a host.

    The task's own delegate_to decides: a loop's result carries no delegated vars (its items do), and a task
    delegated to a host (the role writes http-01 files to "{{ web head }}") is a module run on that host.
    """
    return (getattr(task, 'delegate_to', None) or '') in CONTROLLER_NAMES


def peak_rss_kib() -> int | None:
    """This process's peak resident set size (VmHWM) in KiB, where /proc tells it."""
    try:
        with open('/proc/self/status', encoding='ascii') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class CallbackModule(CallbackBase):
    """Collect task start times and execution counts, then dump them with the peak memory."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded = time.time()
        self._playbook_started: float | None = None
        self._tasks: list[dict[str, t.Any]] = []
        self._counts = {HOST_MODULE_RUNS: 0, CONTROLLER_MODULE_RUNS: 0, CONTROLLER_ONLY_EXECUTIONS: 0}

    def v2_playbook_on_start(self, playbook: t.Any) -> None:
        self._playbook_started = time.time()

    def _task_started(self, task: t.Any) -> None:
        self._tasks.append(
            {
                'task': task.get_name(),
                'action': getattr(task, 'resolved_action', None) or task.action,
                'started': time.time(),
            }
        )

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        self._task_started(task)

    def v2_playbook_on_handler_task_start(self, task: t.Any) -> None:
        self._task_started(task)

    def _count(self, result: t.Any, *, skipped: bool = False) -> None:
        task = result.task
        counts = classify(
            action=getattr(task, 'resolved_action', None) or task.action,
            skipped=skipped,
            delegated=on_controller(task),
            result=result._result,  # pylint: disable=protected-access
        )
        for key, value in counts.items():
            self._counts[key] += value

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._count(result)

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._count(result)

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._count(result, skipped=True)

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._count(result)

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        path = os.environ.get(TIMING_PATH_VARIABLE)
        if not path:
            return
        with open(path, 'w', encoding='utf-8') as timing_file:
            json.dump(
                {
                    'callback_loaded': self._loaded,
                    'playbook_started': self._playbook_started,
                    'tasks': self._tasks,
                    'playbook_ended': time.time(),
                    'counts': self._counts,
                    'controller_peak_rss_kib': peak_rss_kib(),
                },
                timing_file,
            )
