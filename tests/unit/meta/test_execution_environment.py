"""meta/execution-environment.yml installs the collection tarball of the version galaxy.yml builds."""

from __future__ import annotations

import pathlib

import yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_the_definition_names_the_tarball_of_this_version() -> None:
    version = yaml.safe_load((REPO_ROOT / 'galaxy.yml').read_text(encoding='utf-8'))['version']
    definition = yaml.safe_load((REPO_ROOT / 'meta' / 'execution-environment.yml').read_text(encoding='utf-8'))
    assert definition['dependencies']['galaxy']['collections'] == [{'name': f'collections/certforge-acme-{version}.tar.gz', 'type': 'file'}]


def test_the_root_lists_are_the_definitions_own() -> None:
    """ansible-builder reads `python`/`system` relative to meta/ for this definition, and relative to the
    collection's root when another execution environment installs certforge.acme: both must be one file."""
    definition = yaml.safe_load((REPO_ROOT / 'meta' / 'execution-environment.yml').read_text(encoding='utf-8'))
    for entry in ('python', 'system'):
        name = definition['dependencies'][entry]
        assert (REPO_ROOT / name).resolve() == (REPO_ROOT / 'meta' / name).resolve(), name
