# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.keys import (
    KEY_TYPES,
    build_csr,
    generate_private_key,
    key_type_of,
    load_private_key,
    private_key_pem,
    public_key_pem,
)

OPTIONS = {"option": "account_key_content", "passphrase_option": "account_key_passphrase"}
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def plain_pem(private_keys) -> bytes:
    return private_key_pem(private_keys["ec256"])


@pytest.fixture(scope="module")
def encrypted_pem(private_keys) -> bytes:
    return private_key_pem(private_keys["ec256"], passphrase=PASSPHRASE)


def same_key(a, b) -> bool:
    return public_key_pem(a) == public_key_pem(b)


def key_material_lines(pem: bytes) -> list[str]:
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


# -- loading -------------------------------------------------------------------------------------


def test_load_unencrypted_pem_from_text_or_bytes(private_keys, plain_pem):
    assert same_key(load_private_key(plain_pem, passphrase=None, **OPTIONS), private_keys["ec256"])
    assert same_key(load_private_key(plain_pem.decode(), passphrase=None, **OPTIONS), private_keys["ec256"])


def test_load_encrypted_pem_with_its_passphrase(private_keys, encrypted_pem):
    assert same_key(load_private_key(encrypted_pem, passphrase=PASSPHRASE, **OPTIONS), private_keys["ec256"])


def test_wrong_passphrase_names_the_options(encrypted_pem):
    with pytest.raises(ConfigurationError) as caught:
        load_private_key(encrypted_pem, passphrase="wrong", **OPTIONS)
    assert caught.value.option == "account_key_content"
    assert str(caught.value) == "account_key_content: cannot decrypt the key: account_key_passphrase is wrong, or the key is damaged"


def test_encrypted_key_without_passphrase_asks_for_it(encrypted_pem):
    with pytest.raises(ConfigurationError, match="^account_key_content: the key is encrypted; set account_key_passphrase$"):
        load_private_key(encrypted_pem, passphrase=None, **OPTIONS)


def test_passphrase_for_unencrypted_key_asks_to_remove_it(plain_pem):
    with pytest.raises(ConfigurationError, match="^account_key_content: the key is not encrypted; remove account_key_passphrase$"):
        load_private_key(plain_pem, passphrase=PASSPHRASE, **OPTIONS)


def test_damaged_pem_is_a_configuration_error(plain_pem):
    damaged = plain_pem.replace(key_material_lines(plain_pem)[1].encode(), b"AAAA" * 16)
    with pytest.raises(ConfigurationError, match="^account_key_content: cannot read the PEM private key"):
        load_private_key(damaged, passphrase=None, **OPTIONS)


@pytest.mark.parametrize("data", [b"", b"hello", b"\x30\x82\x01\x22\x30\x0d", "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"])
def test_non_pem_input_says_so(data):
    with pytest.raises(ConfigurationError, match="^account_key_content: is not a PEM private key"):
        load_private_key(data, passphrase=None, **OPTIONS)


@pytest.mark.parametrize("kind", ["certificate", "public key"])
def test_other_pem_types_are_not_private_keys(private_keys, kind):
    pem = {
        "certificate": b"-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHBfpegPjMCMA0GCSqGSIb3DQEBBQUAMA0xCzAJBgNVBAYTAkRF\n-----END CERTIFICATE-----\n",
        "public key": public_key_pem(private_keys["ec256"]),
    }[kind]
    with pytest.raises(ConfigurationError, match="^account_key_content: cannot read the PEM private key"):
        load_private_key(pem, passphrase=None, **OPTIONS)


@pytest.mark.parametrize("case", ["wrong passphrase", "missing passphrase", "unneeded passphrase", "damaged"])
def test_error_messages_never_contain_key_material(plain_pem, encrypted_pem, case):
    pem, passphrase = {
        "wrong passphrase": (encrypted_pem, "Tr0ub4dor&3"),
        "missing passphrase": (encrypted_pem, None),
        "unneeded passphrase": (plain_pem, PASSPHRASE),
        "damaged": (plain_pem.replace(key_material_lines(plain_pem)[0][:20].encode(), b"!" * 20), None),
    }[case]
    with pytest.raises(ConfigurationError) as caught:
        load_private_key(pem, passphrase=passphrase, **OPTIONS)
    message = str(caught.value)
    assert "PRIVATE KEY" not in message
    assert not any(line[:16] in message for line in key_material_lines(pem))
    assert passphrase is None or passphrase not in message


# -- generating and serialising ------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_generated_key_has_the_requested_type(key_type):
    key = generate_private_key(key_type)
    assert key_type_of(key) == key_type
    assert key_type_of(key.public_key()) == key_type


@pytest.mark.parametrize("key_type", ["rsa1024", "ec224", "dsa", "RSA2048", ""])
def test_unknown_key_type_is_a_configuration_error(key_type):
    with pytest.raises(ConfigurationError, match="unknown key type"):
        generate_private_key(key_type)


def test_key_type_of_unlisted_curve_describes_it():
    assert key_type_of(ec.generate_private_key(ec.SECP256K1())) == "ec-secp256k1"


@pytest.mark.parametrize("name", ["rsa2048", "ec384", "ed25519"])
def test_encrypted_private_key_pem_round_trips(private_keys, name):
    pem = private_key_pem(private_keys[name], passphrase=PASSPHRASE)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert same_key(load_private_key(pem, passphrase=PASSPHRASE, **OPTIONS), private_keys[name])


def test_unencrypted_private_key_pem_is_pkcs8(private_keys, plain_pem):
    assert plain_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert same_key(serialization.load_pem_private_key(plain_pem, password=None), private_keys["ec256"])


def test_public_key_pem_of_private_and_public_key_agree(private_keys):
    key = private_keys["ec256"]
    assert public_key_pem(key) == public_key_pem(key.public_key())
    assert public_key_pem(key).startswith(b"-----BEGIN PUBLIC KEY-----\n")


# -- CSRs ------------------------------------------------------------------------------------------

IDENTIFIERS = [("dns", "example.org"), ("dns", "*.example.org"), ("ip", "192.0.2.7"), ("ip", "2001:db8::1")]


@pytest.mark.parametrize("name", ["rsa2048", "ec256", "ed25519"])
def test_csr_lists_dns_and_ip_identifiers_in_subject_alt_name(private_keys, name):
    csr = x509.load_pem_x509_csr(build_csr(private_keys[name], IDENTIFIERS))
    assert csr.is_signature_valid
    assert same_key(csr.public_key(), private_keys[name])
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == ["example.org", "*.example.org"]
    assert san.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.7"), ipaddress.ip_address("2001:db8::1")]


def test_csr_subject_is_empty_without_common_name(private_keys):
    assert len(x509.load_pem_x509_csr(build_csr(private_keys["ec256"], IDENTIFIERS)).subject) == 0


def test_csr_common_name_when_asked(private_keys):
    csr = x509.load_pem_x509_csr(build_csr(private_keys["ec256"], [("dns", "example.org")], common_name="example.org"))
    assert csr.subject.rfc4514_string() == "CN=example.org"


def test_csr_of_rsa_and_ec_keys_use_sha256(private_keys):
    for name in ("rsa2048", "ec256"):
        csr = x509.load_pem_x509_csr(build_csr(private_keys[name], [("dns", "example.org")]))
        assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)
