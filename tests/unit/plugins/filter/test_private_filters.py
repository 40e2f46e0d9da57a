"""Role glue is private: `_`-prefixed filters the role calls, never listed as new plugins in the changelog."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[4]
FILTERS = ROOT / "plugins" / "filter"
# Filters meant for playbooks; every other filter is the role's own.
PUBLIC = {"challenges_by_type", "dns_persist_record"}
# A filter applied (`| certforge.acme.x`, `map('certforge.acme.x'`) or named in plugin docs (`P(certforge.acme.x#filter)`).
FILTER_USE = re.compile(r"(?:\|\s*|map\(\s*'|P\()certforge\.acme\.(\w+)\b(?!\s*\()")


def _documentation(path: pathlib.Path) -> dict:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)
    raise AssertionError(f"{path.name} has no DOCUMENTATION")


def _filter_names() -> set[str]:
    return {path.stem for path in FILTERS.glob("*.py")}


def test_only_the_public_filters_have_public_names():
    assert {name for name in _filter_names() if not name.startswith("_")} == PUBLIC


@pytest.mark.parametrize("name", sorted(_filter_names()))
def test_a_filter_is_named_as_its_file_and_only_public_ones_enter_the_changelog(name: str):
    path = FILTERS / f"{name}.py"
    documentation = _documentation(path)
    assert documentation["name"] == name
    assert f'{{"{name}": ' in path.read_text(), f"{path.name}: FilterModule does not register {name}"
    # antsibull-changelog lists a plugin as new in the release equal to its version_added; without one, never.
    if name.startswith("_"):
        assert "version_added" not in documentation, f"{name} is private and must not be listed in the changelog"
        assert "Private to the C(certforge.acme.acme_certificate) role" in " ".join(documentation["description"])
    else:
        assert documentation.get("version_added"), f"{name} is public and needs version_added"


def _uses() -> list[tuple[pathlib.Path, str]]:
    places = [ROOT / "roles", ROOT / "playbooks", ROOT / "docs", ROOT / "plugins", ROOT / "tests" / "integration"]
    uses = []
    for place in places:
        for path in place.rglob("*"):
            if path.suffix in (".yml", ".yaml", ".md", ".py", ".j2") and path.is_file():
                uses.extend((path, name) for name in FILTER_USE.findall(path.read_text()))
    return uses


def test_every_filter_named_anywhere_exists():
    uses = _uses()
    assert uses
    missing = [f"{path.relative_to(ROOT)}: {name}" for path, name in uses if name not in _filter_names() and name != "lock_holder"]
    assert missing == []


def test_the_role_uses_only_its_private_filters():
    role_uses = {name for path, name in _uses() if (ROOT / "roles") in path.parents}
    assert role_uses and all(name.startswith("_") for name in role_uses), sorted(role_uses)
