"""The tables of bench/run.py's fleets, settings and import times, and the Markdown report.

Everything here works on the raw numbers as written to bench/results/<timestamp>-<pid>.json (plain dicts),
so that an earlier run's file can be shown beside a new one: BEFORE and AFTER.
"""

from __future__ import annotations

import collections
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FIRST, NOOP = 'first run', 'no-op run'
ONE, TEN = '1 name', '10 names'


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table with aligned columns."""
    rows = [tuple(header)] + [tuple(row) for row in rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ['| ' + ' | '.join(cell.ljust(width) for cell, width in zip(row, widths)) + ' |' for row in rows]
    lines.insert(1, '|' + '|'.join('-' * (width + 2) for width in widths) + '|')
    return '\n'.join(lines)


def fleet_medians(measurements: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int, str], dict[str, float]]:
    """(setting, hosts, run) -> medians over the rounds of every number, with the per-host ratios."""
    groups: dict[tuple[str, int, str], list[Mapping[str, Any]]] = collections.defaultdict(list)
    for measurement in measurements:
        groups[measurement['setting'], measurement['hosts'], measurement['run']].append(measurement)
    medians = {}
    for key, group in groups.items():
        hosts = key[1]
        numbers = {
            field: float(statistics.median(m[field] or 0 for m in group))
            for field in (
                'seconds',
                'cpu_seconds',
                'requests',
                'host_module_runs',
                'controller_module_runs',
                'controller_only_executions',
                'controller_peak_rss_kib',
            )
        }
        numbers.update(
            {
                'rounds': len(group),
                'cpu_per_host': numbers['cpu_seconds'] / hosts,
                'requests_per_certificate': numbers['requests'] / hosts,
                'host_module_runs_per_host': numbers['host_module_runs'] / hosts,
                'controller_only_per_host': numbers['controller_only_executions'] / hosts,
                'peak_rss_mib': numbers['controller_peak_rss_kib'] / 1024,
            }
        )
        medians[key] = numbers
    return medians


def fleet_table(measurements: Iterable[Mapping[str, Any]], setting: str) -> str:
    """One row per fleet size and run of the fleet setting."""
    medians = fleet_medians(measurements)
    rows = []
    for (key, hosts, run), numbers in sorted(medians.items(), key=lambda item: (item[0][1], item[0][2])):
        if key != setting:
            continue
        rows.append(
            (
                str(hosts),
                run,
                f'{numbers["seconds"]:.1f}',
                f'{numbers["cpu_seconds"]:.1f}',
                f'{numbers["cpu_per_host"]:.2f}',
                f'{numbers["requests"]:.0f}',
                f'{numbers["requests_per_certificate"]:.1f}',
                f'{numbers["host_module_runs_per_host"]:.1f}',
                f'{numbers["controller_module_runs"]:.0f}',
                f'{numbers["controller_only_per_host"]:.1f}',
                f'{numbers["peak_rss_mib"]:.0f}',
            )
        )
    return markdown_table(
        (
            'hosts',
            'run',
            'wall s',
            'CPU-s',
            'CPU-s / host-cert',
            'requests',
            'requests / cert',
            'host module runs / host',
            'controller module runs',
            'controller-only / host',
            'controller peak RSS MiB',
        ),
        rows,
    )


def settings_table(
    measurements: Iterable[Mapping[str, Any]], settings: Sequence[Any], hosts: int, notes: Mapping[str, str], labels: Mapping[str, str] | None = None
) -> str:
    """One row per setting: first and no-op run, wall and CPU, relative to the fleet setting."""
    medians = fleet_medians(measurements)
    keys = [setting.key if hasattr(setting, 'key') else setting for setting in settings]
    labels = labels or {setting.key: setting.label for setting in settings if hasattr(setting, 'label')}
    base = {run: medians.get((keys[0], hosts, run)) for run in (FIRST, NOOP)}
    rows = []
    for key in keys:
        if key in notes and not any((key, hosts, run) in medians for run in (FIRST, NOOP)):
            rows.append((labels.get(key, key), 'not measured: ' + notes[key][:200], '', '', '', '', ''))
            continue
        cells = [labels.get(key, key)]
        for run in (FIRST, NOOP):
            numbers = medians.get((key, hosts, run))
            if numbers is None:
                cells += ['-', '-']
                continue
            reference = base[run]
            relative = f' ({numbers["cpu_seconds"] / reference["cpu_seconds"]:.2f}x)' if reference else ''
            wall_relative = f' ({numbers["seconds"] / reference["seconds"]:.2f}x)' if reference else ''
            cells += [f'{numbers["seconds"]:.1f}{wall_relative}', f'{numbers["cpu_seconds"]:.1f}{relative}']
        first = medians.get((key, hosts, FIRST))
        cells += [f'{first["peak_rss_mib"]:.0f}' if first else '-', f'{first["requests"]:.0f}' if first else '-']
        rows.append(tuple(cells))
    return markdown_table(('setting', 'first: wall s', 'first: CPU-s', 'no-op: wall s', 'no-op: CPU-s', 'peak RSS MiB (first)', 'requests (first)'), rows)


def import_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """One row per host-side module."""
    return markdown_table(
        ('module', 'ansible.module_utils.basic ms', 'module adds ms', 'loads requests', 'heaviest packages ms'),
        (
            (
                row['module'],
                f'{row["basic_ms"]:.0f}',
                f'{row["added_ms"]:.0f}',
                'yes' if row['loads_requests'] else 'no',
                ', '.join(f'{name} {cost:.0f}' for name, cost in row['heaviest'].items()),
            )
            for row in rows
        ),
    )


# --- the before/after summary ----------------------------------------------------------------------


def _case(results: Mapping[str, Any], client: str, scenario: str) -> Mapping[str, Any] | None:
    return next((m for m in results.get('medians', []) if m['client'] == client and m['scenario'] == scenario), None)


def _last_measurement(results: Mapping[str, Any], client: str, scenario: str) -> Mapping[str, Any] | None:
    found = [m for m in results.get('measurements', []) if m['client'] == client and m['scenario'] == scenario]
    return found[-1] if found else None


def _ratio(ours: Mapping[str, Any] | None, theirs: Mapping[str, Any] | None, field: str) -> str:
    if ours is None or theirs is None or not theirs[field]:
        return '-'
    return f'{ours[field] / theirs[field]:.2f}x'


def _count(measurement: Mapping[str, Any] | None, field: str) -> str:
    value = measurement.get(field) if measurement else None
    return '-' if value is None else str(value)


def key_numbers(results: Mapping[str, Any]) -> list[tuple[str, str, str]]:  # pylint: disable=too-many-locals
    """(what, target, value) for every target of issue 10 that these results measure."""
    rows: list[tuple[str, str, str]] = []
    for scenario, requests_target in ((ONE, 16), (TEN, 45)):
        modules = _case(results, 'modules', scenario)
        split, two_step = _case(results, 'cc-split', scenario), _case(results, 'community.crypto', scenario)
        rows += [
            (f'module flow, {scenario}: CPU-s vs c.c split modules', '≤ 0.4x', _ratio(modules, split, 'cpu_seconds')),
            (f'module flow, {scenario}: wall vs c.c split modules (busy machine)', '≤ 0.4x', _ratio(modules, split, 'seconds')),
            (f'module flow, {scenario}: CPU-s vs c.c two-step', '≤ 0.6x', _ratio(modules, two_step, 'cpu_seconds')),
            (f'module flow, {scenario}: CA requests', f'≤ {requests_target}', f'{modules["requests"]:.0f}' if modules else '-'),
        ]
    role, two_step = _case(results, 'role', ONE), _case(results, 'community.crypto', ONE)
    role_noop = _case(results, 'role', 'no-op re-run')
    role_run, role_noop_run = _last_measurement(results, 'role', ONE), _last_measurement(results, 'role', 'no-op re-run')
    rows += [
        ('role first run, 1 host: CPU-s vs c.c two-step', '≤ 1.0x', _ratio(role, two_step, 'cpu_seconds')),
        ('role first run, 1 host: wall vs c.c two-step (busy machine)', '≤ 1.0x', _ratio(role, two_step, 'seconds')),
        ('role first run, 1 host: host module runs', '≤ 3', _count(role_run, 'host_module_runs')),
        ('role no-op run, 1 host: host module runs', '= 1', _count(role_noop_run, 'host_module_runs')),
        ('role no-op run, 1 host: CPU-s', '≤ 1', f'{role_noop["cpu_seconds"]:.2f}' if role_noop else '-'),
    ]
    medians = fleet_medians(results.get('fleet_measurements', []))
    sizes = sorted({key[1] for key in medians if key[0] == 'fleet'})
    for hosts in sizes:
        first, noop = medians.get(('fleet', hosts, FIRST)), medians.get(('fleet', hosts, NOOP))
        if first:
            rows += [
                (f'fleet {hosts}, first run: CPU-s per host-certificate', '≤ 4', f'{first["cpu_per_host"]:.2f}'),
                (f'fleet {hosts}, first run: CA requests per certificate', '≤ 10', f'{first["requests_per_certificate"]:.1f}'),
                (f'fleet {hosts}, first run: host module runs per host', '≤ 3', f'{first["host_module_runs_per_host"]:.1f}'),
                (f'fleet {hosts}, first run: wall s (busy machine)', '-', f'{first["seconds"]:.1f}'),
            ]
        if noop:
            rows += [
                (f'fleet {hosts}, no-op run: CPU-s per host', '≤ 1', f'{noop["cpu_per_host"]:.2f}'),
                (f'fleet {hosts}, no-op run: host module runs per host', '= 1', f'{noop["host_module_runs_per_host"]:.1f}'),
                (f'fleet {hosts}, no-op run: controller-only task executions per host', '≤ 3', f'{noop["controller_only_per_host"]:.1f}'),
                (f'fleet {hosts}, no-op run: CA requests', '0 (ARI aside)', f'{noop["requests"]:.0f}'),
                (f'fleet {hosts}, no-op run: wall s (busy machine)', '-', f'{noop["seconds"]:.1f}'),
            ]
        if first:
            rows.append((f'fleet {hosts}, first run: controller peak RSS MiB', 'flat in hosts', f'{first["peak_rss_mib"]:.0f}'))
    for run in (FIRST, NOOP):
        big, small = medians.get(('fleet', 50, run)), medians.get(('fleet', 10, run))
        if big and small:
            rows += [
                (f'fleet 50 / fleet 10, {run}: CPU-s', '≤ 5x', f'{big["cpu_seconds"] / small["cpu_seconds"]:.2f}x'),
                (f'fleet 50 / fleet 10, {run}: wall (busy machine)', '≤ 5x', f'{big["seconds"] / small["seconds"]:.2f}x'),
            ]
    for row in results.get('import_times', []):
        rows.append((f'import beyond ansible.module_utils.basic: {row["module"]} (ms)', '≤ 100', f'{row["added_ms"]:.0f}'))
    return rows


def markdown_report(results: Mapping[str, Any], *, before: Mapping[str, Any] | None = None) -> str:
    """The targets with BEFORE (when given) and this run's numbers, then every table of this run."""
    ours = key_numbers(results)
    lines = [f'# bench/run.py results, {results["started"][:16]} UTC', '', f'Command: `.venv/bin/python {results["command"]}`', '']
    machine, versions = results['machine'], results['versions']
    lines += [
        f'Machine: {machine["cpus"]} CPUs, {machine["memory_gib"]} GiB, {machine["platform"]}; 1-minute load '
        f'{machine["load_min"]:.1f} to {machine["load_max"]:.1f} (median {machine["load_median"]:.1f}): '
        'wall times from a loaded machine are only comparable within one run; CPU-seconds and request counts are what to trust.',
        '',
        'Versions: ' + ', '.join(f'{name} {value}' for name, value in versions.items() if value),
        '',
    ]
    if before is not None:
        # Every measure either run has, in the order of BEFORE's rows, then those only AFTER has.
        previous = {what: (target, value) for what, target, value in key_numbers(before)}
        current = {what: (target, value) for what, target, value in ours}
        order = list(previous) + [what for what in current if what not in previous]
        lines.append(
            markdown_table(
                ('measure', 'target', 'BEFORE', 'AFTER'),
                ((what, (current.get(what) or previous[what])[0], previous.get(what, ('', '-'))[1], current.get(what, ('', '-'))[1]) for what in order),
            )
        )
        lines += [
            '',
            f'BEFORE: `{before.get("command", "?")}` at {before["started"][:16]} UTC, commit {before["versions"].get("certforge.acme commit", "?")}.',
            '',
        ]
    else:
        lines.append(markdown_table(('measure', 'target', 'value'), ours))
        lines.append('')
    if results.get('fleet_measurements'):
        lines += ['## Fleets', '', fleet_table(results['fleet_measurements'], 'fleet'), '']
        labels = results.get('setting_labels', {})
        keys = [key for key in labels if any(m['setting'] == key for m in results['fleet_measurements']) or key in results.get('setting_notes', {})]
        if len(keys) > 1:
            lines += [
                f'## Settings, fleet of {results["settings_hosts"]} (ratios to the first row)',
                '',
                settings_table(results['fleet_measurements'], keys, results['settings_hosts'], results.get('setting_notes', {}), labels),
                '',
            ]
    if results.get('import_times'):
        lines += ['## Import time of the host-side modules', '', import_table(results['import_times']), '']
    return '\n'.join(lines)


def merge_results(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One results record from runs of separate sections (e.g. cases, fleets and settings run side by side)."""
    merged: dict[str, Any] = {
        'started': min(part['started'] for part in parts),
        'finished': max(part['finished'] for part in parts),
        'command': ' ; '.join(part['command'] for part in parts),
        'medians': [],
        'measurements': [],
        'fleet_measurements': [],
        'setting_notes': {},
        'import_times': [],
        'setting_labels': {},
        'settings_hosts': parts[0].get('settings_hosts', 10),
    }
    for part in parts:
        for field in ('medians', 'measurements', 'fleet_measurements'):
            merged[field] += part.get(field, [])
        merged['setting_notes'].update(part.get('setting_notes', {}))
        merged['setting_labels'].update(part.get('setting_labels', {}))
        merged['import_times'] = merged['import_times'] or part.get('import_times', [])
    machines = [part['machine'] for part in parts]
    merged['machine'] = dict(
        machines[0],
        load_min=min(m['load_min'] for m in machines),
        load_max=max(m['load_max'] for m in machines),
        load_median=statistics.median(m['load_median'] for m in machines),
    )
    merged['versions'] = next((part['versions'] for part in parts if part['versions'].get('peers')), parts[0]['versions'])
    merged['runs'] = max(part.get('runs', 0) for part in parts)
    return merged
