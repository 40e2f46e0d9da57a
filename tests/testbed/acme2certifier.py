"""acme2certifier 0.46.3 (PyPI, in .venv-a2c), an ACME server independent of pebble, on loopback.

Its WSGI app runs under gunicorn with the testbed's server TLS on 127.0.0.1:<free port>, with
its sqlite database, its config and the certificates it issues in ``work_dir``. Its
``openssl_ca_handler`` signs with an intermediate the testbed makes (see issuing_ca.py).

It validates http-01 by fetching port 80 of the address a name resolves to, and resolves
names only through ``dns_servers`` on port 53: the fixtures give it a BIND on
<session address>:53 whose zone resolves every name to that address, where a web server on
port 80 serves the webroot (see loopback_address.py).
"""

from __future__ import annotations

import configparser
import csv
import dataclasses
import json
import pathlib
from collections.abc import Mapping, Sequence

import requests
from cryptography import x509

from .errors import TestbedError
from .https import loopback_session
from .issuing_ca import IssuingCA, create_issuing_ca
from .ports import LOOPBACK, free_port
from .process import ServerProcess
from .tls import ServerTLS

VENV = pathlib.Path(__file__).resolve().parents[2] / '.venv-a2c'
WSGI_APPLICATION = 'acme2certifier.share.acme2certifier_wsgi:application'
VERSION = '0.46.3'
READY_PROBE_TIMEOUT_SECONDS = 0.5
# CRLReason codes (RFC 5280 §5.3.1) of the flags cryptography reads from a CRL entry.
CRL_REASON_CODES = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}
# The three profiles of the 2026 Let's Encrypt, as the directory describes them, and the
# lifetime each gives: one openssl_ca_handler per profile (acme2certifier's multi-handler
# mode), all signing with the same intermediate. An order without a profile gets 'classic'.
DEFAULT_PROFILES = {
    'classic': 'The 90-day certificate of old',
    'tlsserver': '45-day certificate for TLS servers',
    'shortlived': '6-day certificate, IP addresses allowed',
}
DEFAULT_PROFILE_VALIDITY_DAYS = {'classic': 90, 'tlsserver': 45, 'shortlived': 6}
DEFAULT_PROFILE = 'classic'


@dataclasses.dataclass(frozen=True)
class Acme2certifierSettings:
    """What a test may choose about one acme2certifier instance."""

    # kid -> base64url HMAC key; any entry makes External Account Binding mandatory.
    eab_mac_keys: Mapping[str, str] = dataclasses.field(default_factory=dict)
    profiles: Mapping[str, str] = dataclasses.field(default_factory=lambda: dict(DEFAULT_PROFILES))
    # profile -> lifetime of its certificates; DEFAULT_PROFILE's is also that of orders without a profile.
    validity_days: Mapping[str, int] = dataclasses.field(default_factory=lambda: dict(DEFAULT_PROFILE_VALIDITY_DAYS))
    # ARI: the suggested window starts when this share of the lifetime has passed.
    renewal_threshold_percent: int = 85
    dns_persist_01: bool = True
    # Whether a dns-persist-01 record with policy=wildcard may authorize a wildcard.
    dns_persist_wildcard: bool = True
    # The directory's caaIdentities, which are also dns-persist-01's issuer-domain-names.
    issuer_domain_names: tuple[str, ...] = ('acme2certifier.test',)


class Acme2certifierServer:  # pylint: disable=too-many-instance-attributes  # one attribute per file it keeps
    """One acme2certifier under gunicorn, with its own config, database, issuing CA and log."""

    def __init__(self, work_dir: pathlib.Path, *, tls: ServerTLS, dns_servers: Sequence[str], settings: Acme2certifierSettings | None = None) -> None:
        self.work_dir = work_dir
        self.tls = tls
        self.dns_servers = list(dns_servers)
        self.settings = settings or Acme2certifierSettings()
        self.listen_port = 0
        self.config_path = work_dir / 'acme_srv.cfg'
        self.log_path = work_dir / 'acme2certifier.log'
        self.crl_path = work_dir / 'ca' / 'crl.pem'
        self.issuing_ca: IssuingCA | None = None
        self._process: ServerProcess | None = None

    @property
    def ca_path(self) -> pathlib.Path:
        """CA bundle that verifies the HTTPS listener (not the certificates it issues)."""
        return self.tls.ca_path

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>``, where every ACME resource lives."""
        return f'https://{LOOPBACK}:{self.listen_port}'

    @property
    def directory_url(self) -> str:
        """The ACME directory URL."""
        return f'{self.base_url}/directory'

    @property
    def pid(self) -> int | None:
        """gunicorn's master pid while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def eab_kid(self) -> str | None:
        """The External Account Binding key id, when this instance requires EAB."""
        return next(iter(self.settings.eab_mac_keys), None)

    @property
    def eab_hmac_key(self) -> str | None:
        """The base64url HMAC key that belongs to ``eab_kid``."""
        kid = self.eab_kid
        return self.settings.eab_mac_keys[kid] if kid is not None else None

    def root_pem(self) -> str:
        """The root the issued chains lead to."""
        return self._issuing_ca().root_pem

    def intermediate_pem(self) -> str:
        """The intermediate that signs the certificates (sent with each one)."""
        return self._issuing_ca().intermediate_pem

    def revocation_reason(self, serial_number: int) -> int | None:
        """The CRLReason code on the CRL acme2certifier writes when it revokes; None if not listed (0 without a reason)."""
        if not self.crl_path.exists():
            return None
        entry = x509.load_pem_x509_crl(self.crl_path.read_bytes()).get_revoked_certificate_by_serial_number(serial_number)
        if entry is None:
            return None
        try:
            flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            return 0
        return CRL_REASON_CODES[flag]

    def start(self) -> None:
        """Make the issuing CA, write the config, start gunicorn and wait until the directory answers."""
        gunicorn = VENV / 'bin' / 'gunicorn'
        if not gunicorn.exists():
            raise TestbedError(f'{gunicorn} is missing; run tests/setup.sh (it installs acme2certifier {VERSION})')
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.issuing_ca = create_issuing_ca(self.work_dir / 'ca', name=f'acme2certifier testbed {self.work_dir.name}')
        self.listen_port = free_port()
        self._write_config()
        self._process = ServerProcess(
            name='acme2certifier (gunicorn)',
            argv=[
                str(gunicorn),
                '--bind',
                f'{LOOPBACK}:{self.listen_port}',
                '--certfile',
                str(self.tls.certificate_path),
                '--keyfile',
                str(self.tls.private_key_path),
                # One worker: the sqlite database has one writer. Threads answer polls meanwhile.
                '--workers',
                '1',
                '--threads',
                '4',
                # gunicorn's default control socket is one path in $HOME for every instance.
                '--no-control-socket',
                '--worker-tmp-dir',
                str(self.work_dir),
                WSGI_APPLICATION,
            ],
            log_path=self.log_path,
            cwd=self.work_dir,
            # A clean environment: no proxy variable may route validation requests off loopback.
            env={
                'PATH': f'{VENV / "bin"}:/usr/bin:/bin',
                'ACME_SRV_CONFIGFILE': str(self.config_path),
                'HOME': str(self.work_dir),
                'no_proxy': '*',
                'NO_PROXY': '*',
            },
        )
        self._process.start(ready=self._directory_answers)

    def stop(self) -> None:
        """Stop gunicorn (and its worker) if this object started it."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def _issuing_ca(self) -> IssuingCA:
        if self.issuing_ca is None:
            raise TestbedError('acme2certifier has not been started: it has no issuing CA yet')
        return self.issuing_ca

    def _write_config(self) -> None:
        issuing_ca = self._issuing_ca()
        settings = self.settings
        config = configparser.ConfigParser(interpolation=None)
        config['DEFAULT'] = {
            'debug': 'False',
            'server_name': f'{LOOPBACK}:{self.listen_port}',
            # Never the machine's resolver: only loopback may be contacted.
            'dns_server_list': json.dumps(self.dns_servers),
        }
        config['Nonce'] = {'nonce_check_disable': 'False'}
        config['Directory'] = {'caaidentities': json.dumps(list(settings.issuer_domain_names))}
        handler = {
            'handler_module': 'acme2certifier.cahandlers.openssl_ca_handler',
            'issuing_ca_key': str(issuing_ca.intermediate_key_path),
            'issuing_ca_cert': str(issuing_ca.intermediate_path),
            'issuing_ca_crl': str(self.crl_path),
            'cert_save_path': str(self.work_dir / 'issued'),
        }
        config['CAhandler'] = {'multi_handler': 'True', 'default_handler': DEFAULT_PROFILE}
        for profile, days in settings.validity_days.items():
            config[f'CAhandler:{profile}'] = {**handler, 'cert_validity_days': str(days)}
        (self.work_dir / 'issued').mkdir(exist_ok=True)
        config['DBhandler'] = {
            'handler_module': 'acme2certifier.dbhandlers.wsgi_handler',
            'dbfile': str(self.work_dir / 'acme_srv.db'),
        }
        config['Order'] = (
            {
                'profiles': json.dumps(dict(settings.profiles)),
                'profile_cahandler': json.dumps({profile: profile for profile in settings.validity_days}),
            }
            if settings.profiles
            else {}
        )
        config['Renewalinfo'] = {'renewalthreshold_pctg': str(settings.renewal_threshold_percent)}
        config['Challenge'] = {
            'dns_persist_01_support': str(settings.dns_persist_01),
            'dns_persist_allow_policy_wildcard': str(settings.dns_persist_wildcard),
        }
        if settings.eab_mac_keys:
            key_file = self.work_dir / 'eab-keys.csv'
            key_file.touch(mode=0o600)
            with key_file.open('w', encoding='ascii', newline='') as stream:
                writer = csv.writer(stream)
                writer.writerow(['eab_kid', 'eab_mac'])
                writer.writerows(settings.eab_mac_keys.items())
            config['EABhandler'] = {
                'eab_handler_module': 'acme2certifier.eabhandlers.file_handler',
                'key_file': str(key_file),
                'eab_strict_mode': 'True',
            }
        with self.config_path.open('w', encoding='ascii') as stream:
            config.write(stream)

    def _directory_answers(self) -> bool:
        try:
            with loopback_session(self.ca_path) as session:
                return session.get(self.directory_url, timeout=READY_PROBE_TIMEOUT_SECONDS).ok
        except (requests.RequestException, OSError):
            return False
