# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which third-party libraries the core needs, and whether this Python has them.

Core files import these libraries inside `try` blocks so that a module can still load
and report a missing library with `missing_required_lib` instead of a traceback.
"""

from __future__ import annotations

import re
import traceback
import typing as t

MIN_CRYPTOGRAPHY_VERSION = "3.4"
MIN_REQUESTS_VERSION = "2.25"


class MissingLibrary(t.NamedTuple):
    name: str
    reason: str
    error: str


def _version_tuple(version: str) -> tuple[int, ...]:
    numbers = []
    for part in version.split("."):
        digits = re.match(r"\d*", part).group()  # "3rc1" is 3, not 31
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def _check(name: str, minimum: str) -> MissingLibrary | None:
    try:
        module = __import__(name)
    except ImportError:
        return MissingLibrary(name=name, reason=f"{name} >= {minimum}", error=traceback.format_exc())
    version = getattr(module, "__version__", "0")
    if _version_tuple(version) < _version_tuple(minimum):
        return MissingLibrary(
            name=name, reason=f"{name} >= {minimum}", error=f"{name} {version} is installed, {minimum} or newer is needed"
        )
    return None


def missing_libraries() -> list[MissingLibrary]:
    """The required libraries that are absent or too old."""
    checks = (_check("cryptography", MIN_CRYPTOGRAPHY_VERSION), _check("requests", MIN_REQUESTS_VERSION))
    return [missing for missing in checks if missing is not None]
