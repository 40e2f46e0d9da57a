# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Locks that say who holds them, so that two runs never work on one certificate at once, and a
run that was killed does not keep the next one out.

A lock is a small JSON file naming its holder: the ansible-playbook process on the controller (pid,
the start time of that pid, host name and boot id) and when the lock expires. Taking, taking over
and releasing happen under flock() on the lock's directory, so two runs never both win.
A holder is dead when it ran on this machine and its pid is gone or now belongs to another process;
a holder on another machine is taken for dead once its lease expired.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
import time
import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.files import write_file_atomically

# How often a waiting run looks whether the lock was released.
POLL_SECONDS = 1.0
HOLDER_FIELDS = ("pid", "pid_start", "controller", "boot_id")


class LockHeld(Exception):
    """Another live run holds the lock; the message says who and since when."""


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def boot_id() -> str:
    return _read_text("/proc/sys/kernel/random/boot_id").strip()


def pid_start(pid: int) -> str:
    """When process `pid` started, in clock ticks after boot (field 22 of /proc/<pid>/stat); '' when it is gone."""
    stat = _read_text(f"/proc/{pid}/stat")
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


def _utc(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).replace(microsecond=0).isoformat()


def _started_at(ticks: str) -> str:
    boot_time = next((line.split()[1] for line in _read_text("/proc/stat").splitlines() if line.startswith("btime ")), "")
    if not ticks or not boot_time:
        return _utc(time.time())
    return _utc(int(boot_time) + int(ticks) / os.sysconf("SC_CLK_TCK"))


def process_identity(pid: int) -> dict[str, t.Any]:
    """Who process `pid` of this machine is, in the form locks record their holder."""
    ticks = pid_start(pid)
    return {"pid": pid, "pid_start": ticks, "controller": socket.gethostname(), "boot_id": boot_id(), "started": _started_at(ticks)}


def same_holder(one: dict[str, t.Any], other: dict[str, t.Any]) -> bool:
    return all(str(one.get(field)) == str(other.get(field)) for field in HOLDER_FIELDS)


def holder_is_dead(recorded: dict[str, t.Any], *, now: float) -> bool:
    """Whether the run that took this lock is gone, so the lock may be taken over at once."""
    here = recorded.get("controller") == socket.gethostname() and recorded.get("boot_id") == boot_id()
    if here:
        try:
            return pid_start(int(recorded["pid"])) != str(recorded.get("pid_start"))
        except (KeyError, TypeError, ValueError):
            return True
    try:
        return float(recorded["expires_epoch"]) <= now
    except (KeyError, TypeError, ValueError):
        return True  # not a lock we can read: nobody can be waiting for it


def describe(path: str, recorded: dict[str, t.Any]) -> str:
    return (
        f"another run holds {path} (pid {recorded.get('pid')} on {recorded.get('controller')}), started at {recorded.get('started')}; "
        f"wait for it to end and run again (a run that was killed is noticed at once on its own controller, "
        f"elsewhere once its lease ends at {recorded.get('expires')})"
    )


class _DirectoryGuard:
    """flock() on the lock's directory: only one run at a time reads and writes its locks."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.fd = -1

    def __enter__(self) -> "_DirectoryGuard":
        self.fd = os.open(self.directory, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def read_lock(path: str) -> dict[str, t.Any] | None:
    """The recorded holder, or None when the lock is free."""
    if not os.path.exists(path):
        return None
    try:
        recorded = json.loads(_read_text(path) or "{}")
    except ValueError:
        recorded = {}
    return recorded if isinstance(recorded, dict) else {}


def try_acquire(path: str, holder: dict[str, t.Any], *, lease: int, now: float) -> tuple[bool, dict[str, t.Any] | None]:
    """(taken, live holder in the way). Taken is True when this call wrote the lock."""
    with _DirectoryGuard(os.path.dirname(os.path.abspath(path))):
        recorded = read_lock(path)
        if recorded is not None and same_holder(recorded, holder):
            return False, None  # ours already
        if recorded is not None and not holder_is_dead(recorded, now=now):
            return False, recorded
        content = {**holder, "expires": _utc(now + lease), "expires_epoch": int(now + lease)}
        write_file_atomically(path, (json.dumps(content, sort_keys=True) + "\n").encode("ascii"), mode=0o600)
        return True, None


def acquire(
    path: str, holder: dict[str, t.Any], *, timeout: float, lease: int, clock: t.Callable[[], float] = time.time, sleep: t.Callable[[float], None] = time.sleep
) -> bool:
    """Take the lock at `path` for `holder`, waiting up to `timeout` seconds for a live holder.

    Returns whether the lock was written (False when `holder` already had it); raises LockHeld.
    """
    deadline = clock() + timeout
    while True:
        taken, other = try_acquire(path, holder, lease=lease, now=clock())
        if other is None:
            return taken
        if clock() >= deadline:
            raise LockHeld(describe(path, other))
        sleep(POLL_SECONDS)


def release(path: str, holder: dict[str, t.Any]) -> bool:
    """Remove the lock at `path` if `holder` has it; True when it was removed."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return False
    with _DirectoryGuard(directory):
        recorded = read_lock(path)
        if recorded is None or not same_holder(recorded, holder):
            return False
        os.unlink(path)
        return True
