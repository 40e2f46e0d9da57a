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


def require_creatable_file(path: str, *, option: str) -> None:
    """Refuse, before any work, a file path that can never be written: a directory, or a path below a file.

    Missing directories are fine: the writers create them.
    """
    if os.path.isdir(path):
        raise ConfigurationError(f"{path} is a directory; give the path of a file in it", option=option)
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ConfigurationError(f"cannot create {path}: {parent} is not a directory; give a path below a directory", option=option)


def stage_file(path: str, content: bytes, *, mode: int, uid: int | None = None, gid: int | None = None) -> str:
    """Write `content` to a temporary file beside `path`, ready to be renamed over it.

    It is created with `mode`, never wider, and owned like the file it replaces (or by
    `uid`/`gid`), so a service that could read the old file can read the new one.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        if uid is not None or gid is not None:
            os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
        elif os.path.exists(path):
            current = os.stat(path)
            try:
                os.fchown(fd, current.st_uid, current.st_gid)
            except PermissionError:
                pass  # not root: the new file can only be ours
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(temp_path)
        raise
    return temp_path


def write_file_atomically(path: str, content: bytes, *, mode: int) -> None:
    """Replace `path` with `content` in one rename: readers see the old or the new file, never a mixture."""
    temp_path = stage_file(path, content, mode=mode)
    try:
        os.replace(temp_path, path)
    except BaseException:
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
