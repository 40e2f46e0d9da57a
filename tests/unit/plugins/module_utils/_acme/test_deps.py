# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import sys
import types

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme import deps


def test_this_python_has_every_required_library():
    assert deps.missing_libraries() == []


def test_absent_library_is_reported_with_its_minimum_version(monkeypatch):
    monkeypatch.setitem(sys.modules, "cryptography", None)
    (missing,) = deps.missing_libraries()
    assert missing.name == "cryptography"
    assert missing.reason == f"cryptography >= {deps.MIN_CRYPTOGRAPHY_VERSION}"
    assert "ImportError" in missing.error or "ModuleNotFoundError" in missing.error


def test_too_old_library_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", types.SimpleNamespace(__version__="2.9.1"))
    (missing,) = deps.missing_libraries()
    assert missing.name == "requests"
    assert missing.error == f"requests 2.9.1 is installed, {deps.MIN_REQUESTS_VERSION} or newer is needed"


@pytest.mark.parametrize("older, newer", [("2.9", "2.25"), ("3.4", "3.10"), ("2.25", "2.25.1"), ("41.0.7", "42.0.0")])
def test_versions_compare_numerically(older, newer):
    assert deps._version_tuple(older) < deps._version_tuple(newer)  # pylint: disable=protected-access


def test_pre_release_of_an_older_version_is_older():
    assert deps._version_tuple("3.3rc1") < deps._version_tuple("3.4")  # pylint: disable=protected-access
