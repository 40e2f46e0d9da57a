# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CA-facing modules report the session's retries in every result, and warn once when there were any."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.retries import RETRY_KINDS
from ansible_collections.certforge.acme.plugins.module_utils.module_support import (
    create_module,
    failing_on_errors,
    open_session,
    require_https_url,
    require_wait_seconds,
)
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
    http.on("GET", DIRECTORY_URL, http.reply(503, content=b"", content_type="text/plain"), http.reply(503, content=b"", content_type="text/plain"), directory)
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


def test_a_string_in_a_list_of_dicts_is_reported_naming_the_option(capsys):
    # ansible-core's first error here is its no_log scan's, which names no option
    spec = {"select_chain": {"type": "list", "elements": "dict", "default": [], "options": {"issuer_common_name": {"type": "str"}}}}
    with patch_module_args({**ARGS, "select_chain": ["issuer"]}):
        with pytest.raises(SystemExit):
            create_module(spec, supports_check_mode=True)
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"].startswith("Elements value for option 'select_chain' is of type str"), result["msg"]


@pytest.mark.parametrize("value", ["not-a-url", "http://ca.example/order/1", "https://", "/order/1"])
def test_a_resource_url_that_is_not_https_is_refused_naming_the_option(value):
    with pytest.raises(ConfigurationError, match=r"^order_uri: .* is not an https:// URL; give the URL the CA returned"):
        require_https_url(value, option="order_uri")


def test_an_https_resource_url_and_none_are_accepted():
    require_https_url("https://ca.example/order/1", option="order_uri")
    require_https_url(None, option="order_uri")


def test_a_negative_wait_is_refused_and_zero_looks_once():
    require_wait_seconds(0, option="timeout")
    with pytest.raises(ConfigurationError, match=r"^timeout: must be 0 \(look once, do not wait\) or more seconds, not -5$"):
        require_wait_seconds(-5, option="timeout")


def test_an_account_uri_that_is_not_a_url_is_refused_before_any_request(capsys):
    def finish(module):
        with failing_on_errors(module):
            open_session(module)

    with patch_module_args({**ARGS, "account_uri": "my-account"}):
        module = create_module({}, supports_check_mode=True)
        with pytest.raises(SystemExit):
            finish(module)
    result = json.loads(capsys.readouterr().out)
    assert result["msg"].startswith("account_uri: 'my-account' is not an https:// URL")
