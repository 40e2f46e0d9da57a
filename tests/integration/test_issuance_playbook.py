"""The guide's playbook (playbooks/issuance/issue.yml), run as a user runs it: apply, apply again, preview.

docs/issuing-with-modules.md quotes that playbook; the last test keeps the quote and the file equal.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable

from test_issuance_support import PLAYBOOKS, PebbleLog, subject_alternative_names, unique_name, verify_chain, write_csr
from testbed.ansible import PlaybookRun
from testbed.bind9 import Bind9Server
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

ISSUE_PLAYBOOK = PLAYBOOKS / 'issue.yml'
GUIDE = pathlib.Path(__file__).resolve().parents[2] / 'docs' / 'issuing-with-modules.md'
CHANGING_REQUESTS = ('POST /order-plz', 'POST /chalZ/', 'POST /finalize-order/')


def _snapshot(*directories: pathlib.Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file below ``directories`` with its inode, mtime and content."""
    return {
        str(path): (path.stat().st_ino, path.stat().st_mtime_ns, path.read_bytes())
        for directory in directories
        for path in sorted(directory.rglob('*'))
        if path.is_file()
    }


def test_issue_playbook_issues_once_then_changes_nothing(
    pebble: PebbleServer, webroot: WebrootServer, bind9: Bind9Server, run_playbook: Callable[..., PlaybookRun], tmp_path: pathlib.Path
) -> None:
    domains = [unique_name('www', bind9.zone), unique_name('shop', bind9.zone)]
    state_dir, certificate_dir = tmp_path / 'state', tmp_path / 'certs'
    variables = {
        'acme_directory': pebble.directory_url,
        'acme_ca_path': str(pebble.ca_path),
        'domains': domains,
        'csr_path': str(write_csr(tmp_path / 'csr' / 'www.csr', domains)),
        'webroot': str(webroot.path),
        'certificate_dir': str(certificate_dir),
        'state_dir': str(state_dir),
    }

    log = PebbleLog(pebble)
    first = run_playbook(ISSUE_PLAYBOOK, extra_vars=variables)
    assert log.orders_created() == 1
    assert first.recap['localhost']['failures'] == 0
    assert {
        'Create the account key, only when it is missing',
        'Register the account, or find it',
        'Order the certificate, or resume the order recorded by an earlier run',
        'Put the http-01 files into the web root',
        'Ask the CA to validate, and wait for it',
        'Finalize the order and write the certificate files',
    } <= set(first.changed_tasks)
    fullchain = (certificate_dir / 'fullchain.pem').read_text(encoding='ascii')
    assert sorted(subject_alternative_names(fullchain)) == sorted(domains)
    for name in domains:
        verify_chain(fullchain, root_pem=pebble.root_pem(0), subject=name)
    ordered = first['Order the certificate, or resume the order recorded by an earlier run']
    assert (state_dir / 'order-uri.txt').read_text(encoding='ascii').splitlines()[0] == ordered['order_uri']
    # The challenge files are gone again.
    assert len(ordered['challenge_data']) == 2
    assert not [name for name, offered in ordered['challenge_data'].items() if (webroot.path / offered['http-01']['resource']).exists()]
    files = _snapshot(state_dir, certificate_dir)

    log = PebbleLog(pebble)
    second = run_playbook(ISSUE_PLAYBOOK, extra_vars=variables)
    assert second.recap['localhost']['changed'] == 0, second.changed_tasks
    assert second['Finalize the order and write the certificate files']['finalized'] is False
    assert log.requests()['POST /order-plz'] == 0 and log.orders_created() == 0
    assert _snapshot(state_dir, certificate_dir) == files

    # Adding a name, previewed: an order would be needed, so validation is skipped and nothing is sent.
    log = PebbleLog(pebble)
    preview = run_playbook(ISSUE_PLAYBOOK, extra_vars={**variables, 'domains': [*domains, unique_name('new', bind9.zone)]}, check=True)
    assert preview['Order the certificate, or resume the order recorded by an earlier run']['changed'] is True
    assert preview.outcome('Finalize the order and write the certificate files').status == 'skipped'
    counts = log.requests()
    assert {request: counts[request] for request in CHANGING_REQUESTS} == dict.fromkeys(CHANGING_REQUESTS, 0), counts
    assert _snapshot(state_dir, certificate_dir) == files


def test_guide_quotes_the_playbook_the_tests_run() -> None:
    guide = GUIDE.read_text(encoding='utf-8')
    assert 'tests/integration/playbooks/issuance/issue.yml' in guide
    # The guide's one complete playbook is the fenced YAML block that starts a document.
    playbooks = [block for block in re.findall(r'^```yaml\n(.*?)^```$', guide, flags=re.MULTILINE | re.DOTALL) if block.startswith('---\n')]
    assert playbooks == [ISSUE_PLAYBOOK.read_text(encoding='utf-8')]
