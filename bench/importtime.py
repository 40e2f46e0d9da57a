"""What a host-side module imports beyond Ansible's own ``ansible.module_utils.basic``.

``python -X importtime -c 'import ansible.module_utils.basic; import <module>'`` prints one line per
import with its cumulative microseconds; the top-level lines after ``basic`` are exactly what the
module adds (its collection's module_utils and third-party libraries such as ``requests``,
``cryptography`` or ``dnspython``), since everything ``basic`` loaded is cached by then. Libraries
a module imports only when it checks its dependencies at run time are loaded too: every function of
the module whose name starts with ``missing_lib`` is called once, as ``main()`` would. These are wall
times, which other processes inflate: the minimum of several runs is reported (the least disturbed
one), with the heaviest packages (by their own import time) of the last run.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Sequence

HOST_SIDE_MODULES = (
    'acme_certificate_plan',
    'acme_certificate_lock',
    'acme_http01_files',
    'acme_dns_rfc2136',
    'acme_tls_alpn_responder',
    'acme_certificate_deploy',
)
BASIC = 'ansible.module_utils.basic'
MODULE_PACKAGE = 'ansible_collections.certforge.acme.plugins.modules'
SCRIPT = (
    'import importlib, sys\n'
    f'import {BASIC}\n'
    'module = importlib.import_module(sys.argv[1])\n'
    'for name in dir(module):\n'
    '    if name.startswith("missing_lib") and callable(getattr(module, name)):\n'
    '        getattr(module, name)()\n'
    'print("requests" in sys.modules)\n'
)
LINE = re.compile(r'^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$')


def parse_importtime(stderr: str) -> list[tuple[int, int, int, str]]:
    """``(depth, self microseconds, cumulative microseconds, module)`` for every line ``-X importtime`` wrote."""
    parsed = []
    for line in stderr.splitlines():
        match = LINE.match(line)
        if match:
            parsed.append((len(match.group(3)) // 2, int(match.group(1)), int(match.group(2)), match.group(4)))
    return parsed


def added_microseconds(lines: Sequence[tuple[int, int, int, str]]) -> tuple[int, int, dict[str, int]]:
    """(basic's cumulative, what came after it, microseconds by top-level package name, largest first).

    A line is printed when its import finishes, so the top-level (depth 0) lines after ``basic``'s own
    are the module's; by package, the imports' own (self) times add up without counting anything twice.
    """
    basic_index = next(index for index, line in enumerate(lines) if line[0] == 0 and line[3] == BASIC)
    basic = lines[basic_index][2]
    after = lines[basic_index + 1 :]
    added = sum(line[2] for line in after if line[0] == 0)
    by_package: dict[str, int] = {}
    for line in after:
        top = line[3].split('.')[0]
        by_package[top] = by_package.get(top, 0) + line[1]
    return basic, added, dict(sorted(by_package.items(), key=lambda item: -item[1]))


def measure(collections_path: pathlib.Path, *, runs: int = 9, python: str = sys.executable) -> list[dict[str, object]]:
    """Per host-side module: the least ms of basic alone and of what the module adds, heaviest packages."""
    environment = dict(os.environ, PYTHONPATH=str(collections_path), PYTHONDONTWRITEBYTECODE='')
    rows = []
    for module in HOST_SIDE_MODULES:
        basics, addeds = [], []
        packages: dict[str, int] = {}
        loads_requests = False
        for _run in range(runs):
            completed = subprocess.run(
                [python, '-X', 'importtime', '-c', SCRIPT, f'{MODULE_PACKAGE}.{module}'], capture_output=True, text=True, env=environment, check=False
            )
            if completed.returncode != 0:
                raise RuntimeError(f'importing {module} failed: {completed.stderr[-400:]}')
            basic, added, packages = added_microseconds(parse_importtime(completed.stderr))
            loads_requests = completed.stdout.strip() == 'True'
            basics.append(basic)
            addeds.append(added)
        rows.append(
            {
                'module': module,
                'basic_ms': min(basics) / 1000,
                'added_ms': min(addeds) / 1000,
                'loads_requests': loads_requests,
                'heaviest': {name: cost / 1000 for name, cost in list(packages.items())[:4]},
            }
        )
    return rows
