"""acme_finalize on each CA: the CSR check, file modes, an idempotent rerun and backups on renewal."""

from __future__ import annotations

import pathlib
import stat
from collections.abc import Callable

from test_issuance_support import PLAYBOOKS, ChallengeProvisioner, create_account, ready_order, write_csr
from testbed.acme_ca import AcmeCA
from testbed.ansible import PlaybookRun
from testbed.tls_alpn import TlsAlpnResponders


def _mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_finalize_writes_files_once_and_backs_up_on_renewal(
    acme_ca: AcmeCA, tls_alpn: TlsAlpnResponders, run_playbook: Callable[..., PlaybookRun], tmp_path: pathlib.Path
) -> None:
    account = create_account(acme_ca, tmp_path)
    names = [acme_ca.unique_name('final'), acme_ca.unique_name('www')]
    other = acme_ca.unique_name('other')
    with ChallengeProvisioner.for_ca(acme_ca, tls_alpn) as provisioner:
        first = ready_order(account, names, provisioner)
        # The renewal: the CA may reuse the valid authorizations of the first order.
        renewal = ready_order(account, names, provisioner)
    cert_dir = tmp_path / 'certs'
    cert_dir.mkdir()

    run = run_playbook(
        PLAYBOOKS / 'finalize.yml',
        extra_vars={
            'acme': account.module_defaults(),
            'order_uri': first.uri,
            'renewal_order_uri': renewal.uri,
            'csr_path': str(write_csr(tmp_path / 'cert.csr', names)),
            'other_csr_path': str(write_csr(tmp_path / 'other.csr', [names[0], other])),
            'cert_dir': str(cert_dir),
        },
    )

    assert run.outcome('Finalize with a CSR for other names').failed
    assert run['Finalize with a CSR for other names']['msg'] == (
        f"csr_src: the CSR's names differ from the order's identifiers (missing from the CSR: {names[1]}; "
        f"not in the order: {other}); make a CSR for exactly the ordered names"
    )

    written = run['Finalize and write the files']
    assert written['changed'] is True and written['finalized'] is True
    assert run['Look at the certificate file']['stat']['mode'] == '0600'

    again = run['Finalize again']
    assert again['changed'] is False and again['finalized'] is False
    assert again['cert'] == written['cert']
    before, after = run['Look at the certificate file']['stat'], run['Look at the certificate file again']['stat']
    assert (after['inode'], after['mtime']) == (before['inode'], before['mtime'])

    renewed = run['Finalize the renewal, keeping backups']
    assert renewed['changed'] is True and renewed['finalized'] is True
    assert renewed['serial'] != written['serial']
    backups = [pathlib.Path(path) for path in renewed['backup_files']]
    # The chain (the same intermediate) did not change, so it has no backup.
    assert sorted(path.name.split('.')[0] for path in backups) == ['cert', 'fullchain']
    for backup in backups:
        original = 'cert' if backup.name.startswith('cert.') else 'fullchain'
        assert backup.read_text(encoding='ascii') == written[original]
    assert (cert_dir / 'cert.pem').read_text(encoding='ascii') == renewed['cert']
    assert (cert_dir / 'fullchain.pem').read_text(encoding='ascii') == renewed['fullchain']
    assert (cert_dir / 'chain.pem').read_text(encoding='ascii') == renewed['chain'] == written['chain']
    assert {path.name: _mode(path) for path in cert_dir.glob('*.pem')} == dict.fromkeys(['cert.pem', 'chain.pem', 'fullchain.pem'], 0o600)
