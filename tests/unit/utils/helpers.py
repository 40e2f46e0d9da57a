# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helpers for the ACME core: JWS inspection, a fake HTTP layer and a fake clock."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import itertools
import json
import os

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
import requests
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import IncompleteRead, MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
DIRECTORY_URL = "https://acme-staging-v02.api.letsencrypt.org/directory"


def load_fixture(name: str) -> dict:
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- JWS inspection --------------------------------------------------------------------------


class DecodedJws:
    """A flattened JWS taken apart: header and payload decoded, signing input kept."""

    def __init__(self, jws: dict) -> None:
        assert set(jws) == {"protected", "payload", "signature"}
        self.raw = jws
        self.protected = json.loads(b64d(jws["protected"]))
        self.payload_b64 = jws["payload"]
        self.payload = json.loads(b64d(jws["payload"])) if jws["payload"] else None
        self.signature = b64d(jws["signature"])
        self.signing_input = f"{jws['protected']}.{jws['payload']}".encode("ascii")


def verify_signature(public_key, alg: str, signature: bytes, data: bytes) -> None:
    """Verify a JWS signature with `cryptography`; raises InvalidSignature when it is wrong."""
    if alg == "RS256":
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "EdDSA":
        public_key.verify(signature, data)
    else:
        size, hash_algorithm = {"ES256": (32, hashes.SHA256()), "ES384": (48, hashes.SHA384()), "ES512": (66, hashes.SHA512())}[alg]
        if len(signature) != 2 * size:
            raise InvalidSignature(f"{alg} signature is {len(signature)} bytes, not {2 * size}")
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_algorithm))


def verify_jws(jws: dict, public_key) -> DecodedJws:
    decoded = DecodedJws(jws)
    verify_signature(public_key, decoded.protected["alg"], decoded.signature, decoded.signing_input)
    return decoded


# -- fake HTTP, clock and sleep ----------------------------------------------------------------


class FakeResponse:
    def __init__(self, status_code: int, headers: dict, content: bytes) -> None:
        self.status_code = status_code
        self.headers = CaseInsensitiveDict(headers)
        self.content = content


class Call:
    def __init__(self, method: str, url: str, data, headers, timeout, verify, allow_redirects) -> None:
        self.method = method
        self.url = url
        self.data = data
        self.headers = headers
        self.timeout = timeout
        self.verify = verify
        self.allow_redirects = allow_redirects

    def jws(self) -> DecodedJws:
        return DecodedJws(json.loads(self.data))


class FakeHttp:
    """Answers `request()` from per-(method, URL) queues; the last answer of a queue repeats.

    An answer is a dict made by `reply()` or an exception instance to raise. Unless an answer
    says otherwise, every response carries a new Replay-Nonce `nonce-<n>`, as CAs do.
    """

    MAX_CALLS = 200

    def __init__(self) -> None:
        self.routes: dict = {}
        self.calls: list = []
        self._nonces = itertools.count(1)

    @staticmethod
    def reply(status=200, body=None, *, content=None, content_type=None, headers=None, nonce=True) -> dict:
        if body is not None:
            content = json.dumps(body).encode("utf-8")
            if content_type is None:
                content_type = "application/problem+json" if status >= 400 else "application/json"
        return {"status": status, "content": content or b"", "content_type": content_type, "headers": headers or {}, "nonce": nonce}

    def on(self, method: str, url: str, *answers) -> "FakeHttp":
        self.routes[(method, url)] = list(answers)
        return self

    def with_directory(self, data=None, *, url: str = DIRECTORY_URL) -> "FakeHttp":
        data = load_fixture("directory_letsencrypt_staging.json") if data is None else data
        self.on("GET", url, self.reply(200, data, nonce=False))
        if isinstance(data.get("newNonce"), str):
            self.on("HEAD", data["newNonce"], self.reply(200))
        return self

    def request(self, method, url, data=None, headers=None, timeout=None, verify=None, allow_redirects=None):
        self.calls.append(Call(method, url, data, headers, timeout, verify, allow_redirects))
        if len(self.calls) > self.MAX_CALLS:
            raise AssertionError(f"more than {self.MAX_CALLS} requests: the code under test loops")
        queue = self.routes.get((method, url))
        if not queue:
            raise AssertionError(f"unexpected request {method} {url}")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        headers = dict(answer["headers"])
        if answer["content_type"]:
            headers["Content-Type"] = answer["content_type"]
        if answer["nonce"] is True:
            headers["Replay-Nonce"] = f"nonce-{next(self._nonces)}"
        elif answer["nonce"]:
            headers["Replay-Nonce"] = answer["nonce"]
        return FakeResponse(answer["status"], headers, answer["content"])

    def requests_to(self, method: str, url: str | None = None) -> list:
        return [call for call in self.calls if call.method == method and (url is None or call.url == url)]


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# -- a small PKI: root -> intermediate -> leaf, as a CA's download would carry ----------------------


class TestPki:
    """Certificates made on the spot; `chain()` is the PEM a CA returns for an order (root left out)."""

    def __init__(self, *, root_name: str = "Certforge Test Root", intermediate_name: str = "Certforge Test Intermediate") -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._certificate(self.root_key, self.root_key, subject=root_name, issuer=root_name, ca=True)
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = self._certificate(self.intermediate_key, self.root_key, subject=intermediate_name, issuer=root_name, ca=True)
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())

    __test__ = False  # not a pytest test class

    @staticmethod
    def _certificate(subject_key, issuer_key, *, subject: str, issuer: str, ca: bool, names=()):
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]) if subject else x509.Name([]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(subject_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            sans = [x509.IPAddress(ipaddress.ip_address(name[3:])) if name.startswith("ip:") else x509.DNSName(name) for name in names]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def leaf(self, *names: str, issuer_key=None, issuer_name: str | None = None):
        """A leaf for `names` (`ip:` prefix for addresses), issued by the intermediate unless told otherwise."""
        issuer = issuer_name or self.intermediate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return self._certificate(self.leaf_key, issuer_key or self.intermediate_key, subject="", issuer=issuer, ca=False, names=names)

    def chain(self, *names: str) -> bytes:
        return pem(self.leaf(*names)) + pem(self.intermediate)


def pem(certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


# -- network faults as requests raises them ------------------------------------------------------


def connection_refused(url: str = DIRECTORY_URL) -> requests.exceptions.ConnectionError:
    """Nothing listens at the CA's address: the request never left this host."""
    reason = NewConnectionError(HTTPSConnection("acme.example", 443), "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, url, reason=reason))


def connection_reset() -> requests.exceptions.ConnectionError:
    """The connection dropped after the request was sent, before any answer came."""
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))


def read_timeout(seconds: float = 10) -> requests.exceptions.ReadTimeout:
    """The request was sent; no answer came within request_timeout."""
    return requests.exceptions.ReadTimeout(ReadTimeoutError(None, "/", f"Read timed out. (read timeout={seconds})"))


def body_cut_short(received: int = 10, missing: int = 90) -> requests.exceptions.ChunkedEncodingError:
    """The answer's body ended before its Content-Length (what requests raises from urllib3's IncompleteRead)."""
    return requests.exceptions.ChunkedEncodingError(
        ProtocolError(f"Connection broken: IncompleteRead({received} bytes read, {missing} more expected)", IncompleteRead(received, missing))
    )
