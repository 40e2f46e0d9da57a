"""Pebble 2.4.0 (Debian package ``pebble``), the ACME test CA, on loopback.

Pebble regenerates its root and intermediate on every start; tests fetch them from the
management interface. Its validation authority resolves names through ``dns_server`` (our
BIND) and connects to ``http_port`` (http-01) and ``tls_port`` (tls-alpn-01) of each name;
pebble itself never listens on those two ports, so several pebbles can share one web server.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import pathlib
import re
import secrets
import shutil
from collections.abc import Mapping
from typing import Any

import requests

from .errors import TestbedError
from .https import REQUEST_TIMEOUT_SECONDS, loopback_session
from .ports import LOOPBACK, free_port
from .process import ServerProcess
from .tls import ServerTLS

PEBBLE = '/usr/bin/pebble'
READY_PROBE_TIMEOUT_SECONDS = 0.5
# Variables a developer may set for the whole run, e.g. `PEBBLE_WFE_NONCEREJECT=50 make test`;
# pebble's own default rejects 5 % of good nonces.
PASSED_THROUGH_ENVIRONMENT = ('PEBBLE_WFE_NONCEREJECT',)
# Pebble logs one line per ACME API request when it dispatches it to a handler, e.g.
#   "Pebble 2026/11/23 22:06:32 POST /order-plz -> calling handler()"
# Requests to the management interface are not logged, and neither are requests to
# unknown paths. Requests that pebble then rejects (badNonce included) are.
REQUEST_LOG_LINE = re.compile(r'^Pebble \S+ \S+ (?P<method>[A-Z]+) (?P<path>/\S*) -> calling handler\(\)$', re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class PebbleSettings:
    """What a test may choose about one pebble instance; ``None`` keeps pebble's default."""

    # kid -> base64url HMAC key; any entry makes External Account Binding mandatory.
    eab_mac_keys: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Intermediates between leaf and root (PEBBLE_CHAIN_LENGTH; pebble's default 1).
    chain_length: int | None = None
    # Extra roots with their own chains, offered as alternate links (PEBBLE_ALTERNATE_ROOTS).
    alternate_roots: int | None = None
    # Lifetime of issued certificates (certificateValidityPeriod; pebble's default 5 years).
    certificate_validity_seconds: int | None = None
    # Percentage of good nonces rejected with badNonce (PEBBLE_WFE_NONCEREJECT).
    nonce_reject_percent: int | None = None
    # Any further PEBBLE_* variables, e.g. {'PEBBLE_AUTHZREUSE': '100'}.
    extra_environment: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LoggedRequest:
    """One ACME API request as pebble logged it."""

    method: str
    path: str


def new_eab_credentials(kid: str = 'testbed-kid-1') -> dict[str, str]:
    """Return ``{kid: key}`` with a fresh base64url HMAC key (48 bytes: no padding to disagree on)."""
    return {kid: base64.urlsafe_b64encode(secrets.token_bytes(48)).decode('ascii')}


class PebbleServer:  # pylint: disable=too-many-instance-attributes  # mirrors pebble's own knobs
    """One pebble process with its own config, ports and log file."""

    def __init__(
        self, work_dir: pathlib.Path, *, tls: ServerTLS, dns_server: str, http_port: int, tls_port: int, settings: PebbleSettings | None = None
    ) -> None:
        self.work_dir = work_dir
        self.tls = tls
        self.dns_server = dns_server
        self.http_port = http_port
        self.tls_port = tls_port
        self.settings = settings or PebbleSettings()
        self.listen_port = 0
        self.management_port = 0
        self.config_path = work_dir / 'pebble-config.json'
        self.log_path = work_dir / 'pebble.log'
        self._process: ServerProcess | None = None
        self._requests_before_tests = 0

    @property
    def ca_path(self) -> pathlib.Path:
        """CA bundle that verifies pebble's HTTPS listeners (not the certificates it issues)."""
        return self.tls.ca_path

    @property
    def directory_url(self) -> str:
        """The ACME directory URL."""
        return f'https://{LOOPBACK}:{self.listen_port}/dir'

    @property
    def management_url(self) -> str:
        """Base URL of pebble's management interface, without a trailing slash."""
        return f'https://{LOOPBACK}:{self.management_port}'

    @property
    def eab_kid(self) -> str | None:
        """The External Account Binding key id, when this pebble requires EAB."""
        return next(iter(self.settings.eab_mac_keys), None)

    @property
    def eab_hmac_key(self) -> str | None:
        """The base64url HMAC key that belongs to ``eab_kid``."""
        kid = self.eab_kid
        return self.settings.eab_mac_keys[kid] if kid is not None else None

    def start(self) -> None:
        """Write the config, start pebble and wait until its directory answers over verified TLS."""
        if not shutil.which(PEBBLE):
            raise TestbedError(f'{PEBBLE} is missing; run tests/setup.sh (Debian package pebble)')
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.listen_port = free_port()
        self.management_port = free_port()
        self.config_path.write_text(json.dumps({'pebble': self._config()}, indent=2), encoding='utf-8')
        self._process = ServerProcess(
            name='pebble',
            argv=[PEBBLE, '-config', str(self.config_path), '-dnsserver', self.dns_server],
            log_path=self.log_path,
            cwd=self.work_dir,
            env=self._environment(),
        )
        self._process.start(ready=self._directory_answers)
        # The readiness probes are not the tests' requests.
        self._requests_before_tests = len(self._all_logged_requests())

    def stop(self) -> None:
        """Stop pebble if this object started it."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            'listenAddress': f'{LOOPBACK}:{self.listen_port}',
            'managementListenAddress': f'{LOOPBACK}:{self.management_port}',
            'certificate': str(self.tls.certificate_path),
            'privateKey': str(self.tls.private_key_path),
            'httpPort': self.http_port,
            'tlsPort': self.tls_port,
            'ocspResponderURL': '',
            'externalAccountBindingRequired': bool(self.settings.eab_mac_keys),
            'externalAccountMACKeys': dict(self.settings.eab_mac_keys),
        }
        # Pebble 2.4.0 has no retryAfter settings (later releases do) and never sends Retry-After.
        if self.settings.certificate_validity_seconds is not None:
            config['certificateValidityPeriod'] = self.settings.certificate_validity_seconds
        return config

    def _environment(self) -> dict[str, str]:
        # A clean environment: no proxy variables may reach pebble's validation requests.
        environment = {'PATH': '/usr/bin:/bin', 'PEBBLE_VA_NOSLEEP': '1'}
        environment.update({name: os.environ[name] for name in PASSED_THROUGH_ENVIRONMENT if name in os.environ})
        chosen = {
            'PEBBLE_CHAIN_LENGTH': self.settings.chain_length,
            'PEBBLE_ALTERNATE_ROOTS': self.settings.alternate_roots,
            'PEBBLE_WFE_NONCEREJECT': self.settings.nonce_reject_percent,
        }
        environment.update({name: str(value) for name, value in chosen.items() if value is not None})
        environment.update(self.settings.extra_environment)
        return environment

    def _directory_answers(self) -> bool:
        try:
            with loopback_session(self.ca_path) as session:
                return session.get(self.directory_url, timeout=READY_PROBE_TIMEOUT_SECONDS).ok
        except (requests.RequestException, OSError):
            return False

    def _management_get(self, path: str) -> requests.Response:
        with loopback_session(self.ca_path) as session:
            response = session.get(f'{self.management_url}{path}', timeout=REQUEST_TIMEOUT_SECONDS)
        if not response.ok:
            raise TestbedError(f'pebble management GET {path} answered {response.status_code}: {response.text.strip()}')
        return response

    def root_pem(self, index: int = 0) -> str:
        """Root certificate ``index`` (0 is the default chain's root) in PEM."""
        return self._management_get(f'/roots/{index}').text

    def root_pems(self) -> list[str]:
        """All roots: the default chain's first, then one per alternate chain."""
        return [self.root_pem(index) for index in range(1 + (self.settings.alternate_roots or 0))]

    def intermediate_pem(self, index: int = 0) -> str:
        """Intermediate certificate ``index`` in PEM (extra chain-length intermediates are not served)."""
        return self._management_get(f'/intermediates/{index}').text

    def cert_status(self, serial_hex: str) -> dict[str, Any]:
        """Pebble's record of an issued certificate: ``Status`` ("Valid"/"Revoked"), ``Reason``, ``Certificate``...

        ``serial_hex`` may be in any case, with colons or leading zeros (as ``openssl x509 -serial`` prints it).
        """
        serial = format(int(serial_hex.replace(':', ''), 16), 'x')
        result: dict[str, Any] = self._management_get(f'/cert-status-by-serial/{serial}').json()
        return result

    def _all_logged_requests(self) -> list[LoggedRequest]:
        text = self.log_path.read_text(encoding='utf-8', errors='replace')
        return [LoggedRequest(match['method'], match['path']) for match in REQUEST_LOG_LINE.finditer(text)]

    def logged_requests(self) -> list[LoggedRequest]:
        """ACME API requests received since start-up, oldest first, readiness probes excluded."""
        return self._all_logged_requests()[self._requests_before_tests :]

    def count_requests(self) -> int:
        """Number of ACME API requests received since start-up (take differences around an action)."""
        return len(self.logged_requests())
