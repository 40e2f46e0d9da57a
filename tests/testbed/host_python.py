"""The interpreter of a host that is not the controller: a virtualenv with only ``cryptography``.

``tests/setup.sh`` makes it at ``.venv-host`` from ``tests/host-requirements.txt``. Its Python has
neither ``requests`` nor ``dnspython``, as on a host where the README's requirements are all that was
installed; checked here, so that a test using it cannot pass because the libraries crept in.
"""

from __future__ import annotations

import json
import pathlib
import subprocess

from .errors import TestbedError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
HOST_VENV = REPO_ROOT / '.venv-host'
# What the interpreter must import, and what it must not.
PRESENT = ('cryptography',)
ABSENT = ('requests', 'dns')


def host_python() -> pathlib.Path:
    """The host interpreter's path, after checking which libraries it has."""
    python = HOST_VENV / 'bin' / 'python'
    if not python.exists():
        raise TestbedError(f'{python} is missing; run tests/setup.sh (it installs tests/host-requirements.txt there)')
    probe = (
        'import importlib.util, json\n'
        f'print(json.dumps({{name: importlib.util.find_spec(name) is not None for name in {PRESENT + ABSENT!r}}}))\n'
    )
    completed = subprocess.run([str(python), '-c', probe], capture_output=True, text=True, check=True)
    found = json.loads(completed.stdout)
    wrong = [name for name in PRESENT if not found[name]] + [name for name in ABSENT if found[name]]
    if wrong:
        raise TestbedError(f'{python} must have {", ".join(PRESENT)} and lack {", ".join(ABSENT)}; wrong: {", ".join(wrong)}')
    return python
