# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from ansible_collections.certforge.acme.plugins.module_utils._acme.certificates import (
    ari_certificate_id,
    certificate_info,
    certificate_pem,
    load_certificate,
    split_pem_chain,
)
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError

NOT_BEFORE = datetime.datetime(2025, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2025, 5, 30, 12, 0, 0, tzinfo=datetime.timezone.utc)
LEAF_SERIAL = 0x03A1F2B4C5D6E7F8091A2B3C4D5E6F7081928374


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Certforge Test"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificate(subject_key, issuer_key, *, subject, issuer, serial, extensions=()):
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def ca(private_keys):
    key = private_keys["ec384"]
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return key, make_certificate(key, key, subject=name("Certforge Test Root R1"), issuer=name("Certforge Test Root R1"), serial=1, extensions=[ski])


@pytest.fixture(scope="module")
def leaf(private_keys, ca):
    ca_key, ca_cert = ca
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("example.org"),
            x509.DNSName("www.example.org"),
            x509.IPAddress(ipaddress.ip_address("192.0.2.10")),
            x509.IPAddress(ipaddress.ip_address("2001:db8::10")),
        ]
    )
    extensions = [
        san,
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
        x509.SubjectKeyIdentifier.from_public_key(private_keys["ec256"].public_key()),
    ]
    return make_certificate(private_keys["ec256"], ca_key, subject=x509.Name([]), issuer=ca_cert.subject, serial=LEAF_SERIAL, extensions=extensions)


def with_aki_and_serial(private_keys, key_identifier: bytes, serial: int):
    aki = x509.AuthorityKeyIdentifier(key_identifier=key_identifier, authority_cert_issuer=None, authority_cert_serial_number=None)
    key = private_keys["ec256"]
    return make_certificate(key, key, subject=name("leaf"), issuer=name("issuer"), serial=serial, extensions=[aki])


# -- certificate_info ------------------------------------------------------------------------------


def test_info_lists_dns_names_and_ip_addresses(leaf):
    info = certificate_info(leaf)
    assert info.dns_names == ["example.org", "www.example.org"]
    assert info.ip_addresses == ["192.0.2.10", "2001:db8::10"]


def test_info_serial_is_lowercase_hex_without_leading_zeros(leaf):
    assert certificate_info(leaf).serial_hex == "3a1f2b4c5d6e7f8091a2b3c4d5e6f7081928374"


def test_info_names_the_issuer(leaf):
    info = certificate_info(leaf)
    assert info.issuer_common_name == "Certforge Test Root R1"
    assert info.issuer == "CN=Certforge Test Root R1,O=Certforge Test"
    assert info.subject == ""


def test_info_key_identifiers_link_leaf_to_issuer(leaf, ca):
    info = certificate_info(leaf)
    ca_ski = ca[1].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert info.authority_key_identifier == ca_ski
    assert info.subject_key_identifier == leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert info.subject_key_identifier != ca_ski


def test_info_validity_is_timezone_aware_utc(leaf):
    info = certificate_info(leaf)
    assert info.not_after == NOT_AFTER and info.not_before == NOT_BEFORE
    assert info.not_after.utcoffset() == datetime.timedelta(0)
    assert info.not_before.tzinfo is not None


def test_info_of_certificate_without_extensions(ca, private_keys):
    bare = make_certificate(private_keys["ec256"], ca[0], subject=name("bare"), issuer=ca[1].subject, serial=5)
    info = certificate_info(bare)
    assert (info.dns_names, info.ip_addresses) == ([], [])
    assert (info.authority_key_identifier, info.subject_key_identifier, info.ari_id) == (None, None, None)


def test_info_issuer_common_name_is_none_without_cn(private_keys):
    key = private_keys["ec256"]
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "No CN Inc")])
    assert certificate_info(make_certificate(key, key, subject=issuer, issuer=issuer, serial=9)).issuer_common_name is None


# -- ARI certificate identifiers ------------------------------------------------------------------------


def test_ari_id_matches_rfc9773_example(private_keys):
    key_identifier = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    assert ari_certificate_id(with_aki_and_serial(private_keys, key_identifier, 0x87654321)) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


@pytest.mark.parametrize(
    "serial, encoded",
    [(0x01, "AQ"), (0x7F, "fw"), (0x80, "AIA"), (0xFF, "AP8"), (0x0100, "AQA"), (0x7FFF, "f_8"), (0x8000, "AIAA")],
)
def test_ari_id_serial_is_the_der_integer_content(private_keys, serial, encoded):
    assert ari_certificate_id(with_aki_and_serial(private_keys, b"\x01\x02", serial)) == f"AQI.{encoded}"


def test_info_carries_the_ari_id(leaf):
    assert certificate_info(leaf).ari_id == ari_certificate_id(leaf)
    assert certificate_info(leaf).ari_id.endswith(".A6HytMXW5_gJGis8TV5vcIGSg3Q")


# -- PEM chains ----------------------------------------------------------------------------------------


def test_split_pem_chain_with_crlf_and_junk_between_certificates(leaf, ca):
    leaf_pem, ca_pem = certificate_pem(leaf), certificate_pem(ca[1])
    bundle = (
        b"subject=\r\nissuer=CN = Certforge Test Root R1\r\n"
        + leaf_pem.replace(b"\n", b"\r\n")
        + b"\r\n# intermediate follows\r\n\r\n"
        + ca_pem.replace(b"\n", b"\r\n")
        + b"trailing junk"
    )
    chain = split_pem_chain(bundle)
    assert chain == [leaf_pem, ca_pem]
    assert all(b"\r" not in part and part.endswith(b"-----\n") for part in chain)


def test_split_pem_chain_accepts_text_and_finds_nothing_in_junk(leaf):
    assert split_pem_chain(certificate_pem(leaf).decode()) == [certificate_pem(leaf)]
    assert split_pem_chain("no certificates here") == []
    assert split_pem_chain(b"") == []


def test_load_certificate_takes_the_first_of_a_chain(leaf, ca):
    assert load_certificate(certificate_pem(leaf) + certificate_pem(ca[1])) == leaf


def test_load_certificate_without_pem_names_the_option():
    with pytest.raises(ConfigurationError, match="^certificate_content: no PEM certificate found"):
        load_certificate(b"garbage", option="certificate_content")


def test_load_damaged_certificate_names_the_option():
    damaged = b"-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHBfpegPjMCMA0GCSqGSIb3\n-----END CERTIFICATE-----\n"
    with pytest.raises(ConfigurationError, match="^certificate_content: cannot parse the certificate"):
        load_certificate(damaged, option="certificate_content")
