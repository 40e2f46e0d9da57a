"""A Python interpreter for test hosts whose chosen modules see a moved, frozen clock (libfaketime).

Renewal is decided on the host, by ``acme_certificate_plan``, from the host's clock. A test that
must see a certificate due sets the host's ``ansible_python_interpreter`` to this wrapper instead
of waiting for real time to pass: only the named modules run under ``faketime`` (Debian package
``faketime``) with the clock frozen at the chosen moment, so how fast the machine runs does not
matter. Every other module, the controller and pebble (a Go program, which libfaketime cannot
move) keep the real clock.
"""

from __future__ import annotations

import datetime
import pathlib
import shlex
import shutil
import stat
import sys
from collections.abc import Sequence

from .errors import TestbedError

FAKETIME = 'faketime'


def moved_clock_interpreter(
    path: pathlib.Path, *, at: datetime.datetime, modules: Sequence[str] = ('acme_certificate_plan',), python: pathlib.Path | None = None
) -> pathlib.Path:
    """Write the wrapper to ``path``: the named modules see the clock frozen at ``at`` (aware, any zone).

    It wraps ``python`` (a host's interpreter, testbed/host_python.py), by default the controller's.
    """
    wrapped = str(python or sys.executable)
    faketime = shutil.which(FAKETIME)
    if faketime is None:
        raise TestbedError(f'{FAKETIME} is missing; run tests/setup.sh (Debian package faketime)')
    frozen = at.astimezone(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')
    patterns = '|'.join(f'*/AnsiballZ_{module}.py' for module in modules)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '#!/bin/sh\n'
        '# Written by testbed/moved_clock.py: some modules see a frozen clock, the others the real one.\n'
        f'case "$1" in\n'
        f'    {patterns}) TZ=UTC exec {shlex.quote(faketime)} -f {shlex.quote(frozen)} {shlex.quote(wrapped)} "$@" ;;\n'
        f'esac\n'
        f'exec {shlex.quote(wrapped)} "$@"\n',
        encoding='utf-8',
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
