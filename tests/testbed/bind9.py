"""BIND 9 as the authoritative DNS server of the test zone.

Pebble resolves every name through this server (``pebble -dnsserver``): the zone's wildcard
``A 127.0.0.1`` sends each http-01 and tls-alpn-01 validation to loopback, and dns-01 tests
add ``_acme-challenge`` TXT records with TSIG-signed RFC 2136 updates.

Validation delegated by CNAME, as operators keep update keys narrow: the key ``validation_key_name`` may
change only TXT records below ``validation.<zone>`` (an ``update-policy``; BIND follows a CNAME from
``_acme-challenge.<name>`` there for the CAs, as it is in the same zone) and the whole second zone
``acme-validation.test`` (where BIND, answering without recursion, does not follow a CNAME into).

One DNS rule to keep in mind: a TXT record at ``_acme-challenge.www.acme.test`` turns
``www.acme.test`` into an existing (empty) name, which the wildcard no longer covers, so it has
no ``A`` record until that TXT record is deleted again (RFC 4592, section 2.2.2).
"""

from __future__ import annotations

import base64
import pathlib
import secrets
import shutil
import sys
import textwrap

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

from .errors import TestbedError
from .ports import LOOPBACK, free_port
from .process import ServerProcess

NAMED = '/usr/sbin/named'
DEFAULT_ZONE = 'acme.test'
TSIG_KEY_NAME = 'testbed-update'
VALIDATION_ZONE = 'acme-validation.test'
VALIDATION_KEY_NAME = 'validation-update'
TSIG_ALGORITHM = 'hmac-sha256'
QUERY_TIMEOUT_SECONDS = 2.0
# Short, because UDP queries sent before named listens just go unanswered.
READY_PROBE_TIMEOUT_SECONDS = 0.2


class Bind9Server:
    """``named`` in the foreground on 127.0.0.1, serving one dynamically updatable zone."""

    def __init__(self, work_dir: pathlib.Path, *, zone: str = DEFAULT_ZONE, answer_address: str = LOOPBACK) -> None:
        """``answer_address`` is what every name of the zone resolves to."""
        self.work_dir = work_dir
        self.zone = zone.rstrip('.')
        self.address = LOOPBACK
        self.answer_address = answer_address
        self.port = 0
        self.tsig_key_name = TSIG_KEY_NAME
        self.tsig_algorithm = TSIG_ALGORITHM
        self.tsig_secret = base64.b64encode(secrets.token_bytes(32)).decode('ascii')
        self.validation_zone = VALIDATION_ZONE
        self.validation_key_name = VALIDATION_KEY_NAME
        self.validation_key_secret = base64.b64encode(secrets.token_bytes(32)).decode('ascii')
        self.log_path = work_dir / 'named.log'
        self._process: ServerProcess | None = None

    @property
    def validation_subdomain(self) -> str:
        """Where ``validation_key_name`` may put TXT records in the zone itself."""
        return f'validation.{self.zone}'

    @property
    def nameserver(self) -> str:
        """``address:port``, the form pebble's ``-dnsserver`` expects."""
        return f'{self.address}:{self.port}'

    @property
    def keyring(self) -> dict[dns.name.Name, dns.tsig.Key]:
        """A dnspython keyring holding the TSIG key that may update the zone."""
        return dns.tsigkeyring.from_text({self.tsig_key_name: (self.tsig_algorithm, self.tsig_secret)})

    def start(self) -> None:
        """Write the configuration and zone, start named and wait until it answers for the zone."""
        if not shutil.which(NAMED):
            raise TestbedError(f'{NAMED} is missing; run tests/setup.sh (Debian package bind9)')
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config_path = self._write_files()
        self._process = ServerProcess(
            name='BIND 9 (named)',
            # -g: foreground, log to stderr; -4: loopback IPv4 only; -n 1: one worker is plenty.
            argv=[NAMED, '-g', '-4', '-n', '1', '-c', str(config_path), '-u', 'root'],
            log_path=self.log_path,
            cwd=self.work_dir,
        )
        self._process.start(ready=self._answers_for_zone)

    def stop(self) -> None:
        """Stop named if this object started it."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def _answer(self, name: str, rdtype: str, timeout: float) -> list[dns.rdata.Rdata]:
        request = dns.message.make_query(name, rdtype)
        response = dns.query.udp(request, self.address, port=self.port, timeout=timeout)
        wanted = dns.rdatatype.from_text(rdtype)
        return [rdata for rrset in response.answer if rrset.rdtype == wanted for rdata in rrset]

    def query(self, name: str, rdtype: str, *, timeout: float = QUERY_TIMEOUT_SECONDS) -> list[str]:
        """Ask the server directly and return the answer's records as text ([] for none)."""
        return [rdata.to_text() for rdata in self._answer(name, rdtype, timeout)]

    def query_txt(self, name: str) -> list[str]:
        """Return the TXT values at ``name``, each record's strings joined (as dns-01 reads them)."""
        return [b''.join(rdata.strings).decode('ascii') for rdata in self._answer(name, 'TXT', QUERY_TIMEOUT_SECONDS)]

    def add_txt(self, name: str, value: str, *, ttl: int = 1) -> None:
        """Add a TXT record with a TSIG-signed RFC 2136 update, as a dns-01 hook would."""
        update = dns.update.UpdateMessage(self.zone, keyring=self.keyring, keyalgorithm=self.tsig_algorithm)
        # Quoted, so that a value with spaces or ';' (a dns-persist-01 record) stays one string.
        quoted = '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'
        update.add(dns.name.from_text(name), ttl, 'TXT', quoted)
        self._send_update(update)

    def add_cname(self, name: str, target: str) -> None:
        """Make ``name`` (in the zone) an alias of ``target``, as an operator delegating ``_acme-challenge`` does."""
        update = dns.update.UpdateMessage(self.zone, keyring=self.keyring, keyalgorithm=self.tsig_algorithm)
        update.replace(dns.name.from_text(name), 60, 'CNAME', dns.name.from_text(target).to_text())
        self._send_update(update)

    def delete_name(self, name: str) -> None:
        """Delete every record at ``name`` in the zone."""
        update = dns.update.UpdateMessage(self.zone, keyring=self.keyring, keyalgorithm=self.tsig_algorithm)
        update.delete(dns.name.from_text(name))
        self._send_update(update)

    def delete_txt(self, name: str) -> None:
        """Delete every TXT record at ``name`` with a TSIG-signed update."""
        update = dns.update.UpdateMessage(self.zone, keyring=self.keyring, keyalgorithm=self.tsig_algorithm)
        update.delete(dns.name.from_text(name), 'TXT')
        self._send_update(update)

    def _send_update(self, update: dns.update.UpdateMessage) -> None:
        response = dns.query.tcp(update, self.address, port=self.port, timeout=QUERY_TIMEOUT_SECONDS)
        if response.rcode() != dns.rcode.NOERROR:
            raise TestbedError(f'BIND refused the update: {dns.rcode.to_text(response.rcode())}\n{update}')

    def _answers_for_zone(self) -> bool:
        try:
            return bool(self.query(self.zone, 'SOA', timeout=READY_PROBE_TIMEOUT_SECONDS))
        except (dns.exception.DNSException, OSError):
            return False

    def _write_files(self) -> pathlib.Path:
        zone_path = self.work_dir / f'{self.zone}.zone'
        zone_path.write_text(self._zone_text(), encoding='ascii')
        validation_zone_path = self.work_dir / f'{self.validation_zone}.zone'
        validation_zone_path.write_text(self._validation_zone_text(), encoding='ascii')
        config_path = self.work_dir / 'named.conf'
        config_path.write_text(self._config_text(zone_path, validation_zone_path), encoding='ascii')
        return config_path

    def _validation_zone_text(self) -> str:
        # Its name server is the test zone's, which resolves to loopback.
        return textwrap.dedent(f'''\
            $ORIGIN {self.validation_zone}.
            $TTL 1
            @   IN SOA ns.{self.zone}. hostmaster.{self.zone}. 1 3600 600 86400 1
            @   IN NS  ns.{self.zone}.
            ''')

    def _zone_text(self) -> str:
        return textwrap.dedent(f'''\
            $ORIGIN {self.zone}.
            $TTL 1
            @   IN SOA ns.{self.zone}. hostmaster.{self.zone}. 1 3600 600 86400 1
            @   IN NS  ns.{self.zone}.
            @   IN A   {self.answer_address}
            *   IN A   {self.answer_address}
            ''')

    def _config_text(self, zone_path: pathlib.Path, validation_zone_path: pathlib.Path) -> str:
        # Everything named writes stays in work_dir; no rndc control channel, no recursion,
        # so it never talks to anything but its own clients on loopback.
        work_dir = self.work_dir
        return textwrap.dedent(f'''\
            key "{self.tsig_key_name}" {{
                algorithm {self.tsig_algorithm};
                secret "{self.tsig_secret}";
            }};
            key "{self.validation_key_name}" {{
                algorithm {self.tsig_algorithm};
                secret "{self.validation_key_secret}";
            }};
            controls {{ }};
            options {{
                directory "{work_dir}";
                pid-file "{work_dir}/named.pid";
                session-keyfile "{work_dir}/session.key";
                managed-keys-directory "{work_dir}";
                dump-file "{work_dir}/named.dump";
                statistics-file "{work_dir}/named.stats";
                listen-on port {self.port} {{ {self.address}; }};
                listen-on-v6 {{ none; }};
                recursion no;
                allow-recursion {{ none; }};
                dnssec-validation no;
                notify no;
                allow-transfer {{ none; }};
                max-journal-size 1m;
            }};
            zone "{self.zone}" {{
                type primary;
                file "{zone_path}";
                update-policy {{
                    grant {self.tsig_key_name} zonesub ANY;
                    grant {self.validation_key_name} subdomain {self.validation_subdomain}. TXT;
                }};
            }};
            zone "{self.validation_zone}" {{
                type primary;
                file "{validation_zone_path}";
                allow-update {{ key "{self.validation_key_name}"; }};
            }};
            ''')


class DnsRelay:
    """Passes DNS on ``address``:``port`` to a Bind9Server (see dns_relay.py for why)."""

    def __init__(self, *, bind9: Bind9Server, address: str, port: int, log_path: pathlib.Path) -> None:
        self.bind9 = bind9
        self.address = address
        self.port = port
        self.log_path = log_path
        self._process: ServerProcess | None = None

    def start(self) -> None:
        """Start relaying to the running BIND and return once its answer for the zone comes back through the relay."""
        self._process = ServerProcess(
            name=f'DNS relay {self.address}:{self.port}',
            argv=[
                sys.executable,
                str(pathlib.Path(__file__).with_name('dns_relay.py')),
                self.address,
                str(self.port),
                self.bind9.address,
                str(self.bind9.port),
            ],
            log_path=self.log_path,
        )
        self._process.start(ready=self._answers_for_zone)

    def stop(self) -> None:
        """Stop the relay if this object started it."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def query(self, name: str, rdtype: str, *, timeout: float = QUERY_TIMEOUT_SECONDS) -> list[str]:
        """Ask through the relay, as acme2certifier does."""
        request = dns.message.make_query(name, rdtype)
        response = dns.query.udp(request, self.address, port=self.port, timeout=timeout)
        wanted = dns.rdatatype.from_text(rdtype)
        return [rdata.to_text() for rrset in response.answer if rrset.rdtype == wanted for rdata in rrset]

    def _answers_for_zone(self) -> bool:
        try:
            return bool(self.query(self.bind9.zone, 'SOA', timeout=READY_PROBE_TIMEOUT_SECONDS))
        except (dns.exception.DNSException, OSError):
            return False
