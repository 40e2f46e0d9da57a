# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme import files
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import read_file, write_file_atomically


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def wide_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def test_new_file_has_mode_0600_whatever_the_umask(tmp_path, wide_umask):
    target = tmp_path / "account.key"
    write_file_atomically(str(target), b"secret", mode=0o600)
    assert target.read_bytes() == b"secret"
    assert mode_of(target) == 0o600


def test_content_is_written_only_after_the_mode_is_set(tmp_path, wide_umask, monkeypatch):
    modes_at_open = []
    real_fdopen = os.fdopen

    def recording_fdopen(fd, *args, **kwargs):
        modes_at_open.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(files.os, "fdopen", recording_fdopen)
    write_file_atomically(str(tmp_path / "account.key"), b"secret", mode=0o600)
    assert modes_at_open == [0o600]


def test_requested_mode_is_applied_exactly(tmp_path):
    old = os.umask(0o077)
    try:
        write_file_atomically(str(tmp_path / "cert.pem"), b"cert", mode=0o644)
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "cert.pem") == 0o644


def test_existing_file_is_replaced_with_new_content_and_mode(tmp_path):
    target = tmp_path / "account.key"
    target.write_bytes(b"old content that is longer")
    target.chmod(0o644)
    write_file_atomically(str(target), b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert mode_of(target) == 0o600


def test_no_temporary_file_is_left_after_success(tmp_path):
    write_file_atomically(str(tmp_path / "a.pem"), b"x", mode=0o600)
    write_file_atomically(str(tmp_path / "a.pem"), b"y", mode=0o600)
    assert os.listdir(tmp_path) == ["a.pem"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_no_temporary_file_is_left_when_writing_fails(tmp_path, monkeypatch, failing):
    target = tmp_path / "account.key"
    target.write_bytes(b"old")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, failing, fail)
    with pytest.raises(OSError, match="No space left on device"):
        write_file_atomically(str(target), b"new", mode=0o600)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["account.key"]
    assert target.read_bytes() == b"old"


def test_no_temporary_file_is_left_when_interrupted(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_file_atomically(str(tmp_path / "account.key"), b"new", mode=0o600)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_relative_path_is_written_beside_its_target(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_file_atomically("relative.pem", b"x", mode=0o600)
    assert (tmp_path / "relative.pem").read_bytes() == b"x"


def test_read_file_returns_bytes(tmp_path):
    (tmp_path / "key.pem").write_bytes(b"-----BEGIN")
    assert read_file(str(tmp_path / "key.pem"), option="account_key_src") == b"-----BEGIN"


def test_read_missing_file_names_the_option(tmp_path):
    with pytest.raises(ConfigurationError, match="^account_key_src: .*missing.pem does not exist$"):
        read_file(str(tmp_path / "missing.pem"), option="account_key_src")


def test_read_directory_names_the_option(tmp_path):
    with pytest.raises(ConfigurationError, match="^account_key_src: .* is a directory, not a file$"):
        read_file(str(tmp_path), option="account_key_src")


def test_exclusive_creation_writes_a_private_file_once(tmp_path):
    from ansible_collections.certforge.acme.plugins.module_utils._acme.files import create_file_exclusively

    path = tmp_path / "account.key"
    assert create_file_exclusively(str(path), b"first", mode=0o600) is True
    assert create_file_exclusively(str(path), b"second", mode=0o600) is False, "a second writer must not replace the key"
    assert path.read_bytes() == b"first"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [item.name for item in tmp_path.iterdir()] == ["account.key"], "no temporary file is left behind"


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_replacing_a_file_keeps_its_owner(tmp_path):
    path = tmp_path / "privkey.pem"
    path.write_bytes(b"old")
    os.chown(path, 65534, 65534)
    write_file_atomically(str(path), b"new", mode=0o600)
    assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)
    assert path.read_bytes() == b"new"


def test_a_file_in_directories_still_to_be_made_can_be_created(tmp_path):
    files.require_creatable_file(str(tmp_path / "missing" / "deeper" / "state.uri"), option="order_uri_file")
    assert list(tmp_path.iterdir()) == []


def test_a_path_below_a_file_is_refused_naming_the_file(tmp_path):
    (tmp_path / "account.key").write_text("key")
    with pytest.raises(ConfigurationError, match=rf"^path: cannot create .*: {tmp_path}/account.key is not a directory"):
        files.require_creatable_file(str(tmp_path / "account.key" / "sub" / "account.key"), option="path")


def test_a_directory_is_refused_as_a_file(tmp_path):
    with pytest.raises(ConfigurationError, match=r"^path: .* is a directory; give the path of a file in it$"):
        files.require_creatable_file(str(tmp_path), option="path")
