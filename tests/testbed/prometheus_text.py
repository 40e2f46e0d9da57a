"""A strict reader of the Prometheus text exposition format (0.0.4), as node_exporter's textfile collector
reads it: the tests check the role's metrics file with it instead of trusting the writer's own parser.

It refuses what the collector would refuse or misread: a sample before its family's TYPE, a family
declared twice, bad metric or label names, bad escapes, a value that is not a float, a series given twice,
a missing final newline.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

_NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
_LABEL_NAME = r'[a-zA-Z_][a-zA-Z0-9_]*'
_LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
_LABEL = rf'{_LABEL_NAME}={_LABEL_VALUE}'
_SAMPLE = re.compile(rf'^(?P<name>{_NAME})(?:\{{(?P<labels>(?:{_LABEL}(?:,{_LABEL})*)?,?)\}})? (?P<value>\S+)(?: (?P<timestamp>-?\d+))?$')
_LABEL_PAIR = re.compile(rf'(?P<name>{_LABEL_NAME})=(?P<value>{_LABEL_VALUE})')
_TYPES = ('counter', 'gauge', 'histogram', 'summary', 'untyped')


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]
    value: float


class FormatError(ValueError):
    """The text is not valid exposition format; the message names the line."""


def _float(text: str) -> float:
    special = {'+Inf': math.inf, '-Inf': -math.inf, 'NaN': math.nan}
    if text in special:
        return special[text]
    if not re.fullmatch(r'[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?', text):
        raise ValueError(text)
    return float(text)


def _unescape(quoted: str) -> str:
    return re.sub(r'\\(.)', lambda match: '\n' if match.group(1) == 'n' else match.group(1), quoted[1:-1])


def parse(text: str) -> dict[str, list[Sample]]:
    """Metric family -> its samples, with its TYPE checked; raises FormatError."""
    if text and not text.endswith('\n'):
        raise FormatError('the text does not end with a newline')
    families: dict[str, str] = {}
    samples: dict[str, list[Sample]] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith('#'):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] == 'TYPE':
                if not re.fullmatch(_NAME, parts[2]) or len(parts) != 4 or parts[3] not in _TYPES:
                    raise FormatError(f'line {number}: bad TYPE line {line!r}')
                if parts[2] in families:
                    raise FormatError(f'line {number}: TYPE of {parts[2]} given twice')
                families[parts[2]] = parts[3]
                samples[parts[2]] = []
            elif len(parts) >= 3 and parts[1] == 'HELP' and not re.fullmatch(_NAME, parts[2]):
                raise FormatError(f'line {number}: bad HELP line {line!r}')
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise FormatError(f'line {number}: not a sample {line!r}')
        name = match.group('name')
        if name not in families:
            raise FormatError(f'line {number}: sample of {name} before its TYPE')
        labels = {pair.group('name'): _unescape(pair.group('value')) for pair in _LABEL_PAIR.finditer(match.group('labels') or '')}
        try:
            value = _float(match.group('value'))
        except ValueError:
            raise FormatError(f'line {number}: value {match.group("value")!r} is not a float') from None
        series = (name, tuple(sorted(labels.items())))
        if series in seen:
            raise FormatError(f'line {number}: {name}{labels} given twice')
        seen.add(series)
        samples[name].append(Sample(name, labels, value))
    return samples


def by_label(text: str, label: str) -> dict[str, dict[str, float]]:
    """Label value -> metric name -> value, for the samples that carry `label`."""
    found: dict[str, dict[str, float]] = {}
    for family in parse(text).values():
        for sample in family:
            if label in sample.labels:
                found.setdefault(sample.labels[label], {})[sample.name] = sample.value
    return found
