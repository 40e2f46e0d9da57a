"""meta/argument_specs.yml is the source of truth of the role's variables; the rest must agree."""

from __future__ import annotations

import pathlib
import re

import yaml

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "acme_certificate"


def _options() -> dict:
    """The variables of every entry point; required ones have no default to agree on."""
    entry_points = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"].values()
    return {name: spec for entry in entry_points for name, spec in entry["options"].items() if not spec.get("required")}


def _defaults() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def test_every_default_is_specified_with_the_same_value():
    options = _options()
    for name, value in _defaults().items():
        assert name in options, f"{name} is in defaults/main.yml but not in meta/argument_specs.yml"
        assert options[name].get("default") == value, f"{name}: defaults/main.yml says {value!r}, argument_specs {options[name].get('default')!r}"


def test_every_specified_variable_has_a_default():
    assert set(_options()) == set(_defaults())


def test_public_variables_carry_the_role_prefix():
    assert all(name.startswith("acme_certificate_") for name in _options())


def test_readme_lists_every_variable_with_its_default():
    readme = (ROLE / "README.md").read_text()
    for name, spec in _options().items():
        row = re.search(rf"^\| `{name}` \| (.*?) \|", readme, re.MULTILINE)
        assert row, f"README.md has no table row for {name}"
        assert row.group(1) == f"`{yaml.safe_dump(spec.get('default'), default_flow_style=True).strip().removesuffix('...').strip()}`", name


def test_internal_variables_use_the_double_underscore_prefix():
    for path in (ROLE / "tasks").glob("*.yml"):
        for name in re.findall(r"^\s+(\w+):\s", path.read_text(), re.MULTILINE):
            if name.startswith("acme_certificate") and not name.startswith("acme_certificate_dns_"):
                exported = ("acme_certificate_results", "acme_certificate_report")
                assert name in _options() or name in exported, f"{path.name}: {name} is neither public nor __-prefixed"


CA_FACING_MODULES = {
    f"certforge.acme.{name}" for name in ("acme_account", "acme_order", "acme_challenge", "acme_finalize", "acme_revoke", "acme_renewal_info")
}


def _tasks(tasks: list, inherited_defaults: bool = False):
    """(task, whether module_defaults of an enclosing block set the CA options) for every task, blocks flattened."""
    for task in tasks or []:
        defaults = inherited_defaults or "group/certforge.acme.acme" in (task.get("module_defaults") or {})
        for section in ("block", "rescue", "always"):
            yield from _tasks(task.get(section), defaults)
        yield task, defaults


def test_every_task_that_talks_to_the_ca_gets_the_retry_timeout():
    ca = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__acme_certificate_ca"]
    assert ca.get("retry_timeout") == "{{ acme_certificate_retry_timeout }}"
    seen = 0
    for path in (ROLE / "tasks").glob("*.yml"):
        for task, has_defaults in _tasks(yaml.safe_load(path.read_text())):
            module = next((key for key in task if key in CA_FACING_MODULES), None)
            if module is None:
                continue
            seen += 1
            arguments = task[module]
            assert has_defaults or "retry_timeout" in arguments, f"{path.name}: {task['name']} does not pass retry_timeout"
    assert seen >= 6
