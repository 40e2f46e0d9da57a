"""dns-01 delegated by CNAME, end to end through the role on every CA of the testbed.

The operator points ``_acme-challenge.<name>`` at ``<label>.validation.<zone>`` and gives the role a key
that may change only TXT records below ``validation.<zone>`` (tests/testbed/bind9.py). The role's RFC 2136
provider follows the alias, so the CA, which follows it too, finds the value; the same key would be
refused at ``_acme-challenge.<name>`` itself.
"""

from __future__ import annotations

import pathlib

import dns.name
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

from test_role_support import verify_fullchain
from testbed.acme_ca import AcmeCA
from testbed.ansible import PlaybookRunner

PLAYBOOK = pathlib.Path(__file__).resolve().parent / 'playbooks' / 'role_any_ca.yml'
RESULTS_TASK = 'Show what the role did'
DNS_TASK = 'certforge.acme.acme_certificate : Update the dns-01 TXT records on the primary name server ({{ acme_certificate_dns_state }})'


def test_dns01_follows_the_cname_to_the_validation_name(acme_ca: AcmeCA, tmp_path: pathlib.Path, collections_path: pathlib.Path) -> None:
    bind9 = acme_ca.dns
    identifier = acme_ca.unique_name('alias')
    alias = f'_acme-challenge.{identifier}'
    target = f'{identifier.split(".")[0]}.{bind9.validation_subdomain}'
    bind9.add_cname(alias, target)
    runner = PlaybookRunner(work_dir=tmp_path / 'ansible', collections_path=collections_path)
    root = tmp_path / 'host'
    variables = {
        'acme_certificate_directory': acme_ca.directory_url,
        'acme_certificate_ca_path': str(acme_ca.ca_path),
        'acme_certificate_state_dir': str(tmp_path / 'controller'),
        'acme_certificate_terms_agreed': True,
        'acme_certificate_account_email': 'hostmaster@acme.test',  # acme2certifier wants a contact
        'acme_certificate_dir': str(root),
        'acme_certificate_certificates': [{'name': 'alias', 'identifiers': [identifier], 'challenge': 'dns-01'}],
        'acme_certificate_rfc2136_server': '127.0.0.1',
        'acme_certificate_rfc2136_port': bind9.port,
        'acme_certificate_rfc2136_key_name': bind9.validation_key_name,
        'acme_certificate_rfc2136_key_secret': bind9.validation_key_secret,
        # The zone's NS name resolves to the address the CA uses, where BIND is reached through a relay on port 53.
        'acme_certificate_dns_nameservers': [f'127.0.0.1:{bind9.port}'],
        'acme_certificate_dns_propagation_timeout': 30,
    }
    try:
        run = runner.run(PLAYBOOK, extra_vars=variables)
        (record,) = run.outcome(RESULTS_TASK).result['acme_certificate_results']
        assert (record['action'], record['changed']) == ('new', True), record
        verify_fullchain((root / 'alias' / 'fullchain.pem').read_bytes(), root_pem=acme_ca.root_pem, names=[identifier])
        published, removed = [outcome for outcome in run.outcomes if outcome.action.endswith('acme_dns_rfc2136')]
        assert published.result['aliases'] == {alias: target}
        assert list(published.result['records']) == [target]
        assert removed.changed and removed.result['records'] == {target: []}
        assert bind9.query_txt(target) == []
        assert not run.contains(bind9.validation_key_secret)
    finally:
        bind9.delete_name(alias)


def test_the_narrow_key_is_refused_at_the_alias_itself(acme_ca: AcmeCA) -> None:
    """What makes the test above mean something: without following the alias, the key could not publish."""
    bind9 = acme_ca.dns
    keyring = dns.tsigkeyring.from_text({bind9.validation_key_name: (bind9.tsig_algorithm, bind9.validation_key_secret)})
    update = dns.update.UpdateMessage(bind9.zone, keyring=keyring, keyalgorithm=bind9.tsig_algorithm)
    update.add(dns.name.from_text(f'_acme-challenge.{acme_ca.unique_name("narrow")}'), 60, 'TXT', '"value"')
    assert dns.query.tcp(update, bind9.address, port=bind9.port, timeout=5).rcode() == dns.rcode.REFUSED
