# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_certificate_lock given a directory where a lock file's path belongs."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certforge.acme.plugins.module_utils.run_locks import process_identity
from ansible_collections.certforge.acme.plugins.modules import acme_certificate_lock


@pytest.fixture(autouse=True)
def like_a_module_process(monkeypatch):
    ansible_warnings._global_warnings.clear()  # pylint: disable=protected-access
    monkeypatch.setattr(ansible_internal, "is_controller", False)


def run_module(capsys, args):
    with patch_module_args({"holder": process_identity(os.getpid()), **args}):
        with pytest.raises(SystemExit):
            acme_certificate_lock.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check_mode"])
@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("trailing_slash", [False, True], ids=["dir", "dir/"])
def test_a_directory_as_lock_path_fails_with_one_line_naming_paths_and_the_fix(tmp_path, capsys, check_mode, state, trailing_slash):
    locks_dir = tmp_path / "locks"
    locks_dir.mkdir()
    given = str(locks_dir) + ("/" if trailing_slash else "")

    result = run_module(capsys, {"paths": [given], "state": state, "_ansible_check_mode": check_mode})

    message = result.get("msg", "")
    assert result.get("failed"), result
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(f"paths: {locks_dir} is a directory"), message
    assert f"{locks_dir}/" in message.split(";", 1)[-1], f"no lock file path in {locks_dir} suggested: {message}"
    assert sorted(os.listdir(tmp_path)) == ["locks"] and os.listdir(locks_dir) == [], "a failed run left files behind"


def test_a_lock_file_in_that_directory_is_taken(tmp_path, capsys):
    lock = tmp_path / "locks" / "www.lock"

    result = run_module(capsys, {"paths": [str(lock)], "_ansible_check_mode": False})

    assert not result.get("failed"), result.get("msg")
    assert result["locks"] == [str(lock)]
    assert json.loads(lock.read_text(encoding="ascii"))["pid"] == os.getpid()
