"""The bench's own arithmetic: what counts as a module run, the ratios the targets state, import-time parsing.

No bench number is asserted here (timing is never asserted); only how bench/ turns raw records into numbers.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

BENCH_DIR = pathlib.Path(__file__).resolve().parents[3] / 'bench'


def load(name: str, path: pathlib.Path) -> ModuleType:
    """Import a bench file by path (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f'bench_{name}', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


timing = load('timing', BENCH_DIR / 'callback_plugins' / 'bench_timing.py')
report = load('report', BENCH_DIR / 'report.py')
importtime = load('importtime', BENCH_DIR / 'importtime.py')


def test_a_loop_counts_its_items_that_ran_on_the_host() -> None:
    result = {'results': [{'changed': True}, {'skipped': True}, {'changed': False}]}
    assert timing.classify(action='certforge.acme.acme_certificate_plan', skipped=False, delegated=False, result=result) == {'host_module_runs': 2}


def test_a_delegated_module_runs_on_the_controller() -> None:
    assert timing.classify(action='certforge.acme.acme_order', skipped=False, delegated=True, result={'changed': True}) == {'controller_module_runs': 1}


def test_skipped_tasks_and_controller_actions_are_controller_only_executions() -> None:
    assert timing.classify(action='copy', skipped=True, delegated=False, result={}) == {'controller_only_executions': 1}
    assert timing.classify(action='set_fact', skipped=False, delegated=False, result={'results': [{}, {}]}) == {'controller_only_executions': 1}


def fleet_record(run: str, **numbers: float) -> dict[str, object]:
    record: dict[str, object] = {
        'setting': 'fleet',
        'hosts': 10,
        'run': run,
        'seconds': 1.0,
        'cpu_seconds': 0.0,
        'requests': 0,
        'host_module_runs': 0,
        'controller_module_runs': 0,
        'controller_only_executions': 0,
        'controller_peak_rss_kib': 0,
    }
    record.update(numbers)
    return record


def test_fleet_ratios_are_per_host_and_medians_over_rounds() -> None:
    medians = report.fleet_medians(
        [
            fleet_record(report.FIRST, cpu_seconds=40.0, requests=80, host_module_runs=30, controller_peak_rss_kib=102400),
            fleet_record(report.FIRST, cpu_seconds=60.0, requests=80, host_module_runs=30, controller_peak_rss_kib=102400),
            fleet_record(report.FIRST, cpu_seconds=50.0, requests=90, host_module_runs=30, controller_peak_rss_kib=102400),
        ]
    )[('fleet', 10, report.FIRST)]
    assert (medians['cpu_per_host'], medians['requests_per_certificate']) == (5.0, 8.0)
    assert (medians['host_module_runs_per_host'], medians['peak_rss_mib'], medians['rounds']) == (3.0, 100.0, 3)


def test_the_summary_compares_fleet_50_with_fleet_10() -> None:
    records = [fleet_record(report.FIRST, cpu_seconds=50.0), fleet_record(report.FIRST, hosts=50, cpu_seconds=300.0)]
    rows = {row[0]: row[2] for row in report.key_numbers({'fleet_measurements': records})}
    assert rows['fleet 50 / fleet 10, first run: CPU-s'] == '6.00x'
    assert rows['fleet 50, first run: CPU-s per host-certificate'] == '6.00'


IMPORTTIME_OUTPUT = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   json.decoder
import time:       200 |        300 | json
import time:      1000 |      50000 | ansible.module_utils.basic
import time:       500 |        500 |     cryptography.utils
import time:      2000 |       2500 |   cryptography
import time:       300 |       2800 | ansible_collections.certforge.acme.plugins.modules.acme_certificate_plan
import time:      4000 |       4000 | requests
"""


def test_importtime_counts_only_what_comes_after_basic() -> None:
    basic, added, by_package = importtime.added_microseconds(importtime.parse_importtime(IMPORTTIME_OUTPUT))
    assert (basic, added) == (50000, 6800)
    assert by_package == {'requests': 4000, 'cryptography': 2500, 'ansible_collections': 300}


def test_the_before_after_table_keeps_measures_only_one_side_has() -> None:
    results = {
        'started': '2026-12-01T00:00',
        'command': 'bench/run.py',
        'versions': {},
        'machine': {'cpus': 2, 'memory_gib': 1, 'platform': 'x', 'load_min': 0, 'load_median': 0, 'load_max': 0},
    }
    before = dict(results, fleet_measurements=[fleet_record(report.FIRST, cpu_seconds=60.0)])
    after = dict(results, import_times=[{'module': 'acme_http01_files', 'basic_ms': 50.0, 'added_ms': 1.0, 'loads_requests': False, 'heaviest': {}}])
    text = report.markdown_report(after, before=before)
    assert '| fleet 10, first run: CPU-s per host-certificate' in text and '| 6.00   | -     |' in text
    assert 'acme_http01_files (ms)' in text
