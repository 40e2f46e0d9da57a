"""One ACME CA of the testbed as a scenario sees it, whichever server it is.

Scenarios that matter to users run against every CA (fixture ``acme_ca``, parametrized over
``CA_NAMES``). A scenario states what it needs with ``@pytest.mark.acme_ca_needs('ari', ...)``;
on a CA that lacks it, that CA's run is skipped with the reason, the scenario runs on the others.
"""

from __future__ import annotations

import dataclasses
import pathlib
import secrets
from collections.abc import Callable, Mapping
from typing import Protocol

import dns.name
import dns.query
import dns.rcode
import dns.update
import pytest
from cryptography import x509

from .bind9 import QUERY_TIMEOUT_SECONDS, Bind9Server
from .errors import TestbedError
from .webserver import WebrootServer

CA_NAMES = ('pebble', 'acme2certifier')
# What a CA may or may not do; a test names these in acme_ca_needs (a typo fails loudly).
CAPABILITIES = frozenset(
    {
        'revokes_with_certificate_key',  # revokeCert signed by the certificate's key (RFC 8555 §7.6)
        'tls_alpn',  # tls-alpn-01 validation reaching the testbed's responder
        'ari',  # renewalInfo (RFC 9773)
        'profiles',  # the directory's meta.profiles and newOrder "profile"
        'dns_persist',  # dns-persist-01 (draft-ietf-acme-dns-persist)
        'management_api',  # pebble's management interface: cert status, roots, request log
        'records_revocation_reason',  # the CA's records of a revocation (pebble's, a CRL entry) carry its reason
    }
)


class AcmeServer(Protocol):
    """What both server classes offer."""

    @property
    def directory_url(self) -> str: ...  # noqa: E704

    @property
    def ca_path(self) -> pathlib.Path: ...  # noqa: E704

    @property
    def eab_kid(self) -> str | None: ...  # noqa: E704

    @property
    def eab_hmac_key(self) -> str | None: ...  # noqa: E704


@dataclasses.dataclass(frozen=True)
class AcmeCA:  # pylint: disable=too-many-instance-attributes  # one attribute per thing a scenario needs
    """A CA, the DNS server and web root it validates against, and what it can do.

    ``lacks`` maps each capability the CA does not have to the reason, as a skip shows it.
    """

    name: str
    server: AcmeServer
    dns: Bind9Server
    webroot: WebrootServer
    root_pem: str
    intermediate_pem: str
    lacks: Mapping[str, str]
    # False: leaves for a CSR with an empty subject carry a non-critical subjectAltName (RFC 5280
    # §4.2.1.6 wants it critical), which strict verifiers refuse; see verify_chain.
    marks_san_critical: bool
    # certificate PEM -> its CRLReason code if the CA lists it as revoked, else None
    # (pebble's records, acme2certifier's CRL)
    _revocation_reason: Callable[[str], 'int | None']

    @property
    def directory_url(self) -> str:
        """The ACME directory URL."""
        return self.server.directory_url

    @property
    def ca_path(self) -> pathlib.Path:
        """The bundle that verifies the CA's HTTPS listener (``ca_path`` of the modules)."""
        return self.server.ca_path

    @property
    def eab_kid(self) -> str | None:
        """The EAB key id when this CA requires External Account Binding (``acme_ca_eab``), else None."""
        return self.server.eab_kid

    @property
    def eab_hmac_key(self) -> str | None:
        """The base64url HMAC key of ``eab_kid``."""
        return self.server.eab_hmac_key

    @property
    def zone(self) -> str:
        """The DNS zone every test name of this CA lives in."""
        return self.dns.zone

    @property
    def ip_address(self) -> str:
        """The IP address identifier whose http-01 reaches ``webroot`` (127.0.0.1 for pebble, the session's for acme2certifier)."""
        return self.dns.answer_address

    def rfc2136(self) -> dict[str, object]:
        """acme_dns_rfc2136's options for this CA's DNS server (server, port, zone, TSIG key)."""
        return {
            'server': self.dns.address,
            'port': self.dns.port,
            'zone': self.dns.zone,
            'key_name': self.dns.tsig_key_name,
            'key_algorithm': self.dns.tsig_algorithm,
            'key_secret': self.dns.tsig_secret,
        }

    def has(self, capability: str) -> bool:
        """Whether the CA can do ``capability`` (one of CAPABILITIES)."""
        if capability not in CAPABILITIES:
            raise TestbedError(f'unknown CA capability {capability!r}; known: {", ".join(sorted(CAPABILITIES))}')
        return capability not in self.lacks

    def require(self, *capabilities: str) -> None:
        """Skip the running test on this CA, with the reason, unless it has every capability."""
        for capability in capabilities:
            if not self.has(capability):
                pytest.skip(f'{self.name} lacks {capability}: {self.lacks[capability]}')

    def unique_name(self, label: str) -> str:
        """A fresh name in the zone (so no authorization is reused), with its own A record.

        The own record keeps the name resolving when TXT records below it exist: they would
        make it an empty non-terminal the zone's wildcard no longer covers (RFC 4592 §2.2.2).
        """
        name = f'{label}-{secrets.token_hex(4)}.{self.zone}'
        update = dns.update.UpdateMessage(self.dns.zone, keyring=self.dns.keyring, keyalgorithm=self.dns.tsig_algorithm)
        update.add(dns.name.from_text(name), 1, 'A', self.dns.answer_address)
        response = dns.query.tcp(update, self.dns.address, port=self.dns.port, timeout=QUERY_TIMEOUT_SECONDS)
        if response.rcode() != dns.rcode.NOERROR:
            raise TestbedError(f'BIND refused the A record of {name}: {dns.rcode.to_text(response.rcode())}')
        return name

    def revocation_reason(self, certificate_pem: str | bytes) -> int | None:
        """The CRLReason code (RFC 5280 §5.3.1) the CA records for the (first) certificate in ``certificate_pem``; None if not revoked."""
        data = certificate_pem if isinstance(certificate_pem, str) else certificate_pem.decode('ascii')
        return self._revocation_reason(data)


def serial_of(certificate_pem: str) -> int:
    """The serial number of the first certificate in ``certificate_pem``."""
    return x509.load_pem_x509_certificate(certificate_pem.encode('ascii')).serial_number
