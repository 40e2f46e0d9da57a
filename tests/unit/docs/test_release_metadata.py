"""What the release tooling reads agrees with what the tests run: requires_ansible, version_added, the changelog, the license."""

from __future__ import annotations

import pathlib
import re

import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "acme_certificate"


def _galaxy() -> dict:
    return yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))


def _tested_core() -> str:
    """The lowest ansible-core tests/requirements.txt installs, e.g. '2.19'."""
    match = re.search(r"^ansible-core>=(\d+\.\d+)", (REPO / "tests" / "requirements.txt").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, "tests/requirements.txt pins no lowest ansible-core"
    return match.group(1)


def test_requires_ansible_is_the_core_the_tests_run() -> None:
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text(encoding="utf-8"))
    assert runtime["requires_ansible"] == f">={_tested_core()}.0"
    role_meta = yaml.safe_load((ROLE / "meta" / "main.yml").read_text(encoding="utf-8"))
    assert str(role_meta["galaxy_info"]["min_ansible_version"]) == _tested_core()


def test_every_role_entry_point_says_when_it_was_added() -> None:
    # antsibull-changelog lists a role under "New Roles" of the release its main entry point's version_added names.
    entry_points = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
    assert {name: spec.get("version_added") for name, spec in entry_points.items() if not spec.get("version_added")} == {}


def _new_objects(version: str) -> set[str]:
    """Modules, plugins and roles whose version_added is ``version``: the changelog lists them by itself."""
    names = set()
    for path in (REPO / "plugins").glob("*/*.py"):
        match = re.search(r"^version_added: ['\"]?([\d.]+)", path.read_text(encoding="utf-8"), re.MULTILINE)
        if match and match.group(1) == version:
            names.add(path.stem)
    entry_points = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
    if str(entry_points["main"].get("version_added")) == version:
        names.add(ROLE.name)
    return names


def test_no_fragment_repeats_the_new_modules_and_roles() -> None:
    new = _new_objects(str(_galaxy()["version"]))
    repeated = []
    for fragment in sorted((REPO / "changelogs" / "fragments").glob("*.yml")):
        sections = yaml.safe_load(fragment.read_text(encoding="utf-8")) or {}
        # Changes to a new module are fine as minor_changes; announcing the module itself is the changelog's job.
        for entry in sections.get("major_changes") or []:
            subject = entry.split(" - ", 1)[0].replace(" role", "")
            if any(name.strip() in new for name in subject.split(",")):
                repeated.append(f"{fragment.name}: {entry[:60]}")
    assert repeated == [], "fragments that say what 'New Modules'/'New Roles' of the changelog already list"


def test_copying_is_the_gpl_3_the_collection_claims() -> None:
    assert _galaxy()["license"] == ["GPL-3.0-or-later"]
    text = (REPO / "COPYING").read_text(encoding="utf-8")
    assert text.split("\n", 2)[0].strip() == "GNU GENERAL PUBLIC LICENSE"
    assert "Version 3, 29 June 2007" in text
