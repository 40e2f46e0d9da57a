# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The strict reading of a certificate download (RFC 8555 sections 7.4.2 and 9.1)."""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme import chains
from ansible_collections.certforge.acme.plugins.module_utils._acme.chains import Chain, parse_issued_chain
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError, ProtocolError
from ansible_collections.certforge.acme.plugins.module_utils._acme.identifiers import parse_identifiers
from ansible_collections.certforge.acme.tests.unit.utils.helpers import TestPki, pem

URL = "https://ca.example/acme/cert/1"
NAMES = parse_identifiers(["example.org", "www.example.org", "192.0.2.10", "2001:db8::10"])
SANS = ("example.org", "www.example.org", "ip:192.0.2.10", "ip:2001:db8::10")


@pytest.fixture(scope="module")
def pki():
    return TestPki()


def parse(content: bytes, identifiers=NAMES) -> Chain:
    return parse_issued_chain(content, url=URL, identifiers=identifiers)


def refused(content: bytes, match: str, identifiers=NAMES) -> None:
    with pytest.raises(ProtocolError, match=f"^the certificate chain from {URL} is unusable: {match}") as caught:
        parse(content, identifiers)
    assert caught.value.url == URL


def test_a_whole_chain_is_leaf_then_intermediates(pki):
    leaf = pki.leaf(*SANS)
    chain = parse(pem(leaf) + pem(pki.intermediate))
    assert chain.certificate == pem(leaf)
    assert chain.intermediates == [pem(pki.intermediate)]
    assert chain.fullchain == pem(leaf) + pem(pki.intermediate)


def test_crlf_blank_lines_and_the_root_are_accepted(pki):
    leaf = pki.leaf(*SANS)
    content = (pem(leaf) + b"\n" + pem(pki.intermediate) + pem(pki.root)).replace(b"\n", b"\r\n")
    chain = parse(content)
    assert chain.intermediates == [pem(pki.intermediate), pem(pki.root)]
    assert b"\r" not in chain.fullchain


def test_names_compare_in_any_order_and_case(pki):
    content = pem(pki.leaf("WWW.Example.org", "example.org")) + pem(pki.intermediate)
    assert parse(content, parse_identifiers(["example.org", "www.example.org"])).certificate


def test_a_wildcard_name_matches_its_identifier(pki):
    content = pem(pki.leaf("*.example.org", "example.org")) + pem(pki.intermediate)
    assert parse(content, parse_identifiers(["example.org", "*.example.org"])).certificate


@pytest.mark.parametrize("content", [b"", b"\n\r\n  "])
def test_an_empty_body_is_refused(content):
    refused(content, "the body is empty")


def test_a_begin_line_without_a_certificate_is_refused_not_an_index_error():
    refused(b"-----BEGIN CERTIFICATE-----\n", r"certificate 1 is cut off \(BEGIN without END\)")


def test_a_truncated_second_certificate_is_refused(pki):
    whole = pem(pki.leaf(*SANS)) + pem(pki.intermediate)
    refused(whole[: len(whole) - 200], r"certificate 2 is cut off \(BEGIN without END\)")


def test_a_truncated_body_with_a_forged_end_line_is_refused(pki):
    intermediate = pem(pki.intermediate)
    lines = intermediate.splitlines(keepends=True)
    cut = b"".join(lines[:3] + lines[-1:])
    refused(pem(pki.leaf(*SANS)) + cut, "certificate 2 cannot be parsed")


def test_garbage_between_blocks_is_refused(pki):
    refused(pem(pki.leaf(*SANS)) + b"<html>oops</html>\n" + pem(pki.intermediate), r"text outside the PEM blocks at line \d+")


def test_garbage_after_the_last_block_is_refused(pki):
    refused(pem(pki.leaf(*SANS)) + pem(pki.intermediate) + b"trailing", r"text outside the PEM blocks at line \d+")


def test_a_non_certificate_block_is_refused(pki):
    refused(pem(pki.leaf(*SANS)) + b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "text outside the PEM blocks")


def test_a_json_body_is_refused():
    refused(b'{"type": "urn:ietf:params:acme:error:serverInternal"}', "text outside the PEM blocks at line 1")


def test_the_leaf_alone_is_an_incomplete_chain(pki):
    refused(pem(pki.leaf(*SANS)), "it holds the certificate without any issuer certificate")


def test_the_intermediate_first_is_refused(pki):
    refused(pem(pki.intermediate) + pem(pki.leaf(*SANS)), "the first certificate is a CA certificate, not the one issued for the order")


def test_a_chain_whose_issuer_did_not_sign_the_leaf_is_refused(pki):
    other = TestPki(intermediate_name="Certforge Test Intermediate")  # same name, other key
    refused(pem(pki.leaf(*SANS)) + pem(other.intermediate), "certificate 1 is not signed by certificate 2")


def test_a_chain_with_the_wrong_issuer_name_is_refused(pki):
    other = TestPki(intermediate_name="Someone Else")
    refused(pem(pki.leaf(*SANS)) + pem(other.intermediate), "certificate 1 is not signed by certificate 2")


def test_a_chain_in_which_an_upper_link_breaks_is_refused(pki):
    other = TestPki()
    refused(pem(pki.leaf(*SANS)) + pem(pki.intermediate) + pem(other.root), "certificate 2 is not signed by certificate 3")


def test_names_other_than_the_order_are_refused(pki):
    refused(pem(pki.leaf("example.org")) + pem(pki.intermediate), r"its names \(example.org\) differ from the order's \(")


def test_an_extra_name_is_refused(pki):
    content = pem(pki.leaf(*SANS, "evil.example")) + pem(pki.intermediate)
    refused(content, "its names .* differ from the order's")


def test_an_ip_identifier_must_be_an_ip_name_not_a_dns_name(pki):
    content = pem(pki.leaf("192.0.2.10")) + pem(pki.intermediate)
    refused(content, "its names", identifiers=parse_identifiers(["192.0.2.10"]))


def test_without_the_modern_api_the_signature_is_checked_by_hand(pki, monkeypatch):
    monkeypatch.setattr(chains, "_verify_directly_issued", chains._verify_by_signature)
    leaf = pki.leaf(*SANS)
    assert parse(pem(leaf) + pem(pki.intermediate)).certificate == pem(leaf)
    other = TestPki(intermediate_name="Certforge Test Intermediate")
    refused(pem(leaf) + pem(other.intermediate), "certificate 1 is not signed by certificate 2")


def test_hand_checking_handles_rsa_issuers(private_keys):
    rsa_pki = TestPki()
    rsa_key = private_keys["rsa2048"]
    rsa_pki.intermediate = rsa_pki._certificate(rsa_key, rsa_pki.root_key, subject="RSA Intermediate", issuer="Certforge Test Root", ca=True)
    leaf = rsa_pki.leaf("example.org", issuer_key=rsa_key, issuer_name="RSA Intermediate")
    chains._verify_by_signature(leaf, rsa_pki.intermediate)
    chains._verify_by_signature(rsa_pki.intermediate, rsa_pki.root)
    with pytest.raises(ValueError):
        chains._verify_by_signature(leaf, rsa_pki.root)


def test_from_pem_of_nothing_is_a_clear_error_not_an_index_error():
    with pytest.raises(ConfigurationError, match="no PEM certificate"):
        Chain.from_pem(b"-----BEGIN CERTIFICATE-----\n")

