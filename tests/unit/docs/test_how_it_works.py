"""docs/how-it-works.md draws every module the role runs, and the README links to it."""

from __future__ import annotations

import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[3]
PAGE = REPO / "docs" / "how-it-works.md"
ROLE_TASKS = REPO / "roles" / "acme_certificate" / "tasks"
MERMAID = re.compile(r"^```mermaid\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _diagram() -> str:
    diagrams = MERMAID.findall(PAGE.read_text(encoding="utf-8"))
    assert len(diagrams) == 1, "docs/how-it-works.md has one Mermaid diagram"
    return diagrams[0]


def _modules_the_role_runs() -> set[str]:
    # revoke.yml is the role's other entry point (tasks_from: revoke), drawn in docs/revoking.md's words, not here.
    text = "".join(path.read_text(encoding="utf-8") for path in ROLE_TASKS.glob("*.yml") if path.name != "revoke.yml")
    return set(re.findall(r"certforge\.acme\.(acme_[a-z0-9_]+):", text))


def test_diagram_names_every_module_the_role_runs() -> None:
    diagram = _diagram()
    modules = _modules_the_role_runs()
    assert modules, "no module found in the role's tasks"
    assert sorted(module for module in modules if module not in diagram) == []


def test_diagram_is_a_sequence_diagram_without_characters_mermaid_reads_as_syntax() -> None:
    lines = _diagram().splitlines()
    assert lines[0] == "sequenceDiagram"
    for line in lines[1:]:
        text = line.replace("<br/>", "").replace("-->>", "").replace("->>", "")
        # ';' ends a statement, '#' starts an entity code and '<' '>' are read as HTML in messages.
        assert not re.search(r"[;#<>]", text), line


def test_readme_links_to_the_page() -> None:
    assert "(docs/how-it-works.md)" in (REPO / "README.md").read_text(encoding="utf-8")
