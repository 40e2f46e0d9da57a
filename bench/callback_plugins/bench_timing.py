"""Record when each task of a playbook run started, for bench/run.py's breakdown of where time goes.

Runs next to the testbed's ``testbed_results`` callback. With one host and the linear strategy a
task lasts from its start to the next task's start, so start times are all it needs; the file named
by ``BENCH_TIMING_PATH`` gets them (wall-clock seconds since the epoch) when the playbook ends.
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
short_description: Write the start time of every task of a run to a JSON file for bench/run.py
description:
  - Writes the file named by the environment variable E(BENCH_TIMING_PATH) at the end of the playbook.
requirements:
  - enabled through C(ANSIBLE_CALLBACKS_ENABLED=bench_timing)
'''

TIMING_PATH_VARIABLE = 'BENCH_TIMING_PATH'


class CallbackModule(CallbackBase):
    """Collect task start times, then dump them with the time the playbook ended."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded = time.time()
        self._playbook_started: float | None = None
        self._tasks: list[dict[str, t.Any]] = []

    def v2_playbook_on_start(self, playbook: t.Any) -> None:
        self._playbook_started = time.time()

    def _task_started(self, task: t.Any) -> None:
        self._tasks.append({
            'task': task.get_name(),
            'action': getattr(task, 'resolved_action', None) or task.action,
            'started': time.time(),
        })

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        self._task_started(task)

    def v2_playbook_on_handler_task_start(self, task: t.Any) -> None:
        self._task_started(task)

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        path = os.environ.get(TIMING_PATH_VARIABLE)
        if not path:
            return
        with open(path, 'w', encoding='utf-8') as timing_file:
            json.dump({
                'callback_loaded': self._loaded,
                'playbook_started': self._playbook_started,
                'tasks': self._tasks,
                'playbook_ended': time.time(),
            }, timing_file)
