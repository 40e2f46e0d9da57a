"""CPU-seconds of a whole process tree: the run's command and everything it started.

Linux adds the user and system time of a process to its parent's "children" usage when the parent
reaps it, so the usage of every reaped descendant of a command reaches this process once the command
itself is reaped. That holds for ansible-playbook: the workers are reaped by the main process, the
module processes by the workers. A process that leaves the tree (a daemon such as ssh's
ControlPersist master) would be lost; ``become_subreaper`` makes such orphans this process's
children, and ``reap_orphans`` collects them after ending them, so they count too.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import resource
from collections.abc import Collection, Iterator

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


@dataclasses.dataclass
class CpuSeconds:
    """User and system seconds; ``total`` is what the tables show."""

    user: float = 0.0
    system: float = 0.0

    @property
    def total(self) -> float:
        """User plus system seconds."""
        return self.user + self.system


def children_usage() -> CpuSeconds:
    """User and system seconds of every reaped descendant of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSeconds(usage.ru_utime, usage.ru_stime)


@contextlib.contextmanager
def measured_cpu() -> Iterator[CpuSeconds]:
    """The CPU-seconds of the children reaped inside the ``with`` block, filled in when it ends."""
    before = children_usage()
    spent = CpuSeconds()
    try:
        yield spent
    finally:
        after = children_usage()
        spent.user, spent.system = after.user - before.user, after.system - before.system


def become_subreaper() -> bool:
    """Make orphaned descendants this process's children (Linux); whether it worked."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_orphans(keep: Collection[int]) -> int:
    """Reap the children that have exited, except the ``keep`` pids (servers we stop ourselves); how many."""
    reaped = 0
    while True:
        try:
            status = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return reaped
        if status is None or status.si_pid in keep:
            return reaped
        os.waitpid(status.si_pid, 0)
        reaped += 1


def current_children() -> list[int]:
    """Pids of this process's children right now (servers started before a measurement)."""
    children = []
    for stat in os.scandir('/proc'):
        if not stat.name.isdigit():
            continue
        try:
            with open(f'/proc/{stat.name}/stat', encoding='ascii', errors='replace') as status:
                fields = status.read()
        except OSError:
            continue
        if int(fields[fields.rindex(')') + 2 :].split()[1]) == os.getpid():
            children.append(int(stat.name))
    return children
