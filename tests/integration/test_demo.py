"""The README's main job: playbooks/demo.yml issues and deploys a certificate from its embedded test CA."""

from __future__ import annotations

import pathlib

from cryptography import x509

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_demo_issues_a_certificate_from_the_embedded_ca_and_stops_it(run_playbook, tmp_path):
    demo_dir = tmp_path / 'demo'
    run = run_playbook(REPO / 'playbooks' / 'demo.yml', extra_vars={'demo_dir': str(demo_dir)})
    fullchain = demo_dir / 'ssl' / 'demo' / 'fullchain.pem'
    leaf = x509.load_pem_x509_certificate(fullchain.read_bytes())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert 'localhost' in names
    assert (demo_dir / 'ssl' / 'demo' / 'privkey.pem').stat().st_mode & 0o777 == 0o600
    assert str(fullchain) in run.stdout and 'expires: ' in run.stdout
    assert not (demo_dir / 'ca' / 'state.json').exists(), 'the embedded CA is stopped after the run'

    again = run_playbook(REPO / 'playbooks' / 'demo.yml', extra_vars={'demo_dir': str(demo_dir)})
    assert 'demo: none (valid until' in again.stdout, 'a second run finds the certificate in place'
