# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which third-party libraries the core needs, and whether this Python has them.

Core files import these libraries inside `try` blocks so that a module can still load
and report a missing library with `missing_required_lib` instead of a traceback.
"""

from __future__ import annotations

import importlib
import re
import traceback
import typing as t

MIN_CRYPTOGRAPHY_VERSION = "3.4"
MIN_REQUESTS_VERSION = "2.25"
# dns.tsig.Key and keys passed straight to use_tsig() arrived in dnspython 2.1.
MIN_DNSPYTHON_VERSION = "2.1"


class Library(t.NamedTuple):
    """A library by its package name, where its version is found, and the oldest one that works."""

    module: str
    minimum: str
    version_attribute: str = "__version__"


LIBRARIES = {
    "cryptography": Library("cryptography", MIN_CRYPTOGRAPHY_VERSION),
    "requests": Library("requests", MIN_REQUESTS_VERSION),
    "dnspython": Library("dns.version", MIN_DNSPYTHON_VERSION, version_attribute="version"),
}
# The CA-facing modules sign with cryptography and speak HTTPS with requests; host-side modules
# name only what they import (plugins/module_utils/host_support.py), so a host needs no requests.
CA_LIBRARIES = ("cryptography", "requests")


class MissingLibrary(t.NamedTuple):
    name: str
    reason: str
    error: str


def _version_tuple(version: str) -> tuple[int, ...]:
    numbers = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)  # "3rc1" is 3, not 31
        if digits is None:
            break
        numbers.append(int(digits.group()))
    return tuple(numbers)


def _check(name: str) -> MissingLibrary | None:
    library = LIBRARIES[name]
    reason = f"{name} >= {library.minimum}"
    try:
        module = importlib.import_module(library.module)
    except ImportError:
        return MissingLibrary(name=name, reason=reason, error=traceback.format_exc())
    version = getattr(module, library.version_attribute, "0")
    if _version_tuple(version) < _version_tuple(library.minimum):
        return MissingLibrary(name=name, reason=reason, error=f"{name} {version} is installed, {library.minimum} or newer is needed")
    return None


def missing_libraries(*names: str) -> list[MissingLibrary]:
    """Those of the named libraries (keys of LIBRARIES; CA_LIBRARIES when none are named) that are absent or too old.

    Only the named ones are imported: checking a library costs its import time.
    """
    checks = (_check(name) for name in names or CA_LIBRARIES)
    return [missing for missing in checks if missing is not None]
