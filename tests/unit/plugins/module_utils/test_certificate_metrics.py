# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's textfile-collector file: valid exposition format, each run updating only what it attempted."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils.certificate_metrics import Attempt, check_metrics_file, update_metrics_file
from testbed.prometheus_text import by_label, parse

EXPIRY = 'certforge_acme_certificate_expiry_timestamp_seconds'
RENEWAL = 'certforge_acme_certificate_last_renewal_timestamp_seconds'
ATTEMPT = 'certforge_acme_certificate_last_attempt_timestamp_seconds'
FAILED = 'certforge_acme_certificate_last_attempt_failed'


def test_a_renewal_then_a_failed_one_keep_the_expiry_and_the_renewal_time(tmp_path):
    path = str(tmp_path / 'acme.prom')
    assert update_metrics_file(path, attempts=[Attempt('www', False, 2000.0), Attempt('api', False, 3000.0)], now=1000.0)
    assert update_metrics_file(path, attempts=[Attempt('www', True, None)], now=1500.0)
    text = open(path, encoding='utf-8').read()
    assert by_label(text, 'certificate') == {
        'www': {EXPIRY: 2000.0, RENEWAL: 1000.0, ATTEMPT: 1500.0, FAILED: 1.0},
        'api': {EXPIRY: 3000.0, RENEWAL: 1000.0, ATTEMPT: 1000.0, FAILED: 0.0},
    }
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # node_exporter runs as another user


def test_a_first_attempt_that_failed_has_no_expiry_or_renewal_sample(tmp_path):
    path = str(tmp_path / 'acme.prom')
    update_metrics_file(path, attempts=[Attempt('www', True, None)], now=1000.0)
    assert by_label(open(path, encoding='utf-8').read(), 'certificate') == {'www': {ATTEMPT: 1000.0, FAILED: 1.0}}


def test_removing_the_last_certificate_removes_the_file(tmp_path):
    path = str(tmp_path / 'acme.prom')
    update_metrics_file(path, attempts=[Attempt('www', False, 2000.0), Attempt('api', False, 3000.0)], now=1000.0)
    assert update_metrics_file(path, remove=['www'], now=1100.0)
    assert list(by_label(open(path, encoding='utf-8').read(), 'certificate')) == ['api']
    assert update_metrics_file(path, remove=['api'], now=1200.0)
    assert not os.path.exists(path)
    assert not update_metrics_file(path, remove=['api'], now=1300.0)


def test_names_that_need_escaping_survive_a_second_run(tmp_path):
    path = str(tmp_path / 'acme.prom')
    odd = 'a "quoted"\\name'
    update_metrics_file(path, attempts=[Attempt(odd, False, 2000.0)], now=1000.0)
    update_metrics_file(path, attempts=[Attempt('www', False, 2000.0)], now=1100.0)
    text = open(path, encoding='utf-8').read()
    parse(text)
    assert set(by_label(text, 'certificate')) == {odd, 'www'}


def test_every_family_has_help_and_type_before_its_samples(tmp_path):
    path = str(tmp_path / 'acme.prom')
    update_metrics_file(path, attempts=[Attempt('www', False, 2000.0)], now=1000.0)
    families = parse(open(path, encoding='utf-8').read())
    assert set(families) == {EXPIRY, RENEWAL, ATTEMPT, FAILED}


@pytest.mark.parametrize(
    'name, message',
    [
        ('metrics.txt', r'reads only files named \*\.prom'),
        ('missing/acme.prom', 'is not a directory'),
    ],
)
def test_a_path_the_collector_would_never_read_is_refused(tmp_path, name, message):
    with pytest.raises(ConfigurationError, match=message) as raised:
        check_metrics_file(str(tmp_path / name), option='metrics_file')
    assert str(raised.value).startswith('metrics_file: ')
