"""SIGKILL the whole run (ansible-playbook and every process below it) once a chosen task has finished.

A test enables it with ``ANSIBLE_CALLBACKS_ENABLED=...,testbed_kill`` and says where to die in the
environment (see ``testbed.kill_switch``); it does nothing unless all of these are set.
"""

from __future__ import annotations

import importlib.util
import os
import typing as t

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: testbed_kill
type: aggregate
short_description: Kill the run and all its processes after a chosen task, for crash tests
description:
  - When the task whose name or action is E(TESTBED_KILL_AFTER_TASK) finished without failing on
    a host (E(TESTBED_KILL_AFTER_HOST), when set), starts the test suite's killer, which stops and
    SIGKILLs ansible-playbook and all its descendants.
  - E(TESTBED_KILL_OWNER) is the pid of the test process that started the run (only its runs are
    killed); the killer appends a line to E(TESTBED_KILL_MARKER).
requirements:
  - enabled through C(ANSIBLE_CALLBACKS_ENABLED)
'''

KILLER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'kill.py')


def _load_killer() -> t.Any:
    spec = importlib.util.spec_from_file_location('testbed_killer', KILLER)
    assert spec is not None and spec.loader is not None
    killer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(killer)
    return killer


class CallbackModule(CallbackBase):
    """Watch for the chosen task and kill the run when it is done."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'testbed_kill'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._task = os.environ.get('TESTBED_KILL_AFTER_TASK')
        self._host = os.environ.get('TESTBED_KILL_AFTER_HOST')
        self._owner = os.environ.get('TESTBED_KILL_OWNER')
        self._marker = os.environ.get('TESTBED_KILL_MARKER')

    def v2_runner_on_ok(self, result: t.Any) -> None:
        if not (self._task and self._owner and self._marker):
            return
        task = result.task
        names = {task.get_name(), task.action, getattr(task, 'resolved_action', None)}
        if self._task not in names or (self._host and result.host.get_name() != self._host):
            return
        _load_killer().request_kill(owner=int(self._owner), marker=self._marker, note=f'after task {self._task}')
