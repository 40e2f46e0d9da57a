"""The planning step's check of the deployed chain.pem and fullchain.pem."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certforge.acme.plugins.module_utils.deployed_chain import chain_problem


def issue(subject: str, key, issuer_name: str, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(item.public_bytes(serialization.Encoding.PEM) for item in certificates)


@pytest.fixture(scope="module")
def pki():
    root_key, intermediate_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _unused in range(3))
    root = issue("root", root_key, "root", root_key, ca=True)
    intermediate = issue("intermediate", intermediate_key, "root", root_key, ca=True)
    leaf = issue("www.example.com", leaf_key, "intermediate", intermediate_key, ca=False)
    other_intermediate = issue("intermediate", ec.generate_private_key(ec.SECP256R1()), "root", root_key, ca=True)
    return {"root": root, "intermediate": intermediate, "leaf": leaf, "other": other_intermediate}


def deploy(tmp_path, chain: bytes, fullchain: bytes) -> dict[str, str]:
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "fullchain.pem").write_bytes(fullchain)
    return {"chain_path": str(tmp_path / "chain.pem"), "fullchain_path": str(tmp_path / "fullchain.pem")}


def test_a_whole_chain_needs_nothing(tmp_path, pki):
    paths = deploy(tmp_path, pem(pki["intermediate"], pki["root"]), pem(pki["leaf"], pki["intermediate"], pki["root"]))
    assert chain_problem(pki["leaf"], **paths) is None


@pytest.mark.parametrize(
    ("chain", "fullchain", "reason"),
    [
        pytest.param(lambda p: pem(p["intermediate"])[:-40], lambda p: pem(p["leaf"], p["intermediate"]), "chain.pem is incomplete", id="truncated chain"),
        pytest.param(lambda p: b"", lambda p: pem(p["leaf"]), "chain.pem is empty", id="empty chain"),
        pytest.param(lambda p: b"-----BEGIN CERTIFICATE-----\n", lambda p: pem(p["leaf"], p["intermediate"]), "chain.pem is incomplete", id="begin only"),
        pytest.param(
            lambda p: pem(p["intermediate"]).replace(b"M", b"A", 5), lambda p: pem(p["leaf"], p["intermediate"]), "chain.pem is incomplete", id="unparseable"
        ),
        pytest.param(
            lambda p: pem(p["other"]),
            lambda p: pem(p["leaf"], p["other"]),
            "the certificate is not signed by the first certificate of chain.pem",
            id="wrong issuer",
        ),
        pytest.param(
            lambda p: pem(p["intermediate"]),
            lambda p: pem(p["leaf"]),
            "fullchain.pem is not the certificate followed by chain.pem",
            id="fullchain is the leaf alone",
        ),
        pytest.param(
            lambda p: pem(p["intermediate"]), lambda p: pem(p["leaf"], p["intermediate"])[:-10], "fullchain.pem is incomplete", id="truncated fullchain"
        ),
        pytest.param(
            lambda p: pem(p["intermediate"]),
            lambda p: pem(p["intermediate"], p["leaf"]),
            "fullchain.pem does not start with the certificate",
            id="fullchain in the wrong order",
        ),
    ],
)
def test_a_broken_chain_is_named(tmp_path, pki, chain, fullchain, reason):
    assert chain_problem(pki["leaf"], **deploy(tmp_path, chain(pki), fullchain(pki))) == reason


def test_a_missing_chain_is_named(tmp_path, pki):
    assert chain_problem(pki["leaf"], chain_path=str(tmp_path / "chain.pem"), fullchain_path=None) == "chain.pem is missing"


def test_a_fullchain_alone_must_hold_a_chain(tmp_path, pki):
    (tmp_path / "fullchain.pem").write_bytes(pem(pki["leaf"]))
    assert chain_problem(pki["leaf"], chain_path=None, fullchain_path=str(tmp_path / "fullchain.pem")) == (
        "fullchain.pem holds the certificate without its chain"
    )
