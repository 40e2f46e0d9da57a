# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import sys
import types

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme import deps


def test_this_python_has_every_required_library():
    assert deps.missing_libraries() == []
    assert deps.missing_libraries(*deps.LIBRARIES) == []


def test_only_the_named_libraries_are_checked(monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", None)
    assert deps.missing_libraries("cryptography") == []
    assert [missing.name for missing in deps.missing_libraries()] == ["requests"]  # the CA-facing default


def test_missing_dnspython_is_reported_by_its_package_name(monkeypatch):
    monkeypatch.setitem(sys.modules, "dns.version", None)
    (missing,) = deps.missing_libraries("dnspython")
    assert missing.name == "dnspython" and missing.reason == f"dnspython >= {deps.MIN_DNSPYTHON_VERSION}"


def test_too_old_dnspython_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "dns.version", types.SimpleNamespace(version="2.0.0"))
    (missing,) = deps.missing_libraries("dnspython")
    assert missing.error == f"dnspython 2.0.0 is installed, {deps.MIN_DNSPYTHON_VERSION} or newer is needed"


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
