# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choosing among the certificate chains a CA offers (RFC 8555 section 7.4.2, Link rel="alternate")."""

from __future__ import annotations

import typing as t

from .certificates import certificate_info, load_certificate, split_pem_chain
from .errors import ConfigurationError

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
