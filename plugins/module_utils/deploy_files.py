# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Putting a new key and certificate in place so that the host is never worse off.

Every file is staged beside its target first; then they are renamed in place key first, so no
certificate ever stands beside a key it does not belong to. A failure part way puts back what was
there, and the error says truthfully which files are in place now.
"""

from __future__ import annotations

import os
import re
import tempfile
import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.files import stage_file


class DeployFile(t.NamedTuple):
    option: str  # the module option that names it, for messages
    path: str
    content: bytes


class DeployFailed(Exception):
    """Deploying failed; the message says what is in place now."""


def leftovers(path: str) -> list[str]:
    """Staged or saved copies of `path` left by a deploy that was killed."""
    directory, name = os.path.split(os.path.abspath(path))
    pattern = re.compile(rf"^\.{re.escape(name)}\.[A-Za-z0-9_]{{8}}\.(tmp|restore)$")
    try:
        return [os.path.join(directory, entry) for entry in os.listdir(directory) if pattern.match(entry)]
    except OSError:
        return []


def _saved_copy(path: str) -> str | None:
    """A hard link to the current file at `path`, to put back should the deploy fail; None when there is none."""
    if not os.path.exists(path):
        return None
    fd, saved = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".restore", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    os.unlink(saved)
    os.link(path, saved)
    return saved


def _describe(done: list[DeployFile], restored: set[str], others: list[DeployFile]) -> str:
    """Which files are new and which are the previous ones, in one clause."""
    new = [item.option for item in done if item.path not in restored]
    if not new:
        return "the previous files are in place, nothing changed"
    kept = [item.option for item in others if item.option not in new]
    return f"now in place: the new {', '.join(new)}" + (f" and the previous {', '.join(kept)}" if kept else "")


def install(files: list[DeployFile], *, uid: int | None, gid: int | None, backup: t.Callable[[str], str] | None) -> list[str]:
    """Write `files` (key first: callers order them), returning the backups made; raises DeployFailed."""
    staged: list[tuple[str, DeployFile]] = []
    saved: dict[str, str | None] = {}
    done: list[DeployFile] = []
    backups: list[str] = []
    try:
        for item in files:
            os.makedirs(os.path.dirname(item.path) or ".", mode=0o755, exist_ok=True)
            for path in leftovers(item.path):
                os.unlink(path)
            staged.append((stage_file(item.path, item.content, mode=0o600, uid=uid, gid=gid), item))
        if backup is not None:
            backups = [backup(item.path) for item in files if os.path.exists(item.path)]
    except OSError as error:
        _remove(path for path, _item in staged)
        raise DeployFailed(f"cannot deploy to {error.filename}: {error.strerror}; the previous files are in place, nothing changed") from None
    try:
        for temp_path, item in staged:
            saved[item.path] = _saved_copy(item.path)
            os.replace(temp_path, item.path)
            done.append(item)
    except OSError as error:
        failed = error.filename or (staged[len(done)][1].path if len(done) < len(staged) else "")
        restored, trouble = _restore(done, saved)
        _remove([path for path, _item in staged] + [path for path in saved.values() if path])
        state = _describe(done, restored, files)
        extra = f"; could not put back {', '.join(trouble)}" if trouble else ""
        raise DeployFailed(f"cannot deploy to {failed}: {error.strerror}{extra}; {state}") from None
    _remove(path for path in saved.values() if path)
    return backups


def _restore(done: list[DeployFile], saved: dict[str, str | None]) -> tuple[set[str], list[str]]:
    """Put back the previous files, newest first; returns the paths restored and those that could not be."""
    restored: set[str] = set()
    trouble: list[str] = []
    for item in reversed(done):
        previous = saved.get(item.path)
        try:
            if previous is None:
                os.unlink(item.path)  # there was none
            else:
                os.replace(previous, item.path)
            restored.add(item.path)
        except OSError as error:
            trouble.append(f"{item.path} ({error.strerror})")
    return restored, trouble


def _remove(paths: t.Iterable[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
