"""Kill an ``ansible-playbook`` run at a chosen moment, for crash tests.

Two kinds of moment:

- ``KillPoint(after_task=...)``: once a task (by name or action, e.g. ``certforge.acme.acme_order``)
  finished on a host, the ``testbed_kill`` callback plugin kills the run;
- ``KillPoint(module=..., rename_number=N, rename_dir=...)``: inside a module running on a host,
  before its N-th rename touching ``rename_dir``. The host's ``ansible_python_interpreter`` must be
  ``KillSwitch.interpreter``: a wrapper of this interpreter that loads an audit hook
  (``kill_interpreter/sitecustomize.py``).

Either way ansible-playbook and all its descendants get SIGKILL (``testbed.kill``), and the switch
records the kill, so a test can check that the run died where it meant it to::

    switch = KillSwitch(tmp_path)
    runner = KillablePlaybookRunner(work_dir=..., collections_path=..., switch=switch)
    run = switch.arm(KillPoint('after the order', after_task='certforge.acme.acme_order'), runner.run, playbook,
                     expect_failure=True)
    assert switch.killed(run) == ['after task certforge.acme.acme_order']
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import stat
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from .ansible import RESULTS_CALLBACK, PlaybookRun, PlaybookRunner

KILL_CALLBACK = 'testbed_kill'
KILL_INTERPRETER_SITE = pathlib.Path(__file__).resolve().parent / 'kill_interpreter'
Result = TypeVar('Result')


@dataclasses.dataclass(frozen=True)
class KillPoint:
    """Where a run dies: after a task, or inside a module before one of its renames."""

    label: str
    after_task: str | None = None
    after_host: str | None = None
    module: str | None = None
    rename_number: int | None = None
    rename_dir: str | os.PathLike[str] | None = None

    def environment(self) -> dict[str, str]:
        """The variables that arm the callback plugin or the audit hook."""
        if self.after_task:
            environment = {'TESTBED_KILL_AFTER_TASK': self.after_task}
            if self.after_host:
                environment['TESTBED_KILL_AFTER_HOST'] = self.after_host
            return environment
        if self.module and self.rename_number and self.rename_dir:
            return {'TESTBED_KILL_MODULE': self.module, 'TESTBED_KILL_RENAME_NUMBER': str(self.rename_number), 'TESTBED_KILL_RENAME_DIR': str(self.rename_dir)}
        raise ValueError(f'kill point {self.label!r} needs after_task, or module, rename_number and rename_dir')


class KillSwitch:
    """The marker file the killer writes and the interpreter wrapper for hosts whose modules may be killed."""

    def __init__(self, work_dir: pathlib.Path, *, python: pathlib.Path | None = None) -> None:
        """``python`` is the interpreter the wrapper runs: a host's (testbed/host_python.py), by default this one."""
        work_dir.mkdir(parents=True, exist_ok=True)
        self.marker = work_dir / 'kills.jsonl'
        self.interpreter = work_dir / 'python-with-kill-hook'
        self.interpreter.write_text(
            '#!/bin/sh\n'
            '# A host interpreter with the kill hook on its path (see testbed/kill_switch.py).\n'
            f'PYTHONPATH="{KILL_INTERPRETER_SITE}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{python or sys.executable}" "$@"\n',
            encoding='utf-8',
        )
        self.interpreter.chmod(self.interpreter.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self._point: KillPoint | None = None

    def environment(self) -> dict[str, str]:
        """What ansible-playbook needs in its environment while the switch is armed (nothing otherwise)."""
        if self._point is None:
            return {}
        return {'TESTBED_KILL_OWNER': str(os.getpid()), 'TESTBED_KILL_MARKER': str(self.marker), **self._point.environment()}

    def arm(self, point: KillPoint, run: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """Call ``run(*args, **kwargs)`` (a playbook run) with the switch armed at ``point``; earlier kills are forgotten."""
        self.reset()
        self._point = point
        try:
            return run(*args, **kwargs)
        finally:
            self._point = None

    def kills(self) -> list[dict[str, Any]]:
        """Every kill so far: ``{'note': ..., 'root': pid, 'from': pid}``, oldest first."""
        if not self.marker.exists():
            return []
        return [json.loads(line) for line in self.marker.read_text(encoding='utf-8').splitlines()]

    def killed(self, run: PlaybookRun) -> list[str]:
        """The notes of the kills of ``run``'s process tree (empty when it was not killed by SIGKILL)."""
        if run.rc != -signal.SIGKILL:
            return []
        return [kill['note'] for kill in self.kills()]

    def reset(self) -> None:
        """Forget earlier kills."""
        self.marker.unlink(missing_ok=True)


class KillablePlaybookRunner(PlaybookRunner):
    """A ``PlaybookRunner`` whose runs a ``KillSwitch`` may kill, plus any extra environment."""

    def __init__(
        self, *, work_dir: pathlib.Path, collections_path: pathlib.Path, switch: KillSwitch | None = None, extra_environment: dict[str, str] | None = None
    ) -> None:
        super().__init__(work_dir=work_dir, collections_path=collections_path)
        self.switch = switch
        self.extra_environment = dict(extra_environment or {})

    def environment(self) -> dict[str, str]:
        environment = super().environment()
        environment.update(self.extra_environment)
        if self.switch is not None:
            environment['ANSIBLE_CALLBACKS_ENABLED'] = f'{RESULTS_CALLBACK},{KILL_CALLBACK}'
            environment.update(self.switch.environment())
        return environment
