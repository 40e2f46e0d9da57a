"""Loaded by the kill interpreter (``testbed.kill_switch``) in every module process of a test host.

In the process of the module named by ``TESTBED_KILL_MODULE`` (its AnsiballZ file is argv[0]), an
audit hook counts renames (``os.rename`` and ``os.replace`` raise the same audit event) that touch
a path below ``TESTBED_KILL_RENAME_DIR``; at the ``TESTBED_KILL_RENAME_NUMBER``-th, before that
rename happens, it has the whole run killed. Product code has no hook of its own for this.
"""

from __future__ import annotations

import importlib.util
import os
import sys

_MODULE = os.environ.get('TESTBED_KILL_MODULE', '')
_DIRECTORY = os.environ.get('TESTBED_KILL_RENAME_DIR', '')
_NUMBER = int(os.environ.get('TESTBED_KILL_RENAME_NUMBER', '0') or 0)
_KILLER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'kill.py')
_seen = []


def _below(path: object) -> bool:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        return False  # a file descriptor
    return os.path.abspath(path).startswith(os.path.join(os.path.abspath(_DIRECTORY), ''))


def _hook(event: str, args: tuple) -> None:
    if event != 'os.rename' or not (_below(args[0]) or _below(args[1])):
        return
    _seen.append((args[0], args[1]))
    if len(_seen) != _NUMBER:
        return
    spec = importlib.util.spec_from_file_location('testbed_killer', _KILLER)
    killer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(killer)
    killer.request_kill(
        owner=int(os.environ['TESTBED_KILL_OWNER']),
        marker=os.environ['TESTBED_KILL_MARKER'],
        note=f'in {_MODULE} before rename {_NUMBER}: {args[0]} -> {args[1]}',
    )


if _MODULE and _DIRECTORY and _NUMBER and _MODULE in os.path.basename(sys.argv[0] if sys.argv else ''):
    sys.addaudithook(_hook)
