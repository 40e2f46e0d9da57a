"""A minimal ACME client that proves the testbed works, independently of the collection's code.

It speaks just enough RFC 8555 for tests/integration/test_testbed.py: ES256 JWS (section 6.2),
badNonce retries (section 6.5), orders, http-01 and dns-01 (section 8) and finalization. When
a module test fails while the testbed tests pass, the servers are not the cause.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib
import time
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from .errors import TestbedError
from .https import REQUEST_TIMEOUT_SECONDS, loopback_session

BAD_NONCE = 'urn:ietf:params:acme:error:badNonce'
MAX_BAD_NONCE_RETRIES = 20
POLL_INTERVAL_SECONDS = 0.05
POLL_TIMEOUT_SECONDS = 20.0


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 8555, section 6.1)."""
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


class AcmeProbe:
    """One ACME account with an ECDSA P-256 key on one server."""

    def __init__(self, directory_url: str, *, ca_path: pathlib.Path) -> None:
        self.session = loopback_session(ca_path)
        self.directory: dict[str, Any] = self.session.get(directory_url, timeout=REQUEST_TIMEOUT_SECONDS).json()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.account_url: str | None = None
        self._nonce: str | None = None

    @property
    def jwk(self) -> dict[str, str]:
        """The account's public key as a JWK, members in the order RFC 7638 hashes them."""
        numbers = self.key.public_key().public_numbers()
        return {'crv': 'P-256', 'kty': 'EC', 'x': b64url(numbers.x.to_bytes(32, 'big')), 'y': b64url(numbers.y.to_bytes(32, 'big'))}

    def key_authorization(self, token: str) -> str:
        """``token.thumbprint`` (RFC 8555, section 8.1)."""
        thumbprint = hashlib.sha256(json.dumps(self.jwk, separators=(',', ':')).encode('ascii')).digest()
        return f'{token}.{b64url(thumbprint)}'

    def dns01_value(self, token: str) -> str:
        """The TXT record value for a dns-01 challenge (RFC 8555, section 8.4)."""
        return b64url(hashlib.sha256(self.key_authorization(token).encode('ascii')).digest())

    def post(self, url: str, payload: dict[str, Any] | None) -> requests.Response:
        """A signed POST (``payload=None``: POST-as-GET); retries badNonce; raises on other errors."""
        for _attempt in range(MAX_BAD_NONCE_RETRIES):
            response = self.session.post(
                url,
                data=self._jws(url, payload),
                headers={'Content-Type': 'application/jose+json'},
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
            self._nonce = response.headers.get('Replay-Nonce')
            if response.ok:
                return response
            problem = response.json() if response.headers.get('Content-Type', '').startswith('application/problem+json') else {}
            if problem.get('type') != BAD_NONCE:
                raise TestbedError(f'POST {url} answered {response.status_code}: {response.text.strip()}')
        raise TestbedError(f'POST {url}: still badNonce after {MAX_BAD_NONCE_RETRIES} attempts')

    def _jws(self, url: str, payload: dict[str, Any] | None) -> str:
        if self._nonce is None:
            self._nonce = self.session.head(self.directory['newNonce'], timeout=REQUEST_TIMEOUT_SECONDS).headers['Replay-Nonce']
        protected: dict[str, Any] = {'alg': 'ES256', 'nonce': self._nonce, 'url': url}
        if self.account_url is None:
            protected['jwk'] = self.jwk
        else:
            protected['kid'] = self.account_url
        encoded_protected = b64url(json.dumps(protected).encode('utf-8'))
        encoded_payload = '' if payload is None else b64url(json.dumps(payload).encode('utf-8'))
        signature = self.key.sign(f'{encoded_protected}.{encoded_payload}'.encode('ascii'), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(signature)
        return json.dumps(
            {
                'protected': encoded_protected,
                'payload': encoded_payload,
                'signature': b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big')),
            }
        )

    def register(self) -> None:
        """Create the account, agreeing to the terms of service."""
        # A contact, because some CAs (acme2certifier by default) refuse an account without one.
        response = self.post(self.directory['newAccount'], {'termsOfServiceAgreed': True, 'contact': ['mailto:hostmaster@acme.test']})
        self.account_url = response.headers['Location']

    def new_order(self, names: list[str], *, profile: str | None = None) -> tuple[str, dict[str, Any]]:
        """Place an order for DNS ``names`` (with a certificate ``profile``, if given); return its URL and body."""
        payload: dict[str, Any] = {'identifiers': [{'type': 'dns', 'value': name} for name in names]}
        if profile is not None:
            payload['profile'] = profile
        response = self.post(self.directory['newOrder'], payload)
        return response.headers['Location'], response.json()

    def challenge(self, authorization_url: str, challenge_type: str) -> dict[str, Any] | None:
        """The authorization's challenge of ``challenge_type``, or None if it is already valid (reused)."""
        authorization = self.post(authorization_url, None).json()
        if authorization['status'] == 'valid':
            return None
        return next(item for item in authorization['challenges'] if item['type'] == challenge_type)

    def answer(self, challenge: dict[str, Any], authorization_url: str) -> dict[str, Any]:
        """Tell the server the challenge is ready, then wait for the authorization's final state."""
        self.post(challenge['url'], {})
        return self.wait(authorization_url)

    def wait(self, url: str) -> dict[str, Any]:
        """Poll ``url`` until its status is neither pending nor processing."""
        deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
        while True:
            resource: dict[str, Any] = self.post(url, None).json()
            if resource['status'] not in ('pending', 'processing'):
                return resource
            if time.monotonic() > deadline:
                raise TestbedError(f'{url} still {resource["status"]} after {POLL_TIMEOUT_SECONDS:.0f} s')
            time.sleep(POLL_INTERVAL_SECONDS)

    def finalize(self, order_url: str, order: dict[str, Any], names: list[str]) -> list[x509.Certificate]:
        """Send a CSR for ``names`` with a new key and return the issued chain, leaf first."""
        certificate_key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
            .sign(certificate_key, hashes.SHA256())
        )
        self.post(order['finalize'], {'csr': b64url(csr.public_bytes(serialization.Encoding.DER))})
        order = self.wait(order_url)
        if order['status'] != 'valid':
            raise TestbedError(f'order {order_url} ended {order["status"]}: {order}')
        chain = self.post(order['certificate'], None).text
        return x509.load_pem_x509_certificates(chain.encode('ascii'))
