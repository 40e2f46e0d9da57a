# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: failures first, then the soonest expiry; a host without results is not left out."""

from __future__ import annotations

from ansible_collections.certforge.acme.plugins.filter._fleet_report import fleet_report
from ansible_collections.certforge.acme.plugins.filter._fleet_report_markdown import fleet_report_markdown

NOW = '2026-12-01T00:00:00+00:00'


def result(name: str, not_after: str | None, **extra):
    return {
        'name': name,
        'action': 'none',
        'reason': 'fine',
        'changed': False,
        'identifiers': [f'{name}.example.com'],
        'not_after': not_after,
        'issuer': 'CN=Test CA',
        **extra,
    }


def test_failures_come_first_then_the_soonest_expiry():
    outcomes = {
        'a1': {'results': [result('late', '2027-03-01T00:00:00+00:00'), result('soon', '2026-12-10T12:00:00+00:00')], 'failure': ''},
        'b1': {'results': [result('broken', '2027-06-01T00:00:00+00:00', failed=True, failure='b1: broken: the CA said no')], 'failure': ''},
        'c1': {'results': [result('new', None, action='new')], 'failure': ''},
    }
    rows = fleet_report(['a1', 'b1', 'c1'], outcomes, NOW)
    assert [(row['host'], row['name']) for row in rows] == [('b1', 'broken'), ('c1', 'new'), ('a1', 'soon'), ('a1', 'late')]
    assert rows[0]['failure'] == 'b1: broken: the CA said no'
    assert rows[2]['days_left'] == 9 and rows[1]['days_left'] is None


def test_a_host_that_failed_before_exporting_results_gets_a_row_with_its_failure():
    outcomes = {
        'a1': {'results': [result('www', '2027-01-01T00:00:00+00:00')], 'failure': ''},
        'b1': {'results': None, 'failure': 'b1: the account could not be registered'},
        'c1': {},
    }
    rows = fleet_report(['a1', 'b1', 'c1'], outcomes, NOW)
    assert [(row['host'], row['failed']) for row in rows] == [('b1', True), ('c1', True), ('a1', False)]
    assert rows[0]['failure'] == 'b1: the account could not be registered'
    assert "before the role reported its certificates" in rows[1]['failure']


def test_markdown_keeps_the_order_and_escapes_cells():
    rows = fleet_report(['a1'], {'a1': {'results': [result('www', '2027-01-01T00:00:00+00:00', reason='a | b')], 'failure': ''}}, NOW)
    text = fleet_report_markdown(rows, NOW, True)
    table = [line for line in text.splitlines() if line.startswith('|')]
    assert table[0].startswith('| Host | Certificate |') and table[2].startswith('| a1 | www | www.example.com | CN=Test CA |')
    assert 'a \\| b' in table[2]
    assert 'check-mode run' in text
