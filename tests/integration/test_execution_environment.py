"""meta/execution-environment.yml builds an execution environment that runs the role, without Galaxy.

ansible-builder (in .venv-builder, tests/setup.sh) makes the build context from the definition and a
tarball of this collection, as docs/awx.md tells users to. Building the image needs a container engine
and the base image's registry, which this machine lacks: so the test runs, outside a container, the two
steps of the image build that depend on this collection's files - the galaxy stage's install of the
collection from the context, and the builder stage's introspection of the installed collection, which
reads the same meta/execution-environment.yml relative to the collection's root.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILDER_VENV = REPO_ROOT / '.venv-builder'
ANSIBLE_BIN = pathlib.Path(sys.executable).parent
PYTHON_LIBRARIES = ('requests', 'cryptography', 'dnspython')
SYSTEM_PACKAGES = ('ca-certificates', 'openssh-clients', 'openssh-client')


def run(command: list[str], *, cwd: pathlib.Path | None = None) -> str:
    """Run a command and return its output; a failure shows the output."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f'{command[:3]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}'
    return done.stdout


def requirement_names(text: str) -> list[str]:
    """The first word of each line that is not a comment: a package name in pip and bindep files."""
    return [line.split()[0].split('>')[0].split('=')[0].split('<')[0] for line in text.splitlines() if line.strip() and not line.lstrip().startswith('#')]


@pytest.fixture(name='build_context')
def fixture_build_context(tmp_path: pathlib.Path) -> pathlib.Path:
    """The context `ansible-builder create` makes from meta/ and the collection's tarball, as a user would."""
    builder = BUILDER_VENV / 'bin' / 'ansible-builder'
    assert builder.exists(), f'{builder} is missing: run tests/setup.sh'
    # A copy of meta/ beside the tarball, as in a checkout after `ansible-galaxy collection build`,
    # so that the test writes nothing into the checkout.
    collection = tmp_path / 'collection'
    shutil.copytree(REPO_ROOT / 'meta', collection / 'meta')
    run([str(ANSIBLE_BIN / 'ansible-galaxy'), 'collection', 'build', str(REPO_ROOT), '--output-path', str(collection)])
    context = tmp_path / 'context'
    run([str(builder), 'create', '--file', str(collection / 'meta' / 'execution-environment.yml'), '--context', str(context)])
    return context


def test_context_names_the_requirements_and_the_collection(build_context: pathlib.Path) -> None:
    build = build_context / '_build'
    assert requirement_names((build / 'requirements.txt').read_text(encoding='utf-8')) == list(PYTHON_LIBRARIES)
    assert set(requirement_names((build / 'bindep.txt').read_text(encoding='utf-8'))) == set(SYSTEM_PACKAGES)
    galaxy = yaml.safe_load((build / 'requirements.yml').read_text(encoding='utf-8'))
    tarball = galaxy['collections'][0]['name']
    assert (build / tarball).is_file(), f'the galaxy requirement {tarball} is not in the context'
    containerfile = next(build_context.glob('*file')).read_text(encoding='utf-8')
    assert 'ansible-galaxy collection install' in containerfile and '-r requirements.yml' in containerfile


def test_image_build_steps_install_the_collection_offline_and_find_its_requirements(build_context: pathlib.Path, tmp_path: pathlib.Path) -> None:
    build = build_context / '_build'
    installed = tmp_path / 'usr-share-ansible' / 'collections'
    # The galaxy stage's command, in /build of the context; --offline proves no Galaxy server is asked.
    run([str(ANSIBLE_BIN / 'ansible-galaxy'), 'collection', 'install', '--offline', '-r', 'requirements.yml', '--collections-path', str(installed)], cwd=build)
    assert (installed / 'ansible_collections' / 'certforge' / 'acme' / 'roles' / 'acme_certificate').is_dir()
    # The builder stage's introspection over the installed collections, with the definition's own lists.
    output = run(
        [
            str(BUILDER_VENV / 'bin' / 'python'),
            str(build / 'scripts' / 'introspect.py'),
            'introspect',
            str(installed),
            '--user-pip',
            str(build / 'requirements.txt'),
            '--user-bindep',
            str(build / 'bindep.txt'),
        ]
    )
    found = yaml.safe_load(output)
    from_collection = [line for line in found['python'] if line.endswith('# from collection certforge.acme')]
    assert requirement_names('\n'.join(from_collection)) == list(PYTHON_LIBRARIES)
    system_from_collection = [line for line in found['system'] if line.endswith('# from collection certforge.acme')]
    assert set(requirement_names('\n'.join(system_from_collection))) == set(SYSTEM_PACKAGES)
