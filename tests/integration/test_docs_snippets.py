"""Every playbook snippet in README.md and docs/ is a file the tests run, or is checked here.

A ```yaml block preceded by ``<!-- snippet: PATH -->`` must be part of PATH, word for word, and PATH
must be an example under docs/examples/ (all syntax-checked below) or a file a test names. Any other
```yaml block that holds plays or tasks is extracted and given to ``ansible-playbook --syntax-check``
(tasks inside a play on localhost), and the options of each certforge.acme module in it must be
options the module documents. Snippets are written for real CAs and hosts, so syntax is what can be
checked for them here; the docs say so where it matters.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCS = [REPO / 'README.md', *sorted((REPO / 'docs').rglob('*.md'))]
EXAMPLES = sorted((REPO / 'docs' / 'examples').rglob('*.yml'))
PEER_COLLECTIONS = REPO / '.collections-peers'
BLOCK = re.compile(r'^```yaml\n(.*?)^```$', re.MULTILINE | re.DOTALL)
MARKER = re.compile(r'<!-- snippet: (\S+) -->\n\Z')
# Keys of a task that hold further tasks.
TASK_LISTS = ('block', 'rescue', 'always')


@dataclasses.dataclass(frozen=True)
class Snippet:
    doc: pathlib.Path
    line: int
    text: str
    file: str | None  # the PATH of its marker

    @property
    def id(self) -> str:
        return f'{self.doc.relative_to(REPO)}:{self.line}'


def _snippets() -> list[Snippet]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding='utf-8')
        for match in BLOCK.finditer(text):
            marker = MARKER.search(text, 0, match.start())
            found.append(Snippet(doc, text.count('\n', 0, match.start()) + 1, match.group(1), marker.group(1) if marker else None))
    return found


SNIPPETS = _snippets()


@pytest.fixture(scope='module')
def environment(collections_path: pathlib.Path) -> dict[str, str]:
    """ansible-doc's and ansible-playbook's: this checkout as certforge.acme, the peers (community.crypto, ...) beside it."""
    values = dict(os.environ)
    values.update(
        {
            'ANSIBLE_COLLECTIONS_PATH': f'{collections_path}:{PEER_COLLECTIONS}',
            'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_CONFIG': str(collections_path / 'no-ansible.cfg'),
        }
    )
    return values


def _ansible(tool: str) -> str:
    return str(pathlib.Path(sys.executable).with_name(tool))


@pytest.fixture(scope='module')
def module_options(environment: dict[str, str]) -> dict[str, set[str]]:
    """certforge.acme module name -> the options it documents (with its doc fragments)."""
    names = sorted(f'certforge.acme.{path.stem}' for path in (REPO / 'plugins' / 'modules').glob('acme_*.py'))
    completed = subprocess.run([_ansible('ansible-doc'), '--json', *names], env=environment, capture_output=True, text=True, check=False, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return {name: set(doc['doc'].get('options') or {}) for name, doc in json.loads(completed.stdout).items()}


def _syntax_check(playbook_text: str, tmp_path: pathlib.Path, environment: dict[str, str]) -> None:
    path = tmp_path / 'snippet.yml'
    path.write_text(playbook_text, encoding='utf-8')
    completed = subprocess.run(
        [_ansible('ansible-playbook'), '--syntax-check', '-i', 'localhost,', str(path)],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, f'{completed.stdout}\n{completed.stderr}'


def _tasks(items: list[Any]) -> list[dict[str, Any]]:
    tasks = []
    for item in items:
        if not isinstance(item, dict):
            continue
        tasks.append(item)
        for key in (*TASK_LISTS, 'tasks', 'pre_tasks', 'post_tasks', 'handlers'):
            if isinstance(item.get(key), list):
                tasks.extend(_tasks(item[key]))
    return tasks


def _unknown_options(items: list[Any], module_options: dict[str, set[str]]) -> dict[str, list[str]]:
    unknown = {}
    for task in _tasks(items):
        for key, arguments in task.items():
            if key in module_options and isinstance(arguments, dict):
                extra = sorted(set(arguments) - module_options[key])
                if extra:
                    unknown[f'{task.get("name", key)}'] = extra
    return unknown


def _is_covered_by_a_test(relative: str) -> bool:
    if relative.startswith('docs/examples/'):
        return True
    name = pathlib.PurePosixPath(relative).name
    return any(name in path.read_text(encoding='utf-8') for path in (REPO / 'tests').rglob('*.py'))


@pytest.mark.parametrize('snippet', SNIPPETS, ids=[snippet.id for snippet in SNIPPETS])
def test_snippet_is_a_file_the_tests_run_or_passes_the_checks(
    snippet: Snippet, module_options: dict[str, set[str]], environment: dict[str, str], tmp_path: pathlib.Path
) -> None:
    if snippet.file:
        source = REPO / snippet.file
        assert source.is_file(), f'{snippet.id}: its marker names {snippet.file}, which does not exist'
        assert snippet.text in source.read_text(encoding='utf-8'), f'{snippet.id} is not a part of {snippet.file} word for word'
        assert _is_covered_by_a_test(snippet.file), f'{snippet.id}: no test runs {snippet.file}'
        return
    content = yaml.safe_load(snippet.text)
    if not (isinstance(content, list) and content and all(isinstance(item, dict) for item in content)):
        return  # variables, a mapping or other data: not a playbook snippet
    assert _unknown_options(content, module_options) == {}, f'{snippet.id}: options the modules do not document'
    if any('hosts' in item or 'import_playbook' in item for item in content):
        _syntax_check(snippet.text, tmp_path, environment)
    else:
        play = [{'name': f'Snippet of {snippet.id}', 'hosts': 'localhost', 'gather_facts': False, 'tasks': content}]
        _syntax_check(yaml.safe_dump(play, sort_keys=False), tmp_path, environment)


@pytest.mark.parametrize('example', EXAMPLES, ids=[str(path.relative_to(REPO)) for path in EXAMPLES])
def test_example_playbook_passes_syntax_check(
    example: pathlib.Path, module_options: dict[str, set[str]], environment: dict[str, str], tmp_path: pathlib.Path
) -> None:
    content = yaml.safe_load(example.read_text(encoding='utf-8'))
    if not (isinstance(content, list) and all(isinstance(item, dict) and 'hosts' in item for item in content)):
        pytest.skip(f'{example.name} holds no plays')
    assert _unknown_options(content, module_options) == {}
    _syntax_check(example.read_text(encoding='utf-8'), tmp_path, environment)
