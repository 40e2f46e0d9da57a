"""The interpreters of hosts that are not the controller: virtualenvs with only ``cryptography``.

``tests/setup.sh`` makes two of them:

- ``.venv-host`` from ``tests/host-requirements.txt``: a current ``cryptography``;
- ``.venv-host-min`` from ``tests/host-min-requirements.txt``: the oldest ``cryptography`` the modules
  claim to work with (``MIN_CRYPTOGRAPHY_VERSION`` in plugins/module_utils/_acme/deps.py).

Neither has ``requests`` nor ``dnspython``, as on a host where the README's requirements are all that
was installed; checked here, so that a test using one cannot pass because the libraries crept in.

The role tests run their hosts with a wrapper of one of them (``recording_host_python``) that notes
each module it runs, so a test can prove which modules ran on a host's interpreter and which did not.
"""

from __future__ import annotations

import json
import pathlib
import re
import shlex
import stat
import subprocess

from .errors import TestbedError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
HOST_VENV = REPO_ROOT / '.venv-host'
HOST_MIN_VENV = REPO_ROOT / '.venv-host-min'
DEPS = REPO_ROOT / 'plugins' / 'module_utils' / '_acme' / 'deps.py'
# What the interpreter must import, and what it must not.
PRESENT = ('cryptography',)
ABSENT = ('requests', 'dns')
# Where a wrapper of recording_host_python notes the modules it ran, one name a line.
MODULE_LOG_NAME = 'host-modules.log'


def claimed_minimum_cryptography() -> str:
    """MIN_CRYPTOGRAPHY_VERSION as deps.py states it (read, not imported: the tests are not the collection)."""
    found = re.search(r'^MIN_CRYPTOGRAPHY_VERSION = "([^"]+)"$', DEPS.read_text(encoding='utf-8'), re.MULTILINE)
    if found is None:
        raise TestbedError(f'{DEPS} no longer states MIN_CRYPTOGRAPHY_VERSION = "..."')
    return found.group(1)


def _probe(python: pathlib.Path) -> dict[str, object]:
    probe = (
        'import importlib.util, json\n'
        'found = {name: importlib.util.find_spec(name) is not None for name in %r}\n'
        'import cryptography\n'
        'found["cryptography_version"] = cryptography.__version__\n'
        'print(json.dumps(found))\n' % (PRESENT + ABSENT,)
    )
    completed = subprocess.run([str(python), '-c', probe], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise TestbedError(f'{python} cannot import cryptography: {completed.stderr.strip()}')
    found: dict[str, object] = json.loads(completed.stdout)
    return found


def _checked(venv: pathlib.Path, requirements: str) -> tuple[pathlib.Path, str]:
    python = venv / 'bin' / 'python'
    if not python.exists():
        raise TestbedError(f'{python} is missing; run tests/setup.sh (it installs tests/{requirements} there)')
    found = _probe(python)
    wrong = [name for name in PRESENT if not found[name]] + [name for name in ABSENT if found[name]]
    if wrong:
        raise TestbedError(f'{python} must have {", ".join(PRESENT)} and lack {", ".join(ABSENT)}; wrong: {", ".join(wrong)}')
    return python, str(found['cryptography_version'])


def host_python() -> pathlib.Path:
    """The host interpreter's path (a current cryptography), after checking which libraries it has."""
    return _checked(HOST_VENV, 'host-requirements.txt')[0]


def host_min_python() -> pathlib.Path:
    """The interpreter with the oldest cryptography the modules claim, after checking it is exactly that one."""
    python, version = _checked(HOST_MIN_VENV, 'host-min-requirements.txt')
    claimed = claimed_minimum_cryptography()
    if version != claimed:
        raise TestbedError(
            f'{python} has cryptography {version}, but deps.py claims {claimed} as the minimum: '
            'make tests/host-min-requirements.txt and MIN_CRYPTOGRAPHY_VERSION agree, then run tests/setup.sh'
        )
    return python


def recording_host_python(path: pathlib.Path, *, python: pathlib.Path) -> pathlib.Path:
    """Write to ``path`` a wrapper of ``python`` that appends the name of each module it runs to MODULE_LOG_NAME beside it."""
    log = path.parent / MODULE_LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '#!/bin/sh\n'
        '# Written by testbed/host_python.py: a host interpreter that notes the modules it runs.\n'
        'case "$1" in\n'
        f'    */AnsiballZ_*.py) module=${{1##*/AnsiballZ_}}; echo "${{module%.py}}" >> {shlex.quote(str(log))} ;;\n'
        'esac\n'
        f'exec {shlex.quote(str(python))} "$@"\n',
        encoding='utf-8',
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def modules_run_by(wrapper: pathlib.Path) -> list[str]:
    """The modules the wrapper at ``wrapper`` ran so far, in order (names without the collection)."""
    log = wrapper.parent / MODULE_LOG_NAME
    return log.read_text(encoding='utf-8').split() if log.exists() else []
