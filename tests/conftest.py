"""pytest setup shared by the unit and integration tests.

Python imports and Ansible both expect the collection at
``<root>/ansible_collections/certforge/acme``; the checkout is linked there once per session,
so unit tests can ``import ansible_collections.certforge.acme.plugins.module_utils._acme...``.
"""

from __future__ import annotations

import atexit
import pathlib
import shutil
import sys
import tempfile

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS_DIR = REPO_ROOT / 'tests'


def _link_collection() -> pathlib.Path:
    """Create ``<tmp>/ansible_collections/certforge/acme`` -> the checkout; return ``<tmp>``."""
    root = pathlib.Path(tempfile.mkdtemp(prefix='certforge-acme-collections-'))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    collection = root / 'ansible_collections' / 'certforge' / 'acme'
    collection.parent.mkdir(parents=True)
    collection.symlink_to(REPO_ROOT, target_is_directory=True)
    return root


COLLECTIONS_PATH = _link_collection()
sys.path.insert(0, str(COLLECTIONS_PATH))
# pytest's default import mode already puts tests/ on sys.path (no __init__.py there);
# this keeps `import testbed` working under --import-mode=importlib too.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

# Imported by name so pytest finds them here, wherever pytest is started from.
from testbed.fixtures import (  # noqa: E402  pylint: disable=wrong-import-position,unused-import
    _skip_what_the_ca_lacks,
    a2c_bind9,
    a2c_webroot,
    acme2certifier,
    acme2certifier_eab,
    acme2certifier_factory,
    acme_ca,
    acme_ca_eab,
    bind9,
    challenge_ports,
    fault_proxy,
    pebble,
    pebble_eab,
    pebble_factory,
    playbook_runner,
    run_playbook,
    server_tls,
    session_loopback_address,
    testbed_dir,
    webroot,
)
from testbed.tls_alpn import tls_alpn  # noqa: E402  pylint: disable=wrong-import-position,unused-import


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers the testbed reads."""
    config.addinivalue_line('markers', 'acme_ca_needs(*capabilities): skip the acme_ca runs on CAs that lack one (names in testbed/acme_ca.py CAPABILITIES)')


@pytest.fixture(scope='session')
def collections_path() -> pathlib.Path:
    """The directory to use as ANSIBLE_COLLECTIONS_PATH; it holds ``ansible_collections/``."""
    return COLLECTIONS_PATH


@pytest.fixture(scope='session')
def collection_dir(collections_path: pathlib.Path) -> pathlib.Path:
    """``<collections_path>/ansible_collections/certforge/acme``, a link to the checkout."""
    return collections_path / 'ansible_collections' / 'certforge' / 'acme'
