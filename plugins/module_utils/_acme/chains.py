# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate chains a CA sends (RFC 8555 sections 7.4.2 and 9.1): reading them strictly, and
choosing among the alternates it offers (Link rel="alternate")."""

from __future__ import annotations

import typing as t

from .certificates import certificate_info, certificate_pem, load_certificate, split_pem_chain
from .errors import ConfigurationError, ProtocolError
from .identifiers import Identifier, parse_identifier

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
except ImportError:
    pass  # reported by deps.missing_libraries() before any of this runs

CRITERIA = ("issuer_common_name", "root_subject", "subject_key_identifier")


class Chain(t.NamedTuple):
    """One complete answer of the CA: the leaf and the certificates above it."""

    certificate: bytes
    intermediates: list[bytes]

    @property
    def chain(self) -> bytes:
        return b"".join(self.intermediates)

    @property
    def fullchain(self) -> bytes:
        return self.certificate + self.chain

    @classmethod
    def from_pem(cls, pem: bytes) -> Chain:
        certificates = split_pem_chain(pem)
        if not certificates:
            raise ConfigurationError("no PEM certificate found ('-----BEGIN CERTIFICATE-----' with its END line is missing)")
        return cls(certificate=certificates[0], intermediates=certificates[1:])

    def top(self) -> t.Any:
        """The highest certificate the CA sent; its issuer is the root."""
        return load_certificate((self.intermediates or [self.certificate])[-1])


def _hex(value: bytes) -> str:
    return value.hex()


def _normalize_key_id(value: str) -> str:
    return value.replace(":", "").replace(" ", "").lower()


def matches(chain: Chain, criterion: dict[str, t.Any]) -> bool:
    """Every key given in the criterion must match (an empty criterion matches nothing)."""
    given = {name: value for name, value in criterion.items() if value is not None}
    if not given:
        return False
    top = certificate_info(chain.top())
    for name, value in given.items():
        if name == "issuer_common_name" and top.issuer_common_name != value:
            return False
        if name == "root_subject" and top.issuer != value:
            return False
        if name == "subject_key_identifier":
            wanted = _normalize_key_id(str(value))
            key_ids = {_hex(top.authority_key_identifier)} if top.authority_key_identifier else set()
            for pem in chain.intermediates:
                ski = certificate_info(load_certificate(pem)).subject_key_identifier
                if ski:
                    key_ids.add(_hex(ski))
            if wanted not in key_ids:
                return False
    return True


def select_chain(chains: t.Sequence[Chain], criteria: t.Sequence[dict[str, t.Any]]) -> tuple[Chain, int]:
    """The first chain matching the first criterion that matches any; the CA's default otherwise."""
    for criterion in criteria:
        unknown = set(criterion) - set(CRITERIA)
        if unknown:
            raise ConfigurationError(f"unknown criteria {', '.join(sorted(unknown))}; use {', '.join(CRITERIA)}", option="select_chain")
        for index, chain in enumerate(chains):
            if matches(chain, criterion):
                return chain, index
    return chains[0], 0


# -- strict reading of a download -------------------------------------------------------------------

_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"


def parse_issued_chain(content: bytes, *, url: str, identifiers: t.Sequence[Identifier]) -> Chain:
    """The chain a CA sent for an order, or ProtocolError saying what is wrong with it.

    RFC 8555 section 9.1: PEM blocks only (no explanatory text), the end-entity certificate first,
    each certificate certifying the one before it. The names must be exactly the order's.
    A CA may leave out the root, but not every issuer: a leaf alone is an incomplete answer
    (a truncated download looks just like it), so it is refused.
    """

    def unusable(what: str) -> ProtocolError:
        return ProtocolError(f"the certificate chain from {url} is unusable: {what}", url=url)

    try:
        certificates = load_pem_certificates(content)
    except UnusablePem as exc:
        raise unusable(str(exc)) from None
    if not certificates:
        raise unusable("the body is empty")
    if _is_ca(certificates[0]):
        raise unusable("the first certificate is a CA certificate, not the one issued for the order")
    if len(certificates) == 1:
        raise unusable("it holds the certificate without any issuer certificate (an incomplete chain)")
    for number, (certificate, issuer) in enumerate(zip(certificates, certificates[1:]), start=1):
        if not directly_issued_by(certificate, issuer):
            raise unusable(f"certificate {number} is not signed by certificate {number + 1}")
    named = set(_certificate_identifiers(certificates[0], unusable))
    wanted = set(identifiers)
    if named != wanted:
        raise unusable(f"its names ({_listed(named)}) differ from the order's ({_listed(wanted)})")
    pems = [certificate_pem(certificate) for certificate in certificates]
    return Chain(certificate=pems[0], intermediates=pems[1:])


class UnusablePem(ValueError):
    """A PEM text that is not whole: the message says what is wrong, in a few words."""


def load_pem_certificates(content: bytes) -> list[t.Any]:
    """Every certificate of a PEM text, strictly: whole, parseable CERTIFICATE blocks and nothing else.

    An empty text gives an empty list; the caller decides whether that is acceptable.
    """
    certificates = []
    for number, block in enumerate(_pem_blocks(content), start=1):
        try:
            certificates.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            raise UnusablePem(f"certificate {number} cannot be parsed ({exc})") from None
    return certificates


def directly_issued_by(certificate: t.Any, issuer: t.Any) -> bool:
    """Whether `issuer` signed `certificate` (names and signature)."""
    try:
        _verify_directly_issued(certificate, issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _pem_blocks(content: bytes) -> list[bytes]:
    """The text of each CERTIFICATE block; anything but blank lines outside them is refused."""
    text = content.decode("ascii", "replace")
    blocks: list[bytes] = []
    current: list[str] | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if current is None:
            if line == _BEGIN:
                current = [line]
            elif line:
                raise UnusablePem(f"text outside the PEM blocks at line {number}")
        elif line == _BEGIN:
            raise UnusablePem(f"certificate {len(blocks) + 1} is cut off (BEGIN without END)")
        else:
            current.append(line)
            if line == _END:
                blocks.append(("\n".join(current) + "\n").encode("ascii"))
                current = None
    if current is not None:
        raise UnusablePem(f"certificate {len(blocks) + 1} is cut off (BEGIN without END)")
    return blocks


def _is_ca(certificate: t.Any) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _certificate_identifiers(certificate: t.Any, unusable: t.Callable[[str], ProtocolError]) -> list[Identifier]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    try:
        names = [parse_identifier({"type": "dns", "value": name}) for name in san.get_values_for_type(x509.DNSName)]
    except ConfigurationError:
        raise unusable(f"it names something that is not a domain name ({', '.join(san.get_values_for_type(x509.DNSName))})") from None
    return names + [Identifier("ip", str(address)) for address in san.get_values_for_type(x509.IPAddress)]


def _listed(identifiers: t.Iterable[Identifier]) -> str:
    return ", ".join(sorted(identifier.value for identifier in identifiers)) or "none"


def _verify_by_signature(certificate: t.Any, issuer: t.Any) -> None:
    """What `verify_directly_issued_by` does, for cryptography before 40: names, then the signature."""
    if certificate.issuer != issuer.subject:
        raise ValueError("the issuer name differs from the next certificate's subject")
    public_key = issuer.public_key()
    signature, data = certificate.signature, certificate.tbs_certificate_bytes
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), certificate.signature_hash_algorithm)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(certificate.signature_hash_algorithm))
    elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        public_key.verify(signature, data)
    else:
        raise TypeError(f"cannot check signatures of {type(public_key).__name__} keys")


def _verify_directly_issued(certificate: t.Any, issuer: t.Any) -> None:
    if hasattr(certificate, "verify_directly_issued_by"):  # cryptography 40 and later
        certificate.verify_directly_issued_by(issuer)
    else:
        _verify_by_signature(certificate, issuer)
