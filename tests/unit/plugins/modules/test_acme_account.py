# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_account against a fake CA: what it asks the CA for."""

from __future__ import annotations

import base64
import json

import pytest
from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certforge.acme.plugins.module_utils import module_support
from ansible_collections.certforge.acme.plugins.modules import acme_account
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DIRECTORY_URL, FakeClock, FakeHttp, load_fixture

NEW_ACCOUNT = "https://acme-staging-v02.api.letsencrypt.org/acme/new-acct"
ACCOUNT = "https://acme-staging-v02.api.letsencrypt.org/acme/acct/123456789"


@pytest.fixture(autouse=True)
def like_a_module_process(monkeypatch):
    ansible_warnings._global_warnings.clear()  # pylint: disable=protected-access
    monkeypatch.setattr(ansible_internal, "is_controller", False)


def run(capsys, monkeypatch, http: FakeHttp, args: dict) -> dict:
    def fake_session(module):
        session = module_support.open_session(module)
        clock = FakeClock()
        session._http, session.sleep, session.clock = http, clock.sleep, clock  # pylint: disable=protected-access
        return session

    monkeypatch.setattr(acme_account, "open_session", fake_session)
    with patch_module_args({"acme_directory": DIRECTORY_URL, "_ansible_check_mode": False, **args}):
        with pytest.raises(SystemExit):
            acme_account.main()
    return json.loads(capsys.readouterr().out)


def new_account_payloads(http: FakeHttp) -> list[dict]:
    """What each newAccount request asked for (the JWS payload)."""
    payloads = []
    for call in http.calls:
        if call.method == "POST" and call.url == NEW_ACCOUNT:
            encoded = json.loads(call.data)["payload"]
            payloads.append(json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))))
    return payloads


def test_a_key_made_in_this_run_is_registered_without_looking_it_up_first(capsys, monkeypatch, tmp_path):
    """A key that did not exist a moment ago has no account at any CA: asking for one (onlyReturnExisting) is a wasted request."""
    http = FakeHttp().with_directory()
    http.on("POST", NEW_ACCOUNT, http.reply(201, load_fixture("account_valid.json"), headers={"Location": ACCOUNT}))
    key_path = tmp_path / "account.key"

    result = run(capsys, monkeypatch, http, {"account_key_src": str(key_path), "account_key_create": "ec256", "terms_agreed": True})

    assert result["changed"] and result["account_uri"] == ACCOUNT
    assert [payload.get("onlyReturnExisting", False) for payload in new_account_payloads(http)] == [False]


def test_an_existing_key_is_looked_up_before_anything_is_registered(capsys, monkeypatch, tmp_path):
    http = FakeHttp().with_directory()
    http.on("POST", NEW_ACCOUNT, http.reply(200, load_fixture("account_valid.json"), headers={"Location": ACCOUNT}))
    key_path = tmp_path / "account.key"
    run(
        capsys,
        monkeypatch,
        FakeHttp().with_directory().on("POST", NEW_ACCOUNT, http.reply(201, load_fixture("account_valid.json"), headers={"Location": ACCOUNT})),
        {"account_key_src": str(key_path), "account_key_create": "ec256", "terms_agreed": True},
    )

    result = run(capsys, monkeypatch, http, {"account_key_src": str(key_path), "account_key_create": "ec256", "terms_agreed": True})

    assert not result["changed"] and result["account_uri"] == ACCOUNT
    assert [payload.get("onlyReturnExisting", False) for payload in new_account_payloads(http)] == [True]
