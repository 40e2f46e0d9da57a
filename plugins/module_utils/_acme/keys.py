# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private keys and CSRs, all through `cryptography`."""

from __future__ import annotations

import ipaddress
import typing as t

from .errors import ConfigurationError
from .identifiers import Identifier, parse_identifier

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import NameOID
except ImportError:
    pass  # reported by deps.missing_libraries() before any of this runs

# The key types this collection creates, by the name users write in playbooks.
KEY_TYPES = ("ec256", "ec384", "ec521", "rsa2048", "rsa3072", "rsa4096", "ed25519")
_EC_CURVE_BY_TYPE = {"ec256": "SECP256R1", "ec384": "SECP384R1", "ec521": "SECP521R1"}
_TYPE_BY_EC_CURVE = {"secp256r1": "ec256", "secp384r1": "ec384", "secp521r1": "ec521"}


def load_private_key(pem: bytes | str, *, passphrase: str | None, option: str, passphrase_option: str) -> t.Any:
    """Load a PEM private key, turning every failure into an error that names the option."""
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    if b"-----BEGIN" not in data:
        raise ConfigurationError("is not a PEM private key (no '-----BEGIN' line found)", option=option)
    password = passphrase.encode("utf-8") if passphrase is not None else None
    try:
        return serialization.load_pem_private_key(data, password=password)
    except TypeError:
        # cryptography raises TypeError for both "encrypted but no password" and the reverse.
        if password is None:
            raise ConfigurationError(f"the key is encrypted; set {passphrase_option}", option=option) from None
        raise ConfigurationError(f"the key is not encrypted; remove {passphrase_option}", option=option) from None
    except ValueError:
        if password is not None:
            raise ConfigurationError(f"cannot decrypt the key: {passphrase_option} is wrong, or the key is damaged", option=option) from None
        raise ConfigurationError("cannot read the PEM private key: it is damaged or not a private key", option=option) from None
    except Exception as exc:  # cryptography's unsupported-algorithm errors have no common base
        raise ConfigurationError(f"unsupported private key: {exc}", option=option) from None


def generate_private_key(key_type: str) -> t.Any:
    """A new private key of one of `KEY_TYPES`."""
    if key_type in _EC_CURVE_BY_TYPE:
        return ec.generate_private_key(getattr(ec, _EC_CURVE_BY_TYPE[key_type])())
    if key_type.startswith("rsa") and key_type in KEY_TYPES:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ConfigurationError(f"unknown key type {key_type!r}; use one of {', '.join(KEY_TYPES)}")


def key_type_of(key: t.Any) -> str:
    """The `KEY_TYPES` name of a private or public key, or a description if it has none."""
    public = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(public, rsa.RSAPublicKey):
        return f"rsa{public.key_size}"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return _TYPE_BY_EC_CURVE.get(public.curve.name, f"ec-{public.curve.name}")
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(public).__name__


def private_key_pem(key: t.Any, *, passphrase: str | None = None) -> bytes:
    """PKCS#8 PEM of a private key, encrypted when a passphrase is given."""
    encryption = serialization.BestAvailableEncryption(passphrase.encode("utf-8")) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_key_pem(key: t.Any) -> bytes:
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def build_csr(key: t.Any, identifiers: t.Sequence[tuple[str, str]], *, common_name: str | None = None) -> bytes:
    """A PEM CSR for `(type, value)` identifiers ("dns" or "ip"), all in subjectAltName.

    The common name is optional: ACME CAs take names from subjectAltName (RFC 8555
    section 7.4), and an IP address cannot be a common name for most CAs.
    """
    names: list[t.Any] = []
    for id_type, value in identifiers:
        if id_type == "ip":
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
        else:
            names.append(x509.DNSName(value))
    builder = x509.CertificateSigningRequestBuilder().add_extension(x509.SubjectAlternativeName(names), critical=False)
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else []
    builder = builder.subject_name(x509.Name(subject))
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


def load_csr(pem: bytes | str, *, option: str) -> t.Any:
    """A PEM or DER certificate signing request, with errors naming the option."""
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise ConfigurationError(f"cannot read the certificate signing request: {exc}", option=option) from None


def csr_identifiers(csr: t.Any) -> list[Identifier]:
    """The names a CSR asks for: subjectAltName entries, plus a common name not among them."""
    found: list[Identifier] = []
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found += [parse_identifier({"type": "dns", "value": name}) for name in san.get_values_for_type(x509.DNSName)]
        found += [Identifier("ip", str(ip)) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    for attribute in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        identifier = parse_identifier(str(attribute.value))
        if identifier not in found:
            found.append(identifier)
    return found


def csr_der(csr: t.Any) -> bytes:
    return csr.public_bytes(serialization.Encoding.DER)
