"""The migration guide's playbooks (docs/examples/migration/) issue against pebble, before and after.

Each community.crypto playbook and its certforge.acme rewrite get the same variables, and each must
leave a certificate for the names, chaining to pebble's root, that belongs to the key beside it.
community.crypto comes from .collections-peers (tests/setup.sh unpacks it from the ansible package).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Callable, Mapping

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from test_issuance_support import subject_alternative_names, unique_name, verify_chain
from testbed.ansible import PlaybookRun, PlaybookRunner
from testbed.bind9 import Bind9Server
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

REPO = pathlib.Path(__file__).resolve().parents[2]
MIGRATION = REPO / 'docs' / 'examples' / 'migration'
PEER_COLLECTIONS = REPO / '.collections-peers'
# Before and after, as the guide pairs them.
PAIRS = [('community-crypto-two-step.yml', 'certforge-role.yml'), ('community-crypto-split.yml', 'certforge-modules.yml')]
# Playbooks that decide renewal themselves, so that a second run must leave the certificate alone.
DECIDE_RENEWAL = {'community-crypto-two-step.yml', 'certforge-role.yml'}


class PeerPlaybookRunner(PlaybookRunner):
    """Finds community.crypto beside this checkout; optionally trusts a CA bundle the way community.crypto can."""

    def __init__(self, *, work_dir: pathlib.Path, collections_path: pathlib.Path, ssl_cert_file: pathlib.Path | None) -> None:
        super().__init__(work_dir=work_dir, collections_path=collections_path)
        self.ssl_cert_file = ssl_cert_file

    def environment(self) -> dict[str, str]:
        environment = super().environment()
        environment['ANSIBLE_COLLECTIONS_PATH'] = f'{self.collections_path}:{PEER_COLLECTIONS}'
        if self.ssl_cert_file:
            # community.crypto has no CA bundle option; Python's default TLS context reads this variable.
            environment['SSL_CERT_FILE'] = str(self.ssl_cert_file)
        else:
            environment.pop('SSL_CERT_FILE', None)
        return environment


@pytest.fixture(scope='module')
def run_migration_playbook(tmp_path_factory: pytest.TempPathFactory, collections_path: pathlib.Path, pebble: PebbleServer) -> Callable[..., PlaybookRun]:
    if not (PEER_COLLECTIONS / 'ansible_collections' / 'community' / 'crypto').is_dir():
        pytest.fail(f'{PEER_COLLECTIONS} lacks community.crypto: run tests/setup.sh')
    work_dir = tmp_path_factory.mktemp('migration')
    runners = {
        # community.crypto can only be told about pebble's private root through SSL_CERT_FILE;
        # certforge.acme is run without it, so acme_ca_path alone must do.
        True: PeerPlaybookRunner(work_dir=work_dir / 'peer', collections_path=collections_path, ssl_cert_file=pebble.ca_path),
        False: PeerPlaybookRunner(work_dir=work_dir / 'ours', collections_path=collections_path, ssl_cert_file=None),
    }

    def run(name: str, variables: Mapping[str, object]) -> PlaybookRun:
        return runners[name.startswith('community-crypto')].run(MIGRATION / name, extra_vars=variables)

    return run


def _variables(tmp_path: pathlib.Path, pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server) -> dict[str, object]:
    return {
        'acme_directory': pebble.directory_url,
        'acme_ca_path': str(pebble.ca_path),
        'domains': [unique_name('www', bind9.zone), unique_name('shop', bind9.zone)],
        'webroot': str(webroot.path),
        'certificate_dir': str(tmp_path / 'certs'),
        'state_dir': str(tmp_path / 'state'),
    }


def _assert_issued(certificate_dir: pathlib.Path, domains: list[str], pebble: PebbleServer) -> None:
    fullchain = (certificate_dir / 'fullchain.pem').read_bytes()
    assert sorted(subject_alternative_names(fullchain)) == sorted(domains)
    for name in domains:
        verify_chain(fullchain, root_pem=pebble.root_pem(0), subject=name)
    assert (certificate_dir / 'cert.pem').read_bytes() in fullchain
    assert (certificate_dir / 'chain.pem').read_bytes().strip() in fullchain
    leaf = x509.load_pem_x509_certificate((certificate_dir / 'cert.pem').read_bytes())
    key = serialization.load_pem_private_key((certificate_dir / 'privkey.pem').read_bytes(), password=None)
    public = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    assert leaf.public_key().public_bytes(*public) == key.public_key().public_bytes(*public)
    assert (certificate_dir / 'privkey.pem').stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize('playbook', [name for pair in PAIRS for name in pair])
def test_migration_playbook_issues_a_certificate(
    playbook: str, run_migration_playbook: Callable[..., PlaybookRun], pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, tmp_path: pathlib.Path
) -> None:
    variables = _variables(tmp_path, pebble, webroot, bind9)
    run_migration_playbook(playbook, variables)
    certificate_dir = tmp_path / 'certs'
    _assert_issued(certificate_dir, variables['domains'], pebble)  # type: ignore[arg-type]
    leftovers = [path for path in (webroot.path / '.well-known' / 'acme-challenge').glob('*') if any(path.name in str(value) for value in variables.values())]
    assert not leftovers

    if playbook in DECIDE_RENEWAL:
        issued = (certificate_dir / 'cert.pem').read_bytes()
        run_migration_playbook(playbook, variables)
        assert (certificate_dir / 'cert.pem').read_bytes() == issued, 'a second run renewed a certificate with years left'


def test_every_migration_playbook_is_paired_and_run() -> None:
    shipped = sorted(path.name for path in MIGRATION.glob('*.yml'))
    assert shipped == sorted(name for pair in PAIRS for name in pair)


GUIDE = REPO / 'docs' / 'migrating-from-community-crypto.md'
# The guide's section that maps each community.crypto module, by the start of its heading.
GUIDE_SECTIONS = {
    'acme_certificate': '## acme_certificate (two steps)',
    'acme_account': '### acme_account',
    'acme_certificate_order_create': '### acme_certificate_order_create',
    'acme_certificate_order_validate': '### acme_certificate_order_validate',
    'acme_certificate_order_finalize': '### acme_certificate_order_finalize',
    'acme_certificate_order_info': '### acme_certificate_order_info',
}


def _section(text: str, heading: str) -> str:
    start = text.index(f'\n{heading}')
    following = [text.find(f'\n{marker} ', start + 1) for marker in ('#' * heading.count('#', 0, 3), '##')]
    ends = [position for position in following if position != -1]
    return text[start : min(ends) if ends else len(text)]


def test_guide_maps_every_community_crypto_option_and_result(collections_path: pathlib.Path) -> None:
    runner = PeerPlaybookRunner(work_dir=collections_path.parent / 'ansible-doc', collections_path=collections_path, ssl_cert_file=None)
    ansible_doc = runner.ansible_playbook.with_name('ansible-doc')
    completed = subprocess.run(
        [str(ansible_doc), '--json', *(f'community.crypto.{module}' for module in GUIDE_SECTIONS)],
        env=runner.environment(),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    docs = json.loads(completed.stdout)
    options = {name.rsplit('.', 1)[1]: set(doc['doc']['options']) for name, doc in docs.items()}
    results = {name.rsplit('.', 1)[1]: set(doc.get('return') or {}) for name, doc in docs.items()}
    # The options every ACME module shares are mapped once, in the account's and acme_certificate's sections.
    shared = set.intersection(*options.values())
    guide = GUIDE.read_text(encoding='utf-8')
    missing = {}
    for module, heading in GUIDE_SECTIONS.items():
        section = _section(guide, heading)
        wanted = options[module] | results[module]
        if module.startswith('acme_certificate_order_'):
            wanted -= shared
        absent = sorted(name for name in wanted if f'`{name}`' not in section)
        if absent:
            missing[module] = absent
    assert not missing, f'{GUIDE.name} does not map these community.crypto options/results: {missing}'
