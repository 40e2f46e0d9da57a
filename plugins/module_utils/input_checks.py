# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of host-side options that an argument spec cannot express, made before anything is touched.

Each raises ConfigurationError naming the option and saying what to give instead. The role's
up-front check of its variables (filter ``_role_input_problems``) uses the same functions, so a
mistake reads the same whether it was made in a task or in a role variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError

# Octal as chmod takes it, or symbolic clauses as Ansible's file modules take them (u=rw,g=r,o=r; a+r).
_OCTAL_MODE = re.compile(r"^(?:0o)?0*[0-7]{1,4}$")
_SYMBOLIC_CLAUSE = re.compile(r"^(?:[ugo]*|a)(?:[-+=][rwxXstugo]*)+$")
MODE_HINT = "give an octal mode such as '0644' or a symbolic one such as 'u=rw,g=r,o=r'"


def check_file_mode(value: t.Any, *, option: str) -> None:
    """A mode Ansible can apply: an octal string, a number (YAML 0644), or symbolic clauses."""
    if value is None:
        return
    if isinstance(value, bool):
        raise ConfigurationError(f"{value!r} is not a file mode; {MODE_HINT}", option=option)
    if isinstance(value, int):
        if not 0 <= value <= 0o7777:
            raise ConfigurationError(f"{value!r} is not a file mode; {MODE_HINT}", option=option)
        return
    text = str(value).strip()
    if _OCTAL_MODE.match(text):
        return
    if text and all(_SYMBOLIC_CLAUSE.match(clause) for clause in text.split(",")):
        return
    raise ConfigurationError(f"{value!r} is not a file mode; {MODE_HINT}", option=option)


def check_port(value: int, *, option: str) -> None:
    if not 0 < value < 65536:
        raise ConfigurationError(f"must be a port between 1 and 65535, not {value}", option=option)


def check_at_least(value: int | None, minimum: int, *, option: str, meaning: str = "") -> None:
    """`value` (when set) is `minimum` or more; `meaning` says what the smallest value does."""
    if value is not None and value < minimum:
        smallest = f"{minimum} ({meaning})" if meaning else str(minimum)
        raise ConfigurationError(f"must be {smallest} or more, not {value}", option=option)


def check_absolute_path(value: str | None, *, option: str) -> None:
    """A relative path would depend on the directory the module happens to run in."""
    if value and not os.path.isabs(value):
        raise ConfigurationError(f"{value!r} is relative; give an absolute path such as /var/www/html", option=option)


def check_not_directory(value: str | None, *, option: str, example_file: str | None = None) -> None:
    """A file path that names a directory (an existing one, or any path ending in '/'): no file can be there.

    `example_file` names a file the message suggests inside that directory instead.
    """
    if not value or not (value.endswith("/") or os.path.isdir(value)):
        return
    directory = value.rstrip("/") or "/"
    fix = f"give the path of a file in it, such as {os.path.join(directory, example_file)}" if example_file else "give the path of the file itself"
    raise ConfigurationError(f"{directory} is a directory; {fix}", option=option)


def check_ip_address(value: str, *, option: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigurationError(f"{value!r} is not an IP address; give one such as 0.0.0.0, 127.0.0.1 or ::", option=option) from None
