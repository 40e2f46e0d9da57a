"""The acme_certificate role through the fault-injecting proxy, for one host validating with http-01.

A transient fault on each resource must still deploy a whole certificate from one order; a certificate
download that stays truncated must fail the run and leave the deployed certificate as it was.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

from test_faults_support import (
    PERSISTENT_RETRY_TIMEOUT_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    ROLE_PLAYBOOK,
    TRANSIENT_RETRY_TIMEOUT_SECONDS,
    check_certificate_files,
    failed_task,
)
from test_issuance_support import unique_name
from testbed import faults
from testbed.ansible import PlaybookRun, PlaybookRunner
from testbed.bind9 import Bind9Server
from testbed.fault_proxy import FaultProxy
from testbed.faults import Fault, Rule
from testbed.host_python import host_python
from testbed.pebble import PebbleServer
from testbed.webserver import WebrootServer

HOST = 'web1'
CERTIFICATE = 'www'
DEPLOYED_FILES = ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem')


class OneHost:
    """One local host with one certificate, its inventory pointing at the proxy."""

    def __init__(self, root: pathlib.Path, *, proxy: FaultProxy, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path) -> None:
        self.name = unique_name('role', bind9.zone)
        self.certificate_dir = root / HOST / 'etc' / 'ssl' / 'acme' / CERTIFICATE
        host_vars = {
            'ansible_connection': 'local',
            'ansible_python_interpreter': str(host_python()),  # cryptography only: a host, not the controller
            'acme_certificate_directory': proxy.directory_url,
            'acme_certificate_ca_path': str(proxy.ca_path),
            'acme_certificate_request_timeout': REQUEST_TIMEOUT_SECONDS,
            'acme_certificate_retry_timeout': TRANSIENT_RETRY_TIMEOUT_SECONDS,
            'acme_certificate_state_dir': str(root / 'controller'),
            'acme_certificate_terms_agreed': True,
            'acme_certificate_dir': str(root / HOST / 'etc' / 'ssl' / 'acme'),
            'acme_certificate_webroot': str(webroot.path),
            'acme_certificate_challenge': 'http-01',
            'acme_certificate_certificates': [{'name': CERTIFICATE, 'identifiers': [self.name]}],
        }
        inventory = root / 'inventory.yml'
        inventory.write_text(yaml.safe_dump({'all': {'hosts': {HOST: host_vars}}}), encoding='utf-8')
        self.runner = PlaybookRunner(work_dir=root / 'ansible', collections_path=collections_path)
        self.runner.inventory_path = inventory

    def run(self, **options: object) -> PlaybookRun:
        """Run the role (``expect_failure``, ``extra_vars`` as for PlaybookRunner.run)."""
        return self.runner.run(ROLE_PLAYBOOK, **options)  # type: ignore[arg-type]

    def deployed(self) -> dict[str, bytes]:
        """The certificate directory's files and their bytes."""
        return {path.name: path.read_bytes() for path in sorted(self.certificate_dir.iterdir())} if self.certificate_dir.exists() else {}


@pytest.fixture
def one_host(tmp_path: pathlib.Path, fault_proxy: FaultProxy, webroot: WebrootServer, bind9: Bind9Server, collections_path: pathlib.Path) -> OneHost:
    """A host of its own for each test, behind the test's proxy."""
    return OneHost(tmp_path, proxy=fault_proxy, webroot=webroot, bind9=bind9, collections_path=collections_path)


TRANSIENT_ROLE_FAULTS = (
    faults.first(Fault(faults.RESET_AFTER)),
    faults.first(Fault.status(503, retry_after=1)),
    faults.first(Fault(faults.TRUNCATE), ['certificate']),
)


@pytest.mark.parametrize('rule', TRANSIENT_ROLE_FAULTS, ids=lambda rule: f'{rule.fault.label}@{",".join(sorted(rule.resources or ["all"]))}')
def test_the_role_deploys_a_whole_certificate_from_one_order_despite_a_transient_fault(
    rule: Rule, one_host: OneHost, fault_proxy: FaultProxy, pebble: PebbleServer
) -> None:
    fault_proxy.plan(rule)
    try:
        one_host.run()
    except AssertionError as failure:
        raise AssertionError(f'{failure}\n--- proxy log ---\n{fault_proxy.describe()}') from None
    assert fault_proxy.faulted(), 'no fault was applied'
    assert set(DEPLOYED_FILES) <= set(one_host.deployed())
    check_certificate_files(one_host.certificate_dir, names=[one_host.name], pebble=pebble)
    assert fault_proxy.count('newOrder', processed=True) == 1, fault_proxy.describe()
    assert fault_proxy.count('finalize', processed=True) == 1, fault_proxy.describe()


def test_a_certificate_download_that_stays_truncated_fails_the_role_and_keeps_the_deployed_certificate(
    one_host: OneHost, fault_proxy: FaultProxy, pebble: PebbleServer
) -> None:
    one_host.run()
    check_certificate_files(one_host.certificate_dir, names=[one_host.name], pebble=pebble)
    before = one_host.deployed()

    fault_proxy.plan(faults.always(Fault(faults.TRUNCATE), ['certificate']))
    renewal = one_host.run(extra_vars={'acme_certificate_force': True, 'acme_certificate_retry_timeout': PERSISTENT_RETRY_TIMEOUT_SECONDS}, expect_failure=True)
    assert fault_proxy.faulted(), 'no download was truncated'
    renewal.failure_message(failed_task(renewal))  # one line, no traceback
    after = one_host.deployed()
    assert {name: after.get(name) for name in before} == before
    # The only newcomer allowed is the key pending for the order a later run resumes.
    assert {name for name in after if name not in before and not name.endswith('.pending')} == set()
