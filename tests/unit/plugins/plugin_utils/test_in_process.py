# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-process runner gives what a module process gives, for the same recorded CA answers.

"As a module process" is how the other unit tests run a module: its arguments in
`basic._ANSIBLE_ARGS`, module_utils in module mode, its JSON line read from stdout. "In process"
is the action plugins' runner, started as the controller's worker is (module_utils in controller
mode), and read back through ActionBase's own parser; the two must agree key for key.
"""

from __future__ import annotations

import json
import sys

import pytest
from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args
from ansible.plugins.action import ActionBase

from ansible_collections.certforge.acme.plugins.module_utils import module_support
from ansible_collections.certforge.acme.plugins.module_utils._acme.deps import MissingLibrary
from ansible_collections.certforge.acme.plugins.modules import acme_account, acme_renewal_info
from ansible_collections.certforge.acme.plugins.plugin_utils import in_process
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DIRECTORY_URL, FakeClock, FakeHttp, load_fixture

BASE = "https://acme-staging-v02.api.letsencrypt.org"
NEW_ACCOUNT = f"{BASE}/acme/new-acct"
ACCOUNT = f"{BASE}/acme/acct/123456789"
RENEWAL_INFO = f"{BASE}/acme/renewal-info"
ARI_ID = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
PAST_WINDOW = {"suggestedWindow": {"start": "2001-01-01T00:00:00Z", "end": "2001-01-02T00:00:00Z"}}
INTERNAL = {"_ansible_check_mode": False, "_ansible_no_log": False, "_ansible_diff": False, "_ansible_module_name": "test"}


def recorded_ca() -> FakeHttp:
    http = FakeHttp().with_directory()
    http.on("POST", NEW_ACCOUNT, http.reply(200, load_fixture("account_valid.json"), headers={"Location": ACCOUNT}))
    http.on("GET", f"{RENEWAL_INFO}/{ARI_ID}", http.reply(200, PAST_WINDOW))
    return http


@pytest.fixture(autouse=True)
def fake_ca(monkeypatch):
    """Every session the modules open talks to a new copy of the recorded answers."""

    def fake_session(module):
        session = real_open_session(module)
        clock = FakeClock()
        session._http, session.sleep, session.clock = recorded_ca(), clock.sleep, clock  # pylint: disable=protected-access
        return session

    real_open_session = module_support.open_session
    for module in (acme_account, acme_renewal_info):
        monkeypatch.setattr(module, "open_session", fake_session)


def as_module_process(monkeypatch, capsys, module, args: dict) -> dict:
    monkeypatch.setattr(ansible_internal, "is_controller", False)
    ansible_warnings._global_warnings.clear()  # pylint: disable=protected-access
    with patch_module_args({**INTERNAL, **args}):
        with pytest.raises(SystemExit) as exited:
            module.main()
    monkeypatch.setattr(ansible_internal, "is_controller", True)
    return read_as_the_controller({"rc": exited.value.code, "stdout": capsys.readouterr().out, "stderr": ""})


class Reader(ActionBase):
    """Only ActionBase's reading of a module's output."""

    def __init__(self) -> None:  # pylint: disable=super-init-not-called
        self._used_interpreter = None

    def run(self, tmp=None, task_vars=None):
        raise NotImplementedError


def in_process_run(monkeypatch, module_name: str, args: dict) -> dict:
    monkeypatch.setattr(ansible_internal, "is_controller", True)  # as in the controller's worker
    output = in_process.run_module_main(module_name, in_process.module_arguments_json({**INTERNAL, **args}))
    return read_as_the_controller(output)


def read_as_the_controller(output: dict) -> dict:
    result = Reader()._parse_returned_data(output, in_process.SERIALIZATION_PROFILE)  # pylint: disable=protected-access
    assert result.pop("_ansible_parsed") is True, result
    return result


@pytest.fixture
def account_key_pem(account_key) -> str:
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel

    return account_key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


CASES = {
    "success": ("acme_account", {"allow_creation": False}),
    "check mode": ("acme_account", {"contact": ["mailto:new@example.com"], "_ansible_check_mode": True, "_ansible_diff": True}),
    "a warning": ("acme_account", {"validate_certs": False}),
    "argument error": ("acme_account", {"state": "sideways"}),
    "core error": ("acme_account", {"account_uri": "http://plain.example/acct/1"}),
    "no secret in the result": (
        "acme_account",
        {"contact": ["mailto:{secret}@example.com"], "new_account_key_passphrase": "{secret}", "_ansible_check_mode": True},
    ),
    "advice, no account key": ("acme_renewal_info", {"ari_ids": [ARI_ID]}),
}


@pytest.mark.parametrize("module_name, args", CASES.values(), ids=list(CASES))
def test_in_process_gives_the_module_process_result(monkeypatch, capsys, account_key_pem, module_name, args):
    secret = "s3cret-passphrase"
    args = json.loads(json.dumps(args).replace("{secret}", secret))
    args = {"acme_directory": DIRECTORY_URL, **({"account_key_content": account_key_pem} if module_name == "acme_account" else {}), **args}
    module = {"acme_account": acme_account, "acme_renewal_info": acme_renewal_info}[module_name]

    expected = as_module_process(monkeypatch, capsys, module, args)
    got = in_process_run(monkeypatch, module_name, args)

    assert got == expected
    assert account_key_pem not in repr(got)
    assert secret not in repr(got)


def test_the_cases_show_what_they_name(monkeypatch, account_key_pem):
    def run(case):
        module_name, args = CASES[case]
        return in_process_run(monkeypatch, module_name, {"acme_directory": DIRECTORY_URL, "account_key_content": account_key_pem, **args})

    assert run("success")["account_uri"] == ACCOUNT
    checked = run("check mode")
    assert checked["changed"] and checked["diff"]["after"]["contact"] == ["mailto:new@example.com"]
    assert any("validate_certs: false" in str(warning) for warning in run("a warning")["warnings"])
    refused = run("argument error")
    assert refused["failed"] and refused["msg"].startswith("value of state must be one of: present, absent, changed_key")
    assert run("core error")["msg"].startswith("account_uri: ")
    hidden = run("no secret in the result")["invocation"]["module_args"]
    assert hidden["new_account_key_passphrase"] == hidden["account_key_content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_runs_in_one_worker_do_not_share_warnings(monkeypatch, account_key_pem):
    """A loop runs its items in one worker process: a warning belongs to its own item only."""
    args = {"acme_directory": DIRECTORY_URL, "account_key_content": account_key_pem}
    warned = in_process_run(monkeypatch, "acme_account", {**args, "validate_certs": False})
    quiet = in_process_run(monkeypatch, "acme_account", args)
    assert warned["warnings"] and "warnings" not in quiet
    assert ansible_internal.is_controller is True and not ansible_warnings.get_warnings()


def test_bookkeeping_runs_in_process_as_it_would_in_a_module_process(monkeypatch, capsys, tmp_path):
    """acme_state_files, which the role runs on the controller for each host, gives the same result both ways."""
    from ansible_collections.certforge.acme.plugins.modules import acme_state_files  # pylint: disable=import-outside-toplevel

    def args(name: str) -> dict:
        return {"write": {str(tmp_path / name / "record.json"): {"dns-01": {}}}, "remove": [str(tmp_path / "gone")]}

    expected = as_module_process(monkeypatch, capsys, acme_state_files, args("module"))
    got = in_process_run(monkeypatch, "acme_state_files", args("in-process"))
    assert json.loads(json.dumps(got).replace("in-process", "module")) == expected
    assert (tmp_path / "in-process" / "record.json").stat().st_mode & 0o777 == 0o600


def refusal(**overrides) -> str | None:
    conditions = {"wanted": True, "connection": "local", "become": False, "async_seconds": 0, "interpreter": None, "libraries": ()}
    return in_process.in_process_refusal(**{**conditions, **overrides})


def test_a_host_with_a_python_of_its_own_gets_a_module_process(tmp_path):
    """A local test host, or a wrapper that moves the clock, must run the module with its own interpreter."""
    assert refusal() is None
    assert refusal(interpreter=sys.executable) is None
    assert refusal(interpreter="auto_silent") is None
    other = str(tmp_path / "host-venv" / "bin" / "python")
    assert refusal(interpreter=other) == f"the task's Python is {other}, not the controller's"


def test_only_the_libraries_a_module_imports_are_required(monkeypatch):
    """The bookkeeping modules need no requests in the controller's Python; the CA-facing ones do."""
    asked = []
    monkeypatch.setattr(in_process, "missing_libraries", lambda *names: asked.append(names) or [deps_missing("requests")])
    assert refusal(libraries=()) is None and asked == []
    assert refusal(libraries=("cryptography", "requests")) == "the controller's Python lacks requests >= 2.25"
    assert asked == [("cryptography", "requests")]


def deps_missing(name: str) -> MissingLibrary:
    return MissingLibrary(name=name, reason=f"{name} >= 2.25", error="")


def test_the_controllers_python_is_known_by_any_of_its_names(tmp_path):
    """python and python3 of one virtualenv, or the virtualenv through a linked directory, are the controller's."""
    base = tmp_path / "base-python"
    base.write_text("")
    venv_bin, host_bin = tmp_path / "venv" / "bin", tmp_path / "host-venv" / "bin"
    for directory in (venv_bin, host_bin):
        directory.mkdir(parents=True)
        (directory / "python").symlink_to(base)
        (directory / "python3").symlink_to(base)
    (tmp_path / "linked-venv").symlink_to(tmp_path / "venv")
    assert in_process.same_executable(str(venv_bin / "python3"), str(venv_bin / "python"))
    assert in_process.same_executable(str(tmp_path / "linked-venv" / "bin" / "python"), str(venv_bin / "python"))
    assert not in_process.same_executable(str(host_bin / "python"), str(venv_bin / "python"))
