# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JOSE as ACME uses it (RFC 8555 section 6.2): JWKs, thumbprints and flattened JWS.

Algorithms: RS256 (RFC 7518), ES256/ES384/ES512 with raw r||s signatures (RFC 7518
section 3.4) and EdDSA with Ed25519 (RFC 8037).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import typing as t

from .errors import ConfigurationError

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
except ImportError:
    pass  # reported by deps.missing_libraries() before any of this runs

# curve name -> (JWK crv, JWS alg, hash, coordinate size in bytes)
_EC_CURVES = {
    "secp256r1": ("P-256", "ES256", "SHA256", 32),
    "secp384r1": ("P-384", "ES384", "SHA384", 48),
    "secp521r1": ("P-521", "ES512", "SHA512", 66),
}

# RFC 7638 section 3.2: the members that make up a thumbprint, per key type
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}

EAB_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url, tolerating padding and the standard alphabet that some CAs hand out."""
    cleaned = text.strip().rstrip("=").replace("+", "-").replace("/", "_")
    # validate=True: a stray character (a pasted newline, say) must fail, not silently change the key
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), altchars=b"-_", validate=True)


def _int_to_bytes(value: int, length: int | None = None) -> bytes:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(size, "big")


def _json_bytes(value: t.Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


class SigningKey:
    """A private key with the JWS algorithm and public JWK that go with it."""

    def __init__(self, private_key: t.Any) -> None:
        self.private_key = private_key
        if isinstance(private_key, rsa.RSAPrivateKey):
            rsa_numbers = private_key.public_key().public_numbers()
            self.alg = "RS256"
            self.jwk = {"kty": "RSA", "n": b64url_encode(_int_to_bytes(rsa_numbers.n)), "e": b64url_encode(_int_to_bytes(rsa_numbers.e))}
        elif isinstance(private_key, ec.EllipticCurvePrivateKey):
            if private_key.curve.name not in _EC_CURVES:
                raise ConfigurationError(f"EC curve {private_key.curve.name} is not usable with ACME; use P-256, P-384 or P-521")
            crv, self.alg, _hash, size = _EC_CURVES[private_key.curve.name]
            ec_numbers = private_key.public_key().public_numbers()
            self.jwk = {
                "kty": "EC",
                "crv": crv,
                "x": b64url_encode(_int_to_bytes(ec_numbers.x, size)),
                "y": b64url_encode(_int_to_bytes(ec_numbers.y, size)),
            }
        elif isinstance(private_key, ed25519.Ed25519PrivateKey):
            self.alg = "EdDSA"
            raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
        else:
            raise ConfigurationError(f"{type(private_key).__name__} keys cannot sign ACME requests; use an RSA, EC (P-256/P-384/P-521) or Ed25519 key")
        self.thumbprint = jwk_thumbprint(self.jwk)

    def sign(self, data: bytes) -> bytes:
        """A signature over `data` in the encoding JWS expects for `self.alg`."""
        if self.alg == "RS256":
            return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if self.alg == "EdDSA":
            return self.private_key.sign(data)
        _crv, _alg, hash_name, size = _EC_CURVES[self.private_key.curve.name]
        der = self.private_key.sign(data, ec.ECDSA(getattr(hashes, hash_name)()))
        r, s = decode_dss_signature(der)
        return _int_to_bytes(r, size) + _int_to_bytes(s, size)


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of a public JWK."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty", ""))
    if members is None:
        raise ConfigurationError(f"cannot compute a thumbprint for key type {jwk.get('kty')!r}")
    return b64url_encode(hashlib.sha256(_json_bytes({name: jwk[name] for name in members})).digest())


def _flattened(protected: dict[str, t.Any], payload: bytes, sign: t.Callable[[bytes], bytes]) -> dict[str, str]:
    protected_b64 = b64url_encode(_json_bytes(protected))
    payload_b64 = b64url_encode(payload) if payload else ""
    signature = sign(f"{protected_b64}.{payload_b64}".encode("ascii"))
    return {"protected": protected_b64, "payload": payload_b64, "signature": b64url_encode(signature)}


def sign_jws(
    *,
    key: SigningKey,
    url: str,
    payload: dict[str, t.Any] | None,
    nonce: str | None = None,
    kid: str | None = None,
) -> dict[str, str]:
    """A flattened JWS for an ACME request (RFC 8555 section 6.2).

    With `kid` the account URL identifies the key; without it the public `jwk` is embedded
    (newAccount, revocation by certificate key, the inner keyChange JWS). Never both.
    `payload=None` makes a POST-as-GET (section 6.3): an empty payload, not `{}`.
    """
    protected: dict[str, t.Any] = {"alg": key.alg, "url": url}
    if nonce is not None:
        protected["nonce"] = nonce
    if kid is not None:
        protected["kid"] = kid
    else:
        protected["jwk"] = key.jwk
    return _flattened(protected, b"" if payload is None else _json_bytes(payload), key.sign)


def eab_secret(hmac_key: str, alg: str) -> bytes:
    """The HMAC key of an External Account Binding, checked before any account is looked up."""
    if alg not in EAB_ALGORITHMS:
        raise ConfigurationError(f"alg must be one of {', '.join(EAB_ALGORITHMS)}, not {alg!r}", option="external_account_binding")
    try:
        secret = b64url_decode(hmac_key)
    except (binascii.Error, ValueError):
        raise ConfigurationError("key is not base64url-encoded; pass the HMAC key exactly as the CA issued it", option="external_account_binding") from None
    if not secret:
        raise ConfigurationError("key is empty; pass the HMAC key the CA issued", option="external_account_binding")
    needed = EAB_ALGORITHMS[alg]().digest_size
    # RFC 7518 section 3.2 requires it for every HS algorithm; HS256 is let through, since CAs have
    # issued shorter keys for it and refused them themselves when it mattered.
    if alg != "HS256" and len(secret) < needed:
        raise ConfigurationError(
            f"the {alg} key must be at least {needed} bytes (RFC 7518 section 3.2), this one has {len(secret)}; "
            "set alg to the algorithm the CA issued the key for (often HS256)",
            option="external_account_binding",
        )
    return secret


def external_account_binding(*, account_key: SigningKey, url: str, kid: str, hmac_key: str, alg: str) -> dict[str, str]:
    """The `externalAccountBinding` JWS of newAccount (RFC 8555 section 7.3.4)."""
    secret = eab_secret(hmac_key, alg)
    protected = {"alg": alg, "kid": kid, "url": url}
    return _flattened(protected, _json_bytes(account_key.jwk), lambda data: hmac.new(secret, data, EAB_ALGORITHMS[alg]).digest())


def key_authorization(token: str, thumbprint: str) -> str:
    """RFC 8555 section 8.1: the token joined to the account key's thumbprint."""
    return f"{token}.{thumbprint}"
