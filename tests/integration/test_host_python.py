"""Host-side modules on a host whose Python has cryptography and nothing else (README: Requirements).

The modules run the way Ansible runs them on a real host: an ansible-playbook task, local connection,
``ansible_python_interpreter`` set to ``.venv-host`` (a current cryptography only) or ``.venv-host-min``
(the oldest cryptography the modules claim; see testbed/host_python.py).
"""

from __future__ import annotations

import datetime
import json
import pathlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from testbed.host_python import host_min_python, host_python

NAME = 'host.example.test'


@pytest.fixture(scope='module', params=['current-cryptography', 'minimum-cryptography'])
def host_interpreter(request: pytest.FixtureRequest) -> pathlib.Path:
    return host_python() if request.param == 'current-cryptography' else host_min_python()


def play(interpreter: pathlib.Path, tasks: str) -> str:
    """A play on localhost whose modules run with `interpreter` (play vars beat the test inventory's)."""
    return f'- hosts: localhost\n  gather_facts: false\n  vars:\n    ansible_python_interpreter: {interpreter}\n  tasks:\n' + tasks


def self_signed(key_pem: bytes) -> str:
    """A certificate for NAME signed by its own key, standing in for one the CA issued."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode('ascii')


def test_host_modules_need_only_cryptography(run_playbook, host_interpreter, tmp_path):
    certs = tmp_path / 'certs'
    holder = {'run': 'test-host-python'}
    first = run_playbook(
        play(
            host_interpreter,
            f"""
    - name: Plan
      certforge.acme.acme_certificate_plan:
        cert_path: {certs}/cert.pem
        key_path: {certs}/key.pem
        identifiers: [{NAME}]
    - name: Account key
      certforge.acme.acme_account_key:
        path: {tmp_path}/account.key
    - name: Lock
      certforge.acme.acme_certificate_lock:
        paths: [{certs}/.acme_certificate.lock]
        holder: {json.dumps(holder)}
    - name: Unlock
      certforge.acme.acme_certificate_lock:
        paths: [{certs}/.acme_certificate.lock]
        holder: {json.dumps(holder)}
        state: absent
    - name: State files
      certforge.acme.acme_state_files:
        write:
          {tmp_path}/state.json: {{"order": "none"}}
""",
        )
    )
    plan = first['Plan']
    assert plan['needed'] is True and plan['csr'].startswith('-----BEGIN CERTIFICATE REQUEST-----')
    assert first['Account key']['changed'] is True and (tmp_path / 'account.key').exists()
    assert first['Lock']['changed'] is True and first['Unlock']['changed'] is True
    assert (tmp_path / 'state.json').exists()

    certificate = self_signed(pathlib.Path(plan['key_src']).read_bytes())
    second = run_playbook(
        play(
            host_interpreter,
            f"""
    - name: Deploy
      certforge.acme.acme_certificate_deploy:
        cert: {json.dumps(certificate)}
        cert_path: {certs}/cert.pem
        key_path: {certs}/key.pem
        key_src: {plan['key_src']}
    - name: Plan again
      certforge.acme.acme_certificate_plan:
        cert_path: {certs}/cert.pem
        key_path: {certs}/key.pem
        identifiers: [{NAME}]
""",
        )
    )
    assert second['Deploy']['changed'] is True
    assert (certs / 'cert.pem').read_text(encoding='ascii') == certificate
    assert second['Plan again']['needed'] is False


def test_dns_module_names_only_dnspython(run_playbook, host_interpreter):
    run = run_playbook(
        play(
            host_interpreter,
            """
    - name: Publish
      certforge.acme.acme_dns_rfc2136:
        server: 127.0.0.1
        records: {"_acme-challenge.host.example.test": ["token"]}
""",
        ),
        expect_failure=True,
    )
    message = run.failure_message('Publish')
    assert 'dnspython' in message and 'requests' not in message
    # Machine-readable, for the role's decision to install a missing library (tasks/main.yml).
    assert run['Publish']['missing_libraries'] == ['dnspython']
