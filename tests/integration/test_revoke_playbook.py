"""playbooks/revoke.yml: revoke what the acme_certificate role deployed on a host, and remove it on request."""

from __future__ import annotations

import pathlib
import secrets

from cryptography import x509

REPO = pathlib.Path(__file__).resolve().parents[2]
ISSUE_PLAYBOOK = """
- name: Deploy a certificate with the role
  hosts: localhost
  gather_facts: false
  roles:
    - certforge.acme.acme_certificate
"""


def _serial(path: pathlib.Path) -> str:
    return format(x509.load_pem_x509_certificate(path.read_bytes()).serial_number, 'x')


def test_revoke_playbook_revokes_the_deployed_certificate_and_removes_it(run_playbook, pebble, bind9, webroot, tmp_path):
    role_vars = {
        'acme_certificate_directory': pebble.directory_url,
        'acme_certificate_ca_path': str(pebble.ca_path),
        'acme_certificate_terms_agreed': True,
        'acme_certificate_state_dir': str(tmp_path / 'state'),
        'acme_certificate_dir': str(tmp_path / 'ssl'),
        'acme_certificate_webroot': str(webroot.path),
        'acme_certificate_certificates': [{'name': 'site', 'identifiers': [f'revoke-{secrets.token_hex(4)}.{bind9.zone}']}],
    }
    run_playbook(ISSUE_PLAYBOOK, extra_vars=role_vars)
    site = tmp_path / 'ssl' / 'site'
    serial = _serial(site / 'cert.pem')
    assert pebble.cert_status(serial)['Status'] == 'Valid'

    refused = run_playbook(REPO / 'playbooks' / 'revoke.yml', extra_vars=role_vars, expect_failure=True)
    assert refused.contains('-e target=HOST -e certificate=NAME')

    target = {'target': 'localhost', 'certificate': 'site'}
    run_playbook(REPO / 'playbooks' / 'revoke.yml', extra_vars={**role_vars, **target, 'reason': 'superseded'})
    status = pebble.cert_status(serial)
    assert status['Status'] == 'Revoked' and status['Reason'] == 4
    assert (site / 'cert.pem').exists(), 'without remove=true the files stay'

    # Revoking again is no change at the CA; remove=true then deletes the files.
    again = run_playbook(REPO / 'playbooks' / 'revoke.yml', extra_vars={**role_vars, **target, 'remove': True})
    assert again['certforge.acme.acme_certificate : Revoke the certificate']['revoked'] is False
    assert not any((site / name).exists() for name in ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem'))

    unknown = run_playbook(REPO / 'playbooks' / 'revoke.yml', extra_vars={**role_vars, 'target': 'localhost', 'certificate': 'nope'}, expect_failure=True)
    assert unknown.contains('lists no certificate named nope')
