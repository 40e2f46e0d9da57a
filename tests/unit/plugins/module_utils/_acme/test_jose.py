# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from ansible_collections.certforge.acme.plugins.module_utils._acme import jose
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import (
    SigningKey,
    b64url_decode,
    b64url_encode,
    external_account_binding,
    jwk_thumbprint,
    key_authorization,
    sign_jws,
)
from ansible_collections.certforge.acme.tests.unit.utils.helpers import DecodedJws, b64d, verify_jws

URL = "https://acme-staging-v02.api.letsencrypt.org/acme/new-order"
KID = "https://acme-staging-v02.api.letsencrypt.org/acme/acct/123456789"
NEW_ACCOUNT = "https://acme-staging-v02.api.letsencrypt.org/acme/new-acct"

ALGORITHMS = {"rsa2048": "RS256", "ec256": "ES256", "ec384": "ES384", "ec521": "ES512", "ed25519": "EdDSA"}
KEY_NAMES = list(ALGORITHMS)

# RFC 7638 section 3.1: the example RSA key (with members that are not part of the thumbprint).
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91"
        "CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

# RFC 8037 appendix A.1, A.3 and A.4: Ed25519 key, its thumbprint and a signature (Ed25519 is deterministic).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_SIGNING_INPUT = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_SIGNATURE = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"


@pytest.fixture(scope="module")
def signing_keys(private_keys):
    return {name: SigningKey(key) for name, key in private_keys.items()}


# -- base64url ---------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xfb\xff", b"\xfb\xff\xbf", b"any carnal pleas", bytes(range(256))])
def test_b64url_round_trip_without_padding(data):
    encoded = b64url_encode(data)
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert b64url_decode(encoded) == data


def test_b64url_decode_tolerates_padding_and_surrounding_whitespace():
    assert b64url_decode("  +_8=\n") == b"\xfb\xff"
    assert b64url_decode("YQ==") == b"a"
    assert b64url_decode("YQ") == b"a"


def test_b64url_decode_accepts_the_standard_alphabet():
    assert b64url_decode("+/+/") == b64url_decode("-_-_") == b"\xfb\xff\xbf"


# -- thumbprints and key authorizations ------------------------------------------------------------


def test_thumbprint_matches_rfc7638_example():
    assert jwk_thumbprint(RFC7638_JWK) == RFC7638_THUMBPRINT


def test_thumbprint_matches_rfc8037_ed25519_example():
    assert jwk_thumbprint({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}) == RFC8037_THUMBPRINT


def test_thumbprint_of_unknown_key_type_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="'oct'"):
        jwk_thumbprint({"kty": "oct", "k": "c2VjcmV0"})


@pytest.mark.parametrize("name", KEY_NAMES)
def test_signing_key_thumbprint_is_the_thumbprint_of_its_jwk(signing_keys, name):
    key = signing_keys[name]
    assert key.thumbprint == jwk_thumbprint(key.jwk)
    assert len(b64d(key.thumbprint)) == 32


def test_key_authorization_is_token_dot_thumbprint():
    assert key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", RFC7638_THUMBPRINT) == (
        "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA." + RFC7638_THUMBPRINT
    )


# -- JWKs ----------------------------------------------------------------------------------------


def test_ed25519_jwk_and_signature_match_rfc8037():
    key = SigningKey(ed25519.Ed25519PrivateKey.from_private_bytes(b64d(RFC8037_D)))
    assert key.jwk == {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}
    assert key.alg == "EdDSA"
    assert b64url_encode(key.sign(RFC8037_SIGNING_INPUT)) == RFC8037_SIGNATURE


def test_rsa_jwk_has_modulus_and_exponent(signing_keys, private_keys):
    key = signing_keys["rsa2048"]
    numbers = private_keys["rsa2048"].public_key().public_numbers()
    assert key.jwk == {"kty": "RSA", "n": key.jwk["n"], "e": "AQAB"}
    assert int.from_bytes(b64d(key.jwk["n"]), "big") == numbers.n
    assert len(b64d(key.jwk["n"])) == 256


@pytest.mark.parametrize("name, crv, size", [("ec256", "P-256", 32), ("ec384", "P-384", 48), ("ec521", "P-521", 66)])
def test_ec_jwk_has_curve_and_full_length_coordinates(signing_keys, private_keys, name, crv, size):
    key = signing_keys[name]
    numbers = private_keys[name].public_key().public_numbers()
    assert key.jwk["kty"] == "EC" and key.jwk["crv"] == crv
    assert len(b64d(key.jwk["x"])) == size and len(b64d(key.jwk["y"])) == size
    assert int.from_bytes(b64d(key.jwk["x"]), "big") == numbers.x
    assert int.from_bytes(b64d(key.jwk["y"]), "big") == numbers.y


def test_ec_jwk_keeps_leading_zero_bytes_of_short_coordinates():
    # about one P-256 key in 256 has an x coordinate below 2**248
    for secret in range(1, 5000):
        private_key = ec.derive_private_key(secret, ec.SECP256R1())
        if private_key.public_key().public_numbers().x < 2**248:
            break
    else:
        pytest.fail("no P-256 key with a short x coordinate found")
    assert b64d(SigningKey(private_key).jwk["x"])[0] == 0
    assert len(b64d(SigningKey(private_key).jwk["x"])) == 32


def test_unsupported_ec_curve_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="secp256k1 is not usable with ACME"):
        SigningKey(ec.generate_private_key(ec.SECP256K1()))


def test_unsupported_key_class_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="cannot sign ACME requests"):
        SigningKey(ed448.Ed448PrivateKey.generate())


# -- signatures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KEY_NAMES)
def test_jws_signature_verifies_with_the_public_key(signing_keys, private_keys, name):
    jws = sign_jws(key=signing_keys[name], url=URL, payload={"identifiers": [{"type": "dns", "value": "example.org"}]}, nonce="n1", kid=KID)
    decoded = verify_jws(jws, private_keys[name].public_key())
    assert decoded.protected["alg"] == ALGORITHMS[name]


@pytest.mark.parametrize("name", KEY_NAMES)
def test_jws_signature_does_not_verify_for_other_content(signing_keys, private_keys, name):
    jws = sign_jws(key=signing_keys[name], url=URL, payload={"a": 1}, nonce="n1", kid=KID)
    jws["payload"] = b64url_encode(b'{"a":2}')
    with pytest.raises(InvalidSignature):
        verify_jws(jws, private_keys[name].public_key())


@pytest.mark.parametrize("name, size", [("ec256", 32), ("ec384", 48), ("ec521", 66)])
def test_ec_signature_pads_r_and_s_to_the_curve_size(signing_keys, monkeypatch, name, size):
    monkeypatch.setattr(jose, "decode_dss_signature", lambda der: (1, 2))
    assert signing_keys[name].sign(b"data") == (1).to_bytes(size, "big") + (2).to_bytes(size, "big")


def test_kid_header_replaces_the_jwk(signing_keys):
    decoded = DecodedJws(sign_jws(key=signing_keys["ec256"], url=URL, payload={}, nonce="nonce-7", kid=KID))
    assert decoded.protected == {"alg": "ES256", "kid": KID, "nonce": "nonce-7", "url": URL}


@pytest.mark.parametrize("name", KEY_NAMES)
def test_without_kid_the_header_embeds_the_public_jwk(signing_keys, name):
    key = signing_keys[name]
    decoded = DecodedJws(sign_jws(key=key, url=NEW_ACCOUNT, payload={"termsOfServiceAgreed": True}, nonce="nonce-1"))
    assert decoded.protected == {"alg": ALGORITHMS[name], "jwk": key.jwk, "nonce": "nonce-1", "url": NEW_ACCOUNT}
    assert "kid" not in decoded.protected


def test_without_nonce_the_header_has_no_nonce(signing_keys):
    decoded = DecodedJws(sign_jws(key=signing_keys["ec256"], url=URL, payload={"x": 1}))
    assert "nonce" not in decoded.protected


def test_post_as_get_payload_is_exactly_the_empty_string(signing_keys, private_keys):
    jws = sign_jws(key=signing_keys["ec256"], url=KID, payload=None, nonce="n", kid=KID)
    assert jws["payload"] == ""
    verify_jws(jws, private_keys["ec256"].public_key())


def test_empty_dict_payload_is_not_post_as_get(signing_keys):
    jws = sign_jws(key=signing_keys["ec256"], url=KID, payload={}, nonce="n", kid=KID)
    assert b64d(jws["payload"]) == b"{}"


def test_payload_is_the_json_of_the_dict(signing_keys):
    payload = {"contact": ["mailto:admin@example.org"], "termsOfServiceAgreed": True, "ünïcode": "✓"}
    decoded = DecodedJws(sign_jws(key=signing_keys["ec256"], url=URL, payload=payload, nonce="n", kid=KID))
    assert decoded.payload == payload
    assert "=" not in decoded.payload_b64


# -- external account binding ------------------------------------------------------------------------

EAB_SECRET = bytes(range(32))
EAB_KEY = b64url_encode(EAB_SECRET)


@pytest.mark.parametrize("alg, digest", [("HS256", hashlib.sha256), ("HS384", hashlib.sha384), ("HS512", hashlib.sha512)])
def test_eab_hmac_verifies(signing_keys, alg, digest):
    secret = bytes(range(64))  # as long as the longest hash, as RFC 7518 section 3.2 asks
    jws = external_account_binding(account_key=signing_keys["ec256"], url=NEW_ACCOUNT, kid="kid-1", hmac_key=b64url_encode(secret), alg=alg)
    decoded = DecodedJws(jws)
    expected = hmac.new(secret, decoded.signing_input, digest).digest()
    assert hmac.compare_digest(decoded.signature, expected)


def test_eab_header_is_alg_kid_url_and_payload_is_the_account_jwk(signing_keys):
    key = signing_keys["rsa2048"]
    decoded = DecodedJws(external_account_binding(account_key=key, url=NEW_ACCOUNT, kid="kid-1", hmac_key=EAB_KEY, alg="HS256"))
    assert decoded.protected == {"alg": "HS256", "kid": "kid-1", "url": NEW_ACCOUNT}
    assert decoded.payload == key.jwk


def test_eab_key_in_standard_base64_with_padding_gives_the_same_hmac(signing_keys):
    standard = base64.b64encode(b"\xfb\xff\xbf\xfe" * 8).decode()
    assert "+" in standard and "/" in standard
    options = {"account_key": signing_keys["ec256"], "url": NEW_ACCOUNT, "kid": "k", "alg": "HS256"}
    assert external_account_binding(hmac_key=standard, **options) == external_account_binding(hmac_key=b64url_encode(b"\xfb\xff\xbf\xfe" * 8), **options)


@pytest.mark.parametrize("bad_key", ["a", "abcde", "%%%%%"])
def test_eab_key_that_is_not_base64_names_the_option(signing_keys, bad_key):
    with pytest.raises(ConfigurationError) as caught:
        external_account_binding(account_key=signing_keys["ec256"], url=NEW_ACCOUNT, kid="k", hmac_key=bad_key, alg="HS256")
    assert caught.value.option == "external_account_binding"
    assert str(caught.value).startswith("external_account_binding: ")


def test_eab_key_with_characters_outside_base64url_is_rejected(signing_keys):
    pasted_from_json = EAB_KEY + "\\n"  # 43 characters of key, then a backslash and an "n"
    with pytest.raises(ConfigurationError, match="^external_account_binding: key is not base64url-encoded"):
        external_account_binding(account_key=signing_keys["ec256"], url=NEW_ACCOUNT, kid="k", hmac_key=pasted_from_json, alg="HS256")


def test_eab_empty_key_is_a_configuration_error(signing_keys):
    with pytest.raises(ConfigurationError, match="^external_account_binding: key is empty"):
        external_account_binding(account_key=signing_keys["ec256"], url=NEW_ACCOUNT, kid="k", hmac_key="", alg="HS256")


def test_eab_unknown_alg_is_a_configuration_error(signing_keys):
    with pytest.raises(ConfigurationError) as caught:
        external_account_binding(account_key=signing_keys["ec256"], url=NEW_ACCOUNT, kid="k", hmac_key=EAB_KEY, alg="RS256")
    assert caught.value.option == "external_account_binding"
    assert "HS256, HS384, HS512" in str(caught.value) and "'RS256'" in str(caught.value)
