"""Locks of the acme_certificate role: who holds them, waiting for a live holder, taking over from a dead one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.certforge.acme.plugins.module_utils.run_locks import (
    LockHeld,
    acquire,
    process_identity,
    read_lock,
    release,
)


class Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def dead_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_free_lock_is_taken_and_names_its_holder(tmp_path):
    path = str(tmp_path / "web1-www.lock")
    me = process_identity(os.getpid())
    assert acquire(path, me, timeout=0, lease=60)
    recorded = read_lock(path)
    assert {key: recorded[key] for key in me} == me
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_the_holder_takes_its_own_lock_again_without_change(tmp_path):
    path = str(tmp_path / "lock")
    me = process_identity(os.getpid())
    assert acquire(path, me, timeout=0, lease=60)
    assert not acquire(path, me, timeout=0, lease=60)


def test_a_live_holder_is_waited_for_then_refused_clearly(tmp_path):
    path = str(tmp_path / "lock")
    other = process_identity(os.getppid())  # alive for as long as this test runs
    acquire(path, other, timeout=0, lease=60)
    clock = Clock()
    with pytest.raises(LockHeld) as raised:
        acquire(path, process_identity(os.getpid()), timeout=5, lease=60, clock=clock, sleep=clock.sleep)
    assert clock.slept >= 5
    message = str(raised.value)
    assert message.startswith(f"another run holds {path} (pid {other['pid']} on {other['controller']}), started at {other['started']}; ")
    assert read_lock(path)["pid"] == other["pid"]


def test_a_lock_of_a_dead_run_on_this_machine_is_taken_over_at_once(tmp_path):
    path = str(tmp_path / "lock")
    killed = process_identity(os.getpid())
    killed["pid"] = dead_pid()
    acquire(path, killed, timeout=0, lease=3600)
    clock = Clock()
    me = process_identity(os.getpid())
    assert acquire(path, me, timeout=60, lease=60, clock=clock, sleep=clock.sleep)
    assert clock.slept == 0
    assert read_lock(path)["pid"] == me["pid"]


def test_a_reused_pid_does_not_keep_the_lock(tmp_path):
    path = str(tmp_path / "lock")
    earlier = process_identity(os.getppid())
    earlier["pid_start"] = "1"  # the same pid, started long ago: another process
    acquire(path, earlier, timeout=0, lease=3600)
    assert acquire(path, process_identity(os.getpid()), timeout=0, lease=60)


def test_a_run_on_another_machine_keeps_the_lock_until_its_lease_ends(tmp_path):
    path = str(tmp_path / "lock")
    elsewhere = {**process_identity(os.getpid()), "controller": "other-controller", "boot_id": "x"}
    clock = Clock()
    acquire(path, elsewhere, timeout=0, lease=30, clock=clock)
    me = process_identity(os.getpid())
    with pytest.raises(LockHeld):
        acquire(path, me, timeout=10, lease=60, clock=clock, sleep=clock.sleep)
    assert acquire(path, me, timeout=60, lease=60, clock=clock, sleep=clock.sleep)
    assert read_lock(path)["controller"] == me["controller"]


def test_release_removes_only_the_holders_lock(tmp_path):
    path = str(tmp_path / "lock")
    other = process_identity(os.getppid())
    acquire(path, other, timeout=0, lease=60)
    assert not release(path, process_identity(os.getpid()))
    assert os.path.exists(path)
    assert release(path, other)
    assert not os.path.exists(path)
    assert not release(path, other)


def test_an_unreadable_lock_is_taken_over(tmp_path):
    path = tmp_path / "lock"
    path.write_text("{half", encoding="ascii")
    assert acquire(str(path), process_identity(os.getpid()), timeout=0, lease=60)
    assert json.loads(path.read_text(encoding="ascii"))["pid"] == os.getpid()
