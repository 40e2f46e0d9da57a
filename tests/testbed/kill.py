"""SIGKILL an ``ansible-playbook`` run and every process below it, the way a crash or ``kill -9`` would.

Ansible's workers call ``setsid()``, so process groups do not hold a run together: the tree is found
by walking ``/proc`` by parent pid. Every process of the tree is stopped first (SIGSTOP), so none can
fork away while the rest is collected, then all of them are killed (SIGKILL).

Only runs the test suite started may be killed: the root of the tree is the direct child of the
*owner* (the pytest process) that is an ancestor of the process asking for the kill; without one,
nothing is touched.

The triggers (the ``testbed_kill`` callback plugin, the ``sitecustomize`` audit hook of the kill
interpreter) run inside the doomed tree, so they start this file as a separate killer process and
wait for it::

    python kill.py --owner OWNER_PID --from PID --marker FILE --note 'after the order'

The killer appends one JSON line to the marker file (what was killed and why) before killing, so a
test can tell a run killed where it wanted from a run that died otherwise. It uses only the
standard library: it runs under whatever interpreter the trigger has.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

# Rescans until the stopped tree stops growing; a fork that was in flight shows up within a few.
STABLE_SCANS = 3
SCAN_PAUSE_SECONDS = 0.02


def parent_pid(pid: int) -> int | None:
    """The parent pid of ``pid`` from /proc, or None when the process is gone."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii', errors='replace') as stat_file:
            stat = stat_file.read()
    except OSError:
        return None
    # The command name in parentheses may hold spaces or parentheses: fields follow the last ')'.
    return int(stat[stat.rindex(')') + 2 :].split()[1])


def ancestors(pid: int) -> list[int]:
    """``pid``'s parent, grandparent, ... up to pid 1."""
    chain = []
    current = parent_pid(pid)
    while current not in (None, 0):
        chain.append(current)
        if current == 1:
            break
        current = parent_pid(current)
    return chain


def tree_root(pid: int, *, owner: int) -> int | None:
    """The process at or above ``pid`` whose parent is ``owner``: the run the owner started."""
    chain = [pid, *ancestors(pid)]
    for child, parent in zip(chain, chain[1:]):
        if parent == owner:
            return child
    return None


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (not ``root`` itself)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            parent = parent_pid(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _signal(pid: int, signal_number: signal.Signals) -> None:
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        pass


def kill_tree(root: int, *, spare: int | None = None) -> list[int]:
    """Stop ``root`` and everything below it until nothing new appears, then SIGKILL them all.

    ``spare`` (the killer itself, when it runs inside the tree) is neither stopped nor killed.
    Returns the pids that were killed, root first.
    """
    stopped: list[int] = []
    _signal(root, signal.SIGSTOP)
    stopped.append(root)
    quiet_scans = 0
    while quiet_scans < STABLE_SCANS:
        new = sorted(descendants(root) - set(stopped) - {spare})
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        stopped.extend(new)
        quiet_scans = 0 if new else quiet_scans + 1
        time.sleep(SCAN_PAUSE_SECONDS)
    for pid in stopped:
        _signal(pid, signal.SIGKILL)
    return stopped


def request_kill(*, owner: int, note: str, marker: str) -> None:
    """From inside a run: have a separate killer end the whole run, then wait for the end.

    Does nothing (returns) when this process is not below ``owner``.
    """
    root = tree_root(os.getpid(), owner=owner)
    if root is None:
        return
    subprocess.run(  # pylint: disable=subprocess-run-check  # the killer's status is moot: we die before it
        [sys.executable, os.path.abspath(__file__), '--owner', str(owner), '--from', str(os.getpid()), '--marker', marker, '--note', note],
        stdin=subprocess.DEVNULL,
        close_fds=True,
    )
    # The killer stops and kills this process too; should it have failed, do not go on as if nothing happened.
    while True:
        time.sleep(60)


def main() -> int:
    parser = argparse.ArgumentParser(description='SIGKILL the run below OWNER that contains pid FROM.')
    parser.add_argument('--owner', type=int, required=True, help='pid of the test process that started the run')
    parser.add_argument('--from', dest='from_pid', type=int, required=True, help='a pid inside the run')
    parser.add_argument('--marker', required=True, help='file to which a JSON line about the kill is appended')
    parser.add_argument('--note', default='', help='why the run is killed (for the marker)')
    arguments = parser.parse_args()
    root = tree_root(arguments.from_pid, owner=arguments.owner)
    if root is None:
        print(f'kill.py: pid {arguments.from_pid} is not below pid {arguments.owner}; nothing killed', file=sys.stderr)
        return 1
    with open(arguments.marker, 'a', encoding='utf-8') as marker:
        marker.write(json.dumps({'note': arguments.note, 'root': root, 'from': arguments.from_pid}) + '\n')
    kill_tree(root, spare=os.getpid())
    return 0


if __name__ == '__main__':
    sys.exit(main())
