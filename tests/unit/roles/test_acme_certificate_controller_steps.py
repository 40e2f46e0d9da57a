"""The role's steps on the controller do not take the play's become unless acme_certificate_controller_become says so.

A play with ``become: true`` is common (the host side writes to /etc); its controller steps would then need
sudo on the controller, write the state directory as another user, and lose the in-process ACME steps.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import yaml

TASKS = pathlib.Path(__file__).resolve().parents[3] / "roles" / "acme_certificate" / "tasks"
CONTROLLER_BECOME = "{{ acme_certificate_controller_become }}"
BLOCK_KEYS = ("block", "rescue", "always")


def _tasks(tasks: list[dict], where: str) -> Iterator[tuple[str, dict]]:
    for task in tasks or []:
        yield where, task
        for key in BLOCK_KEYS:
            yield from _tasks(task.get(key), where)


def _all_tasks() -> Iterator[tuple[str, dict]]:
    for path in sorted(TASKS.glob("*.yml")):
        yield from _tasks(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)


def test_every_task_delegated_to_the_controller_sets_become_from_the_role_variable():
    delegated = [(where, task) for where, task in _all_tasks() if task.get("delegate_to") == "localhost"]
    assert delegated, "the role has no task delegated to the controller; this test looks in the wrong place"
    wrong = [f"{where}: {task.get('name')}" for where, task in delegated if task.get("become") != CONTROLLER_BECOME]
    assert not wrong, f"delegated to localhost without become: {CONTROLLER_BECOME!r}: {wrong}"
