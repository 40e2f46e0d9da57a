# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing keys, certificates and state files so that a crash never leaves half a file."""

from __future__ import annotations

import os
import tempfile

from .errors import ConfigurationError


def read_file(path: str, *, option: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ConfigurationError(f"{path} does not exist", option=option) from None
    except IsADirectoryError:
        raise ConfigurationError(f"{path} is a directory, not a file", option=option) from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}", option=option) from None


def write_file_atomically(path: str, content: bytes, *, mode: int) -> None:
    """Write `content` to a temporary file beside `path` (created with `mode`), then rename.

    The file never exists with wider permissions than `mode`, and readers see either the old
    or the new content, never a mixture.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise


def create_file_exclusively(path: str, content: bytes, *, mode: int) -> bool:
    """Create `path` with `content` unless it exists; False when another writer was first.

    The content is written to a temporary file first and then hard-linked into place, which
    fails if the name exists: two runs creating an account key at once cannot both win.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp_path, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(temp_path)
