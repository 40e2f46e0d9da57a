"""acme_dns_rfc2136 against the real BIND 9 of the testbed, run as a user runs it: through ansible-playbook.

Every test works on its own ``_acme-challenge.<random>`` names, so the zone the pebbles resolve
through stays as it was, and BIND's log tells whether an update for a name was ever sent.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testbed.ansible import PlaybookRun
from testbed.bind9 import Bind9Server
from testbed.ports import free_port

RunPlaybook = Callable[..., PlaybookRun]
MODULE = 'certforge.acme.acme_dns_rfc2136'
TRACEBACK = 'Traceback (most recent call last)'


def challenge_name(bind9: Bind9Server, label: str) -> str:
    return f'_acme-challenge.{label}-{secrets.token_hex(4)}.{bind9.zone}'


def token() -> str:
    """A value shaped like a dns-01 key authorization digest."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode('ascii').rstrip('=')


def serial(bind9: Bind9Server) -> int:
    return int(bind9.query(bind9.zone, 'SOA')[0].split()[2])


def update_logged(bind9: Bind9Server, name: str) -> bool:
    """Whether named logged an update touching ``name`` (it logs every added or deleted record)."""
    return name in bind9.log_path.read_text(encoding='utf-8', errors='replace')


class DnsSteps:
    """Runs one playbook whose tasks are module runs, with the testbed's BIND and key unless a step says otherwise.

    The arguments are written into the playbook as literal values (JSON is YAML), so nothing
    but the module itself can print them; ``None`` leaves an option out.
    """

    def __init__(self, run_playbook: RunPlaybook, bind9: Bind9Server) -> None:
        self.run_playbook = run_playbook
        self.bind9 = bind9

    def __call__(
        self, *steps: dict[str, Any], check: bool = False, diff: bool = False, verbosity: int = 0, expect_failure: bool = False
    ) -> tuple[PlaybookRun, list[dict[str, Any]]]:
        tasks = []
        for number, step in enumerate(steps, start=1):
            options = dict(step)
            task: dict[str, Any] = {'name': f'Step {number}'}
            if options.pop('fails', False):
                task['ignore_errors'] = True
            if options.pop('check_mode', False):
                task['check_mode'] = True
            arguments = {
                'server': '127.0.0.1',
                'port': self.bind9.port,
                'key_name': self.bind9.tsig_key_name,
                'key_secret': self.bind9.tsig_secret,
                'timeout': 2,
                **options,
            }
            task[MODULE] = {option: value for option, value in arguments.items() if value is not None}
            tasks.append(task)
        play = [{'name': 'Publish or remove dns-01 records', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
        run = self.run_playbook(json.dumps(play, indent=1) + '\n', check=check, diff=diff, verbosity=verbosity, expect_failure=expect_failure)
        return run, [run[f'Step {number}'] for number in range(1, len(steps) + 1)]


@pytest.fixture
def dns_steps(run_playbook: RunPlaybook, bind9: Bind9Server) -> DnsSteps:
    return DnsSteps(run_playbook, bind9)


@pytest.fixture(scope='module')
def lagging_bind9(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind9Server]:
    """A second server for the same zone that never hears of the updates: a secondary that lags forever."""
    server = Bind9Server(tmp_path_factory.mktemp('bind9-lagging'))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_present_and_absent_flow(dns_steps: DnsSteps, bind9: Bind9Server) -> None:
    name = challenge_name(bind9, 'flow')
    first, second, third = token(), token(), token()
    serial_before = serial(bind9)

    _run, (checked,) = dns_steps({'records': {name: [first, second]}}, check=True)
    assert checked['changed']
    assert checked['records'] == {name: sorted([first, second])}
    assert checked['nameservers'] == []
    assert bind9.query_txt(name) == []
    assert serial(bind9) == serial_before and not update_logged(bind9, name)

    # -vvv shows the module's arguments; the secret must not be among them.
    run, (created, again) = dns_steps({'records': {name: [first, second]}}, {'records': {name + '.': [second, first]}}, verbosity=3)
    assert not run.contains(bind9.tsig_secret)
    assert created['changed']
    assert created['zone'] == bind9.zone and created['zones'] == [bind9.zone]
    assert created['records'] == {name: sorted([first, second])}
    # The zone's NS is ns.acme.test, which the wildcard sends to 127.0.0.1; it is asked on `port`.
    assert created['nameservers'] == [f'127.0.0.1:{bind9.port}']
    assert not again['changed']
    assert again['nameservers'] == [f'127.0.0.1:{bind9.port}']
    assert sorted(bind9.query_txt(name)) == sorted([first, second])
    serial_settled = serial(bind9)

    # Another host's order adds its value at the same name; plain present leaves ours in place.
    _run, (added,) = dns_steps({'records': {name: [third]}})
    assert added['changed'] and sorted(bind9.query_txt(name)) == sorted([first, second, third])

    _run, (replaced,) = dns_steps({'records': {name: [second, third]}, 'exclusive': True}, diff=True)
    assert replaced['changed']
    assert replaced['diff'] == {'before': {name: sorted([first, second, third])}, 'after': {name: sorted([second, third])}}
    assert sorted(bind9.query_txt(name)) == sorted([second, third])
    assert serial(bind9) > serial_settled

    # Another order for the same name publishes its own value meanwhile; absent must leave it.
    # The second step still finding the values to delete shows that check mode sent nothing.
    bind9.add_txt(name, 'other-order', ttl=60)
    absent = {'records': {name: [second, third]}, 'state': 'absent'}
    _run, (check_absent, removed, removed_again) = dns_steps({**absent, 'check_mode': True}, absent, absent)
    assert check_absent['changed'] and check_absent['records'] == {name: ['other-order']}
    assert removed['changed']
    assert removed['records'] == {name: ['other-order']}
    assert removed['nameservers'] == []
    assert not removed_again['changed']
    assert bind9.query_txt(name) == ['other-order']
    bind9.delete_txt(name)


def test_given_zone_and_nameservers(dns_steps: DnsSteps, bind9: Bind9Server) -> None:
    name = challenge_name(bind9, 'given')
    value = token()
    _run, (published, removed) = dns_steps(
        {'records': {name + '.': [value]}, 'zone': bind9.zone + '.', 'nameservers': [f'127.0.0.1:{bind9.port}']},
        {'records': {name: [value]}, 'zone': bind9.zone, 'state': 'absent'},
    )
    assert published['changed'] and published['zone'] == bind9.zone
    assert published['records'] == {name: [value]}
    # Returning at all means 127.0.0.1:port answered the value when asked directly.
    assert published['nameservers'] == [f'127.0.0.1:{bind9.port}']
    assert removed['changed'] and removed['records'] == {name: []}
    assert bind9.query_txt(name) == []


def test_propagation_timeout_names_the_servers_that_lack_the_record(dns_steps: DnsSteps, bind9: Bind9Server, lagging_bind9: Bind9Server) -> None:
    name = challenge_name(bind9, 'lagging')
    closed_port = free_port()
    nameservers = [f'127.0.0.1:{bind9.port}', f'127.0.0.1:{lagging_bind9.port}', f'127.0.0.1:{closed_port}']
    started = time.monotonic()
    run, (result,) = dns_steps({'records': {name: [token()]}, 'nameservers': nameservers, 'propagation_timeout': 3}, expect_failure=True)
    elapsed = time.monotonic() - started
    message = result['msg']
    assert result['changed'], 'the update was sent before the wait, and the failure must say so'
    assert message.startswith('propagation_timeout: after 3 seconds, not every name server serves the records: ')
    assert f'127.0.0.1:{lagging_bind9.port} lacks {name} (1 of 1 values missing)' in message
    assert f'127.0.0.1:{closed_port}: Connection refused' in message
    assert f'127.0.0.1:{bind9.port}' not in message
    assert '\n' not in message and not run.contains(TRACEBACK)
    # 3 seconds of waiting plus one ansible-playbook start; a fixed sleep or a stuck query would show.
    assert 3 <= elapsed < 15
    bind9.delete_txt(name)


def test_wait_ends_at_the_deadline(bind9: Bind9Server, lagging_bind9: Bind9Server) -> None:
    """The wait itself, timed without Ansible around it: it ends at propagation_timeout, not later."""
    from ansible_collections.certforge.acme.plugins.module_utils import dns_rfc2136  # pylint: disable=import-outside-toplevel

    name = dns_rfc2136.parse_name(challenge_name(bind9, 'deadline'), option='records')
    targets = [(dns_rfc2136.Nameserver(address='127.0.0.1', port=lagging_bind9.port), {name: ['never-there']})]
    started = time.monotonic()
    with pytest.raises(dns_rfc2136.DnsError, match='lacks'):
        dns_rfc2136.wait_for_propagation(targets, timeout=1.5, query_timeout=10, sleep=time.sleep, clock=time.monotonic)
    assert 1.5 <= time.monotonic() - started < 2.0


def test_errors_name_the_option_and_never_show_the_secret(dns_steps: DnsSteps, bind9: Bind9Server) -> None:
    names = [challenge_name(bind9, label) for label in ('badsig', 'badkey', 'base64', 'unsigned')]
    wrong_secret = base64.b64encode(secrets.token_bytes(32)).decode('ascii')
    closed_port = free_port()
    run, results = dns_steps(
        {'records': {names[0]: [token()]}, 'key_secret': wrong_secret, 'fails': True},
        {'records': {names[1]: [token()]}, 'key_name': 'nobody', 'fails': True},
        {'records': {names[2]: [token()]}, 'key_secret': 'not*base64!', 'fails': True},
        {'records': {names[3]: [token()]}, 'key_name': None, 'key_secret': None, 'fails': True},
        {'records': {'_acme-challenge.www.acme.test': [token()]}, 'port': closed_port, 'fails': True},
        {'records': {'_acme-challenge.www.example.invalid': [token()]}, 'fails': True},
        verbosity=3,
    )
    assert [run.outcome(f'Step {number}').failed for number in range(1, 7)] == [True] * 6
    wrong_secret_result, unknown_key, invalid_base64, unsigned, unreachable, no_zone = (result['msg'] for result in results)
    assert wrong_secret_result.startswith(f'key_name/key_secret rejected by the server 127.0.0.1:{bind9.port} (BADSIG')
    assert unknown_key.startswith(f'key_name/key_secret rejected by the server 127.0.0.1:{bind9.port} (BADKEY')
    assert invalid_base64 == 'key_secret: is not valid base64; give the secret exactly as tsig-keygen printed it'
    assert unsigned.startswith(f'key_name: 127.0.0.1:{bind9.port} refused the unsigned update of zone {bind9.zone} (REFUSED)')
    assert unreachable == f'server: cannot reach 127.0.0.1:{closed_port}: Connection refused; check server and port'
    assert no_zone.startswith(f'zone: 127.0.0.1:{bind9.port} is authoritative for no zone that contains _acme-challenge.www.example.invalid;')
    for secret in (wrong_secret, 'not*base64!', bind9.tsig_secret):
        assert not run.contains(secret)
    assert not run.contains(TRACEBACK)
    # The wrong key failed on the first query, before any update; the refused one changed nothing.
    assert not update_logged(bind9, names[0])
    assert [bind9.query_txt(name) for name in names] == [[], [], [], []]


def test_role_provider_task_file(run_playbook: RunPlaybook, bind9: Bind9Server) -> None:
    """The role's dns-rfc2136.yml with the role's defaults, as issue.yml includes it for present and absent."""
    name = challenge_name(bind9, 'role')
    value = token()
    playbook = '''\
- name: The role's RFC 2136 provider
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Publish
      ansible.builtin.include_role:
        name: certforge.acme.acme_certificate
        tasks_from: dns-rfc2136.yml
      vars:
        acme_certificate_dns_state: present
    - name: Remove
      ansible.builtin.include_role:
        name: certforge.acme.acme_certificate
        tasks_from: dns-rfc2136.yml
      vars:
        acme_certificate_dns_state: absent
'''
    extra_vars = {
        'acme_certificate_rfc2136_server': '127.0.0.1',
        'acme_certificate_rfc2136_port': bind9.port,
        'acme_certificate_rfc2136_key_name': bind9.tsig_key_name,
        'acme_certificate_rfc2136_key_secret': bind9.tsig_secret,
        'acme_certificate_dns_records': {name: [value]},
        'acme_certificate_dns_propagation_timeout': 10,
    }
    run = run_playbook(playbook, extra_vars=extra_vars)
    published, removed = [outcome for outcome in run.outcomes if outcome.action.endswith('acme_dns_rfc2136')]
    assert published.changed and published.result['records'] == {name: [value]}
    assert published.result['nameservers'] == [f'127.0.0.1:{bind9.port}']
    assert removed.changed and removed.result['records'] == {name: []}
    assert bind9.query_txt(name) == []
    assert not run.contains(bind9.tsig_secret)


def test_follow_cname_publishes_in_the_validation_zone_with_its_own_key(dns_steps: DnsSteps, bind9: Bind9Server) -> None:
    """`_acme-challenge.<name>` delegated by CNAME to a zone whose key may update nothing else, as operators keep credentials narrow."""
    name = challenge_name(bind9, 'alias')
    target = f'{name.split(".")[1]}.{bind9.validation_zone}'
    bind9.add_cname(name, target)
    value = token()
    narrow_key = {'key_name': bind9.validation_key_name, 'key_secret': bind9.validation_key_secret}
    try:
        run, (published, removed, refused) = dns_steps(
            {'records': {name: [value]}, **narrow_key},
            {'records': {name: [value]}, 'state': 'absent', **narrow_key},
            {'records': {name: [value]}, 'follow_cname': False, 'fails': True, **narrow_key},
        )
        assert published['changed']
        assert published['aliases'] == {name: target}
        assert published['zone'] == bind9.validation_zone and published['records'] == {target: [value]}
        # The wait asked the validation zone's name server for the target.
        assert published['nameservers'] == [f'127.0.0.1:{bind9.port}']
        assert removed['changed'] and removed['records'] == {target: []}
        assert refused['msg'] == f'records: {name} is an alias (CNAME) of {target}; set follow_cname to true, or give {target} as the record name'
        assert not run.contains(bind9.validation_key_secret)
    finally:
        bind9.delete_name(name)


def test_the_ca_finds_the_value_through_the_alias(dns_steps: DnsSteps, bind9: Bind9Server) -> None:
    """What a resolver asking BIND sees: the alias and, behind it, the value published at the target in the same zone."""
    name = challenge_name(bind9, 'seen')
    target = f'{name.split(".")[1]}.{bind9.validation_subdomain}'
    bind9.add_cname(name, target)
    narrow_key = {'key_name': bind9.validation_key_name, 'key_secret': bind9.validation_key_secret}
    value = token()
    try:
        dns_steps({'records': {name: [value]}, **narrow_key})
        assert bind9.query(name, 'CNAME') == [target + '.']
        # Asked for the TXT record at the alias, BIND answers the alias and the value behind it.
        assert bind9.query_txt(name) == [value]
        assert bind9.query_txt(target) == [value]
    finally:
        dns_steps({'records': {name: [value]}, 'state': 'absent', **narrow_key})
        bind9.delete_name(name)
