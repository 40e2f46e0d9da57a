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


CA_FACING_MODULES = {f"certforge.acme.{name}" for name in ("acme_account", "acme_order", "acme_challenge", "acme_finalize", "acme_revoke", "acme_renewal_info")}


# The CA connection and the account key: what module_defaults of the action group carry, never a task itself.
CA_OPTIONS = (
    "acme_directory",
    "ca_path",
    "validate_certs",
    "request_timeout",
    "retry_timeout",
    "account_key_src",
    "account_key_content",
    "account_key_passphrase",
)


def _tasks(path: pathlib.Path, inherited_defaults: bool = False, seen: frozenset = frozenset()):
    """(file, task, whether module_defaults around it set the CA options) for every task reached from `path`, includes followed."""

    def walk(tasks: list, defaults: bool):
        for task in tasks or []:
            defaults_here = defaults or "group/certforge.acme.acme" in (task.get("module_defaults") or {})
            for section in ("block", "rescue", "always"):
                yield from walk(task.get(section), defaults_here)
            yield path.name, task, defaults_here
            included = task.get("ansible.builtin.include_tasks")
            # Provider files are chosen by a variable; they talk to DNS servers, not to the CA.
            if isinstance(included, str) and "{{" not in included and included not in seen:
                yield from _tasks(ROLE / "tasks" / included, defaults_here, seen | {path.name})

    yield from walk(yaml.safe_load(path.read_text()), inherited_defaults)


def _ca_tasks():
    for entry_point in ("main.yml", "revoke.yml"):
        for name, task, has_defaults in _tasks(ROLE / "tasks" / entry_point):
            module = next((key for key in task if key in CA_FACING_MODULES), None)
            if module is not None:
                yield name, task, module, has_defaults


def test_every_task_that_talks_to_the_ca_gets_the_connection_from_module_defaults():
    ca = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__acme_certificate_ca"]
    assert set(ca) == set(CA_OPTIONS)
    assert ca["retry_timeout"] == "{{ acme_certificate_retry_timeout }}"
    seen = set()
    for name, task, module, has_defaults in _ca_tasks():
        seen.add(name)
        assert has_defaults, f"{name}: {task['name']} is outside module_defaults of group/certforge.acme.acme"
        repeated = sorted(set(task[module] or {}) & set(CA_OPTIONS))
        assert not repeated, f"{name}: {task['name']} repeats {', '.join(repeated)}, which module_defaults carry"
    files_with_ca_tasks = {path.name for path in (ROLE / "tasks").glob("*.yml") if any(module in path.read_text() for module in CA_FACING_MODULES)}
    assert seen == files_with_ca_tasks, f"not reached from an entry point: {sorted(files_with_ca_tasks - seen)}"
