# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where http-01 challenge files go in a document root (RFC 8555 section 8.3), for the modules that write and remove them."""

from __future__ import annotations

import os
import typing as t

CHALLENGE_DIR = ".well-known/acme-challenge"


def challenge_files(webroot: str, challenge_data: dict[str, t.Any] | None, identifiers: list[str] | None = None) -> dict[str, bytes]:
    """Absolute path -> content for every http-01 challenge of acme_order's `challenge_data` (of `identifiers` only, when given).

    Raises ValueError naming what is not acme_order's challenge data.
    """
    wanted = set(identifiers) if identifiers is not None else None
    files = {}
    for identifier, challenges in (challenge_data or {}).items():
        if not isinstance(challenges, dict):
            raise ValueError(f"{identifier} maps to {type(challenges).__name__}, not to challenge types; pass acme_order's challenge_data")
        data = challenges.get("http-01")
        if not data or (wanted is not None and identifier not in wanted):
            continue
        token = os.path.basename(str(data["resource"]))
        if not token or token in (".", ".."):
            raise ValueError(f"challenge_data: {identifier} has an unusable http-01 resource {data['resource']!r}")
        files[os.path.join(webroot, CHALLENGE_DIR, token)] = str(data["resource_value"]).encode("ascii")
    return files
