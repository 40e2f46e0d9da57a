# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_renewal_info against a fake CA: ARI is advice (RFC 9773), so one certificate's bad answer is reported, never fatal."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certforge.acme.plugins.module_utils import module_support
from ansible_collections.certforge.acme.plugins.modules import acme_renewal_info
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DIRECTORY_URL, FakeClock, FakeHttp, read_timeout

RENEWAL_INFO = "https://acme-staging-v02.api.letsencrypt.org/acme/renewal-info"
FINE = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
TROUBLED = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyI"
# Windows far from any real clock, so the module's own "now" decides the same way every day.
PAST_WINDOW = {"suggestedWindow": {"start": "2001-01-01T00:00:00Z", "end": "2001-01-02T00:00:00Z"}}


@pytest.fixture(autouse=True)
def like_a_module_process(monkeypatch):
    ansible_warnings._global_warnings.clear()  # pylint: disable=protected-access
    monkeypatch.setattr(ansible_internal, "is_controller", False)


def run(capsys, monkeypatch, http: FakeHttp, ari_ids: list[str]) -> dict:
    def fake_session(module):
        session = module_support.open_session(module)
        clock = FakeClock()
        session._http, session.sleep, session.clock = http, clock.sleep, clock  # pylint: disable=protected-access
        return session

    monkeypatch.setattr(acme_renewal_info, "open_session", fake_session)
    with patch_module_args({"acme_directory": DIRECTORY_URL, "ari_ids": ari_ids, "_ansible_check_mode": False}):
        with pytest.raises(SystemExit):
            acme_renewal_info.main()
    return json.loads(capsys.readouterr().out)


def warnings_of(result: dict) -> list[str]:
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]


def problem(status: int, kind: str, detail: str) -> dict:
    return FakeHttp.reply(status, {"type": f"urn:ietf:params:acme:error:{kind}", "detail": detail})


TROUBLES = {
    "404 problem": [problem(404, "malformed", "certificate not found")],
    "404 bare": [FakeHttp.reply(404, content=b"not found", content_type="text/plain")],
    "400 problem": [problem(400, "malformed", "invalid certificate identifier")],
    "503 every time": [FakeHttp.reply(503, content=b"", content_type="text/plain")],
    "500 problem every time": [problem(500, "serverInternal", "database down")],
    "timeout every time": [read_timeout()],
    "garbage": [FakeHttp.reply(200, content=b"{\"suggestedWindow\": ", content_type="application/json")],
    "not an object": [FakeHttp.reply(200, content=b"[1, 2]", content_type="application/json")],
    "no window": [FakeHttp.reply(200, {"explanationURL": "https://ca.example/why"})],
    "window not an object": [FakeHttp.reply(200, {"suggestedWindow": "soon"})],
    "unreadable start": [FakeHttp.reply(200, {"suggestedWindow": {"start": "yesterday", "end": "2001-01-02T00:00:00Z"}})],
    "start missing": [FakeHttp.reply(200, {"suggestedWindow": {"end": "2001-01-02T00:00:00Z"}})],
    "end before start": [FakeHttp.reply(200, {"suggestedWindow": {"start": "2001-01-03T00:00:00Z", "end": "2001-01-02T00:00:00Z"}})],
}


@pytest.mark.parametrize("trouble", TROUBLES.values(), ids=list(TROUBLES))
def test_one_certificates_bad_answer_is_reported_for_it_alone(capsys, monkeypatch, trouble):
    http = FakeHttp().with_directory()
    http.on("GET", f"{RENEWAL_INFO}/{FINE}", http.reply(200, PAST_WINDOW))
    http.on("GET", f"{RENEWAL_INFO}/{TROUBLED}", *trouble)
    result = run(capsys, monkeypatch, http, [TROUBLED, FINE])
    assert not result.get("failed"), result.get("msg")
    assert result["due"] == [FINE], "the other certificate's advice still counts"
    troubled = result["renewal_info"][TROUBLED]
    assert troubled["due"] is False and troubled["window_start"] is None and troubled["renewal_time"] is None
    assert troubled["error"], "the problem is named in that certificate's result"
    assert result["renewal_info"][FINE]["error"] is None
    assert [text for text in warnings_of(result) if TROUBLED in text] == [
        f"no renewal information for {TROUBLED} ({troubled['error']}); its renewal follows the client's own schedule"
    ]


def test_the_error_names_what_the_ca_said(capsys, monkeypatch):
    http = FakeHttp().with_directory()
    http.on("GET", f"{RENEWAL_INFO}/{TROUBLED}", problem(404, "malformed", "certificate not found"))
    result = run(capsys, monkeypatch, http, [TROUBLED])
    assert "certificate not found" in result["renewal_info"][TROUBLED]["error"]
    assert result["supported"] is True and result["due"] == []
