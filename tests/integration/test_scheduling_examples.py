"""The files docs/scheduling.md, docs/awx.md and docs/monitoring.md tell users to copy (docs/examples/) work as written.

systemd units go through ``systemd-analyze verify`` (strictly: any warning fails) and the timer's calendar through
``systemd-analyze calendar``; every ``ansible-playbook`` command of the units and the cron file runs with
``--syntax-check`` against this checkout as ``certforge.acme``; the AWX credential type injects role variables
that exist; the alerting rules use only metrics the role writes.
"""

from __future__ import annotations

import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.certforge.acme.plugins.module_utils.certificate_metrics import METRICS, PREFIX
from testbed.ansible import PlaybookRunner

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / 'docs' / 'examples'
ROLE_SPECS = REPO_ROOT / 'roles' / 'acme_certificate' / 'meta' / 'argument_specs.yml'
ANSIBLE_PLAYBOOK = pathlib.Path(sys.executable).with_name('ansible-playbook')
SYSTEM_ANSIBLE_PLAYBOOK = '/usr/bin/ansible-playbook'  # where the units expect a distribution's Ansible


@pytest.fixture(name='runner')
def fixture_runner(tmp_path: pathlib.Path, collections_path: pathlib.Path) -> PlaybookRunner:
    return PlaybookRunner(work_dir=tmp_path / 'ansible', collections_path=collections_path)


def syntax_check(runner: PlaybookRunner, arguments: list[str]) -> None:
    """Run an example's ansible-playbook arguments with --syntax-check, its inventory replaced by the test's."""
    arguments = list(arguments)
    if '-i' in arguments:
        arguments[arguments.index('-i') + 1] = str(runner.inventory_path)
    done = subprocess.run([str(ANSIBLE_PLAYBOOK), *arguments, '--syntax-check'], env=runner.environment(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, f'{arguments}: {done.stdout}\n{done.stderr}'


def unit_setting(path: pathlib.Path, key: str) -> str:
    [value] = re.findall(rf'^{key}=(.*)$', path.read_text(encoding='utf-8'), re.MULTILINE)
    return value


@pytest.mark.skipif(shutil.which('systemd-analyze') is None, reason='systemd-analyze is not installed')
def test_systemd_units_verify_and_their_command_is_a_valid_playbook_run(tmp_path: pathlib.Path, runner: PlaybookRunner) -> None:
    service, timer = EXAMPLES / 'acme-certificates.service', EXAMPLES / 'acme-certificates.timer'
    command = shlex.split(unit_setting(service, 'ExecStart'))
    assert command[0] == SYSTEM_ANSIBLE_PLAYBOOK
    # verify wants the command to exist: the test's ansible-playbook stands in for the distribution's.
    units = tmp_path / 'units'
    units.mkdir()
    (units / service.name).write_text(service.read_text(encoding='utf-8').replace(SYSTEM_ANSIBLE_PLAYBOOK, str(ANSIBLE_PLAYBOOK)), encoding='utf-8')
    shutil.copy(timer, units / timer.name)
    done = subprocess.run(['systemd-analyze', 'verify', service.name, timer.name], cwd=units, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout + done.stderr) == (0, '')
    calendar = subprocess.run(['systemd-analyze', 'calendar', unit_setting(timer, 'OnCalendar')], capture_output=True, text=True, check=False)
    assert calendar.returncode == 0, calendar.stderr
    syntax_check(runner, command[1:])


def test_cron_lines_are_settings_or_schedules_running_a_valid_playbook(runner: PlaybookRunner) -> None:
    schedules = 0
    for line in (EXAMPLES / 'acme-certificates.cron').read_text(encoding='utf-8').splitlines():
        if not line.strip() or line.startswith('#'):
            continue
        if re.fullmatch(r'[A-Z_]+=\S+', line):
            continue
        minute, hour, day, month, weekday, user, command = line.split(None, 6)
        for field, highest in ((minute, 59), (hour, 23), (day, 31), (month, 12), (weekday, 7)):
            assert field == '*' or all(0 <= int(value) <= highest for value in field.split(',')), line
        assert re.fullmatch(r'[a-z_][a-z0-9_-]*', user), line
        playbook_command = shlex.split(command.split('ansible-playbook', 1)[1].split('>', 1)[0])
        syntax_check(runner, playbook_command)
        schedules += 1
    assert schedules == 1


def test_fleet_slice_playbook_is_valid(runner: PlaybookRunner) -> None:
    syntax_check(runner, ['-i', 'inventory', str(EXAMPLES / 'fleet-slice.yml')])


def test_awx_credential_type_injects_role_variables_from_its_own_inputs() -> None:
    credential_type = yaml.safe_load((EXAMPLES / 'awx-credential-type.yml').read_text(encoding='utf-8'))
    inputs = {field['id']: field for field in credential_type['inputs']['fields']}
    role_variables = yaml.safe_load(ROLE_SPECS.read_text(encoding='utf-8'))['argument_specs']['main']['options']
    for variable, template in credential_type['injectors']['extra_vars'].items():
        assert variable in role_variables, variable
        [field] = re.findall(r'\{\{\s*(\w+)', template)
        assert inputs[field].get('secret') is True, f'{field} holds a secret: mark it secret'
    assert set(credential_type['inputs']['required']) <= set(inputs)


def test_alerting_rules_use_only_the_metrics_the_role_writes() -> None:
    rules = yaml.safe_load((EXAMPLES / 'prometheus-rules.yml').read_text(encoding='utf-8'))
    written = {PREFIX + suffix for suffix in METRICS}
    expressions = [rule['expr'] for group in rules['groups'] for rule in group['rules']]
    used = {name for expression in expressions for name in re.findall(r'\b(certforge_\w+)', expression)}
    assert used and used <= written, used - written
