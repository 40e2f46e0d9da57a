# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures for the unit tests of the ACME core: keys, a fake HTTP layer, a fake clock.

The core is imported as `ansible_collections.certforge.acme...`. Under ansible-test (or with
tests/conftest.py) that already works; otherwise a temporary `ansible_collections/certforge/acme`
symlink to the repository root is put on `sys.path`.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile

import pytest

_PROBE = "ansible_collections.certforge.acme.plugins.module_utils._acme.errors"
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _importable() -> bool:
    try:
        importlib.import_module(_PROBE)
    except ImportError:
        return False
    return True


def _make_collection_importable() -> None:
    if _importable():
        return
    root = tempfile.mkdtemp(prefix="certforge-acme-unit-")
    atexit.register(shutil.rmtree, root, True)
    namespace_dir = os.path.join(root, "ansible_collections", "certforge")
    os.makedirs(namespace_dir)
    os.symlink(_REPO_ROOT, os.path.join(namespace_dir, "acme"))
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    importlib.import_module(_PROBE)


_make_collection_importable()

# pylint: disable=wrong-import-position
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402

from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import SigningKey  # noqa: E402
from ansible_collections.certforge.acme.plugins.module_utils._acme.transport import AcmeSession  # noqa: E402
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DIRECTORY_URL, FakeClock, FakeHttp  # noqa: E402


@pytest.fixture(scope="session")
def private_keys() -> dict:
    """One private key per JWS algorithm the core signs with; RSA is generated once per run."""
    return {
        "rsa2048": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec256": ec.generate_private_key(ec.SECP256R1()),
        "ec384": ec.generate_private_key(ec.SECP384R1()),
        "ec521": ec.generate_private_key(ec.SECP521R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }


@pytest.fixture(scope="session")
def account_key(private_keys) -> SigningKey:
    return SigningKey(private_keys["ec256"])


@pytest.fixture
def http() -> FakeHttp:
    """A fake CA answering the Let's Encrypt staging directory and newNonce."""
    return FakeHttp().with_directory()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_session(http, clock):
    def make(**options) -> AcmeSession:
        options.setdefault("directory_url", DIRECTORY_URL)
        return AcmeSession(http=http, sleep=clock.sleep, clock=clock, **options)

    return make


@pytest.fixture
def session(make_session) -> AcmeSession:
    return make_session()
