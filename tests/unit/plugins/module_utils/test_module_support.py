# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CA-facing modules report the session's retries in every result, and warn once when there were any."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certforge.acme.plugins.module_utils._acme.retries import RETRY_KINDS
from ansible_collections.certforge.acme.plugins.module_utils.module_support import create_module, open_session
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DIRECTORY_URL, FakeClock, FakeHttp

@pytest.fixture(autouse=True)
def like_a_module_process(monkeypatch):
    """Each test is one module run: no warnings of earlier tests, and warnings go into the result
    (tests that loaded controller code make ansible-core print them instead)."""
    ansible_warnings._global_warnings.clear()  # pylint: disable=protected-access
    monkeypatch.setattr(ansible_internal, "is_controller", False)


ARGS = {"acme_directory": DIRECTORY_URL, "account_key_content": "unused", "_ansible_check_mode": False}


def run_module(capsys, finish, http=None):
    """Create a module, open a session on the fake CA, fetch the directory, then `finish(module)`; the printed result."""
    with patch_module_args(ARGS):
        module = create_module({}, supports_check_mode=True)
        if http is not None:
            session = open_session(module)
            session._http, clock = http, FakeClock()  # pylint: disable=protected-access
            session.sleep, session.clock = clock.sleep, clock
            session.directory  # pylint: disable=pointless-statement
        with pytest.raises(SystemExit):
            finish(module)
    return json.loads(capsys.readouterr().out)


def warnings_of(result):
    """Warning texts of a result (ansible-core 2.19 wraps each in a summary object)."""
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]


def flaky_ca():
    http = FakeHttp().with_directory()
    directory = http.routes[("GET", DIRECTORY_URL)][0]
    http.on("GET", DIRECTORY_URL, http.reply(503, content=b"", content_type="text/plain"),
            http.reply(503, content=b"", content_type="text/plain"), directory)
    return http


def test_success_reports_retries_and_warns_once_with_the_count(capsys):
    result = run_module(capsys, lambda module: module.exit_json(changed=False), flaky_ca())
    assert result["retries"] == {**dict.fromkeys(RETRY_KINDS, 0), "server_error": 2}
    assert warnings_of(result) == ["retried 2 requests to the CA: 2 HTTP 503"]


def test_failure_reports_retries_too(capsys):
    result = run_module(capsys, lambda module: module.fail_json(msg="something failed"), flaky_ca())
    assert result["failed"] is True
    assert result["retries"]["server_error"] == 2
    assert warnings_of(result) == ["retried 2 requests to the CA: 2 HTTP 503"]


def test_without_retries_the_counts_are_zero_and_nothing_is_warned(capsys):
    result = run_module(capsys, lambda module: module.exit_json(changed=False), FakeHttp().with_directory())
    assert result["retries"] == dict.fromkeys(RETRY_KINDS, 0)
    assert warnings_of(result) == []


def test_a_module_that_never_opened_a_session_reports_zero_retries(capsys):
    result = run_module(capsys, lambda module: module.fail_json(msg="bad input"))
    assert result["retries"] == dict.fromkeys(RETRY_KINDS, 0)
