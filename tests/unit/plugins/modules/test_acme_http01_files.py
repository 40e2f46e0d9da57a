# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_http01_files beside another run writing into the same web root (hosts of one web head, two plays)."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certforge.acme.plugins.modules import acme_http01_files

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
CHALLENGE_DATA = {"www.example.com": {"http-01": {"resource": f".well-known/acme-challenge/{TOKEN}", "resource_value": f"{TOKEN}.thumbprint"}}}


@pytest.fixture(autouse=True)
def like_a_module_process(monkeypatch):
    ansible_warnings._global_warnings.clear()  # pylint: disable=protected-access
    monkeypatch.setattr(ansible_internal, "is_controller", False)


def test_a_challenge_directory_another_run_makes_at_the_same_moment_is_used(tmp_path, monkeypatch, capsys):
    webroot = tmp_path / "webroot"
    webroot.mkdir()
    challenge_dir = webroot / ".well-known" / "acme-challenge"
    real_mkdir = os.mkdir

    def the_other_run_was_first(path, mode=0o777):
        real_mkdir(path, mode)  # the other run makes it between our look and our mkdir
        real_mkdir(path, mode)

    monkeypatch.setattr(acme_http01_files.os, "mkdir", the_other_run_was_first)
    with patch_module_args({"webroot": str(webroot), "challenge_data": CHALLENGE_DATA, "_ansible_check_mode": False}):
        with pytest.raises(SystemExit):
            acme_http01_files.main()
    result = json.loads(capsys.readouterr().out)

    assert not result.get("failed"), result.get("msg")
    assert (challenge_dir / TOKEN).read_text(encoding="ascii") == f"{TOKEN}.thumbprint"
