# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's Prometheus textfile-collector file about its certificates (node_exporter's --collector.textfile).

One file per host holds, per certificate, when it expires, when it was last renewed, when a renewal was last
attempted and whether that attempt failed. A run updates only the certificates it attempted and keeps the
others' lines, so the file is read back first: it is only ever written by this module, in the format below.
It is replaced in one rename (node_exporter reads only `*.prom` names, so the staged file is never read
half written), under a lock on its directory, so that two runs on one host never lose each other's lines.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import re
import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.certificates import certificate_info, load_certificate
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import write_file_atomically

PREFIX = "certforge_acme_certificate_"
# Metric name suffix -> (field of CertificateMetrics, HELP text); the order of the file.
METRICS: dict[str, tuple[str, str]] = {
    "expiry_timestamp_seconds": ("expiry", "When the deployed certificate expires (its notAfter), in seconds since the epoch."),
    "last_renewal_timestamp_seconds": ("last_renewal", "When the certificate was last deployed after a successful renewal."),
    "last_attempt_timestamp_seconds": ("last_attempt", "When the role last tried to get this certificate."),
    "last_attempt_failed": ("last_attempt_failed", "1 when the last attempt to get this certificate failed, else 0."),
}
LABEL = "certificate"
# A node_exporter textfile collector must be able to read it; it holds nothing secret.
FILE_MODE = 0o644
_SAMPLE = re.compile(r'^(?P<metric>[a-z_]+)\{' + LABEL + r'="(?P<label>(?:[^"\\\n]|\\[\\"n])*)"\} (?P<value>\S+)$')


@dataclasses.dataclass
class CertificateMetrics:
    """What the file says about one certificate; None where nothing is known yet (no sample is written)."""

    expiry: float | None = None
    last_renewal: float | None = None
    last_attempt: float | None = None
    last_attempt_failed: float | None = None


class Attempt(t.NamedTuple):
    """One certificate the run tried to get: its name, whether it failed, and the expiry of the certificate
    now in place (None: not known, the previous value stays)."""

    name: str
    failed: bool
    expiry: float | None


def _escape(label: str) -> str:
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unescape(label: str) -> str:
    return re.sub(r"\\(.)", lambda match: "\n" if match.group(1) == "n" else match.group(1), label)


def render(metrics: dict[str, CertificateMetrics]) -> str:
    """The file's text (Prometheus text exposition format 0.0.4), certificates sorted by name."""
    lines: list[str] = []
    for suffix, (field, help_text) in METRICS.items():
        lines += [f"# HELP {PREFIX}{suffix} {help_text}", f"# TYPE {PREFIX}{suffix} gauge"]
        for name in sorted(metrics):
            value = getattr(metrics[name], field)
            if value is not None:
                lines.append(f'{PREFIX}{suffix}{{{LABEL}="{_escape(name)}"}} {value:.0f}')
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, CertificateMetrics]:
    """The certificates of a file `render` wrote; lines it does not know are dropped (the file is ours)."""
    fields = {PREFIX + suffix: field for suffix, (field, _help) in METRICS.items()}
    metrics: dict[str, CertificateMetrics] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group("metric") not in fields:
            continue
        try:
            value = float(match.group("value"))
        except ValueError:
            continue
        setattr(metrics.setdefault(_unescape(match.group("label")), CertificateMetrics()), fields[match.group("metric")], value)
    return metrics


def check_metrics_file(path: str, *, option: str) -> None:
    """Refuse, before anything is done, a path the file can never be written to."""
    if not path.endswith(".prom"):
        raise ConfigurationError(f"{path}: node_exporter's textfile collector reads only files named *.prom; end the name with .prom", option=option)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ConfigurationError(f"{directory} is not a directory: give a file in node_exporter's textfile directory", option=option)
    if os.path.isdir(path):
        raise ConfigurationError(f"{path} is a directory; give the path of a file in it", option=option)


def update_metrics_file(path: str, *, attempts: t.Sequence[Attempt] = (), remove: t.Sequence[str] = (), now: float) -> bool:
    """Record `attempts` made at `now` and drop the certificates named in `remove`; whether the file changed.

    A file with no certificate left is removed.
    """
    directory = os.path.dirname(os.path.abspath(path))
    lock = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as handle:
                before = handle.read()
        except FileNotFoundError:
            before = None
        metrics = parse(before or "")
        for attempt in attempts:
            entry = metrics.setdefault(attempt.name, CertificateMetrics())
            entry.last_attempt = now
            entry.last_attempt_failed = 1.0 if attempt.failed else 0.0
            if not attempt.failed:
                entry.last_renewal = now
            if attempt.expiry is not None:
                entry.expiry = attempt.expiry
        for name in remove:
            metrics.pop(name, None)
        if not metrics:
            if before is None:
                return False
            os.unlink(path)
            return True
        after = render(metrics)
        if after == before:
            return False
        write_file_atomically(path, after.encode("utf-8"), mode=FILE_MODE)
        return True
    finally:
        os.close(lock)  # releases the lock


def deployed_expiry(cert_path: str | None) -> float | None:
    """The expiry of the certificate now at `cert_path`; None when there is none to read (yet)."""
    if not cert_path:
        return None
    try:
        with open(cert_path, "rb") as handle:
            pem = handle.read()
        return certificate_expiry(pem)
    except (OSError, ConfigurationError):
        return None


def certificate_expiry(pem: bytes | str) -> float:
    """A PEM certificate's notAfter, in seconds since the epoch."""
    return certificate_info(load_certificate(pem)).not_after.timestamp()
