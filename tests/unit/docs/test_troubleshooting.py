"""docs/troubleshooting.md and the ACME core's advice never disagree.

Every problem type the core knows (its advice table, and the types its code handles by name) has a
section, every section is such a type, and every piece of advice the core puts into an error is
quoted on the page word for word.
"""

from __future__ import annotations

import ast
import pathlib
import re

from ansible_collections.certforge.acme.plugins.module_utils._acme import errors

REPO = pathlib.Path(__file__).resolve().parents[3]
CORE = REPO / "plugins" / "module_utils" / "_acme"
PAGE = REPO / "docs" / "troubleshooting.md"
# The ACME error types registered with IANA (RFC 8555 section 9.7.4, RFC 9773) and the ones CAs send
# beside them (conflict for a refused replacement; invalidProfile from the profiles draft).
REGISTERED_TYPES = {
    "accountDoesNotExist",
    "alreadyReplaced",
    "alreadyRevoked",
    "badCSR",
    "badNonce",
    "badPublicKey",
    "badRevocationReason",
    "badSignatureAlgorithm",
    "caa",
    "compound",
    "conflict",
    "connection",
    "dns",
    "externalAccountRequired",
    "incorrectResponse",
    "invalidContact",
    "invalidProfile",
    "malformed",
    "orderNotReady",
    "rateLimited",
    "rejectedIdentifier",
    "serverInternal",
    "tls",
    "unauthorized",
    "unsupportedContact",
    "unsupportedIdentifier",
    "userActionRequired",
}
SECTION = re.compile(r"^### `([A-Za-z]+)`\n(.*?)(?=^##|\Z)", re.MULTILINE | re.DOTALL)


def _core_sources() -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(CORE.glob("*.py"))}


def _types_the_core_knows() -> set[str]:
    """The advice table's types, and every registered type the core's code names in a string."""
    named = {
        node.value
        for tree in _core_sources().values()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in REGISTERED_TYPES
    }
    return set(errors._ADVICE) | named


def _sections() -> dict[str, str]:
    return dict(SECTION.findall(PAGE.read_text(encoding="utf-8")))


def _core_advice_constants() -> dict[str, str]:
    """The `_ADVICE_*` strings the core's modules put into errors, by file and name."""
    advice = {}
    for file_name, tree in _core_sources().items():
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if name.startswith("_ADVICE_"):
                    advice[f"{file_name}:{name}"] = ast.literal_eval(node.value)
    return advice


def test_every_known_problem_type_has_a_section_and_no_other_does() -> None:
    known, documented = _types_the_core_knows(), set(_sections())
    assert sorted(known - documented) == [], "types the core knows without a section in docs/troubleshooting.md"
    assert sorted(documented - known) == [], "sections in docs/troubleshooting.md for types the core does not know"


def test_sections_are_in_alphabetical_order() -> None:
    names = list(_sections())
    assert names == sorted(names, key=str.lower)


def test_each_section_quotes_the_advice_of_its_type_exactly() -> None:
    sections = _sections()
    wrong = {name: advice for name, advice in errors._ADVICE.items() if f"Advice in the error: `{advice}`" not in sections.get(name, "")}
    assert wrong == {}, "sections that do not quote the core's advice word for word"


def test_rate_limited_section_quotes_both_advices() -> None:
    section = _sections()["rateLimited"]
    # errors.ProblemError._message words these itself, with or without the CA's Retry-After.
    assert "`rate limited by the CA; retry after`" in section
    assert "`rate limited by the CA; wait before retrying`" in section
    message = errors.ProblemError(url="https://ca.test/new-order", status=429, retry_after="60", problem={"type": errors.ACME_ERROR_PREFIX + "rateLimited"})
    assert "(rate limited by the CA; retry after 60)" in str(message)


def test_every_other_advice_of_the_core_is_quoted() -> None:
    page = PAGE.read_text(encoding="utf-8")
    missing = {name: text for name, text in _core_advice_constants().items() if f"`{text}`" not in page}
    assert missing == {}, "advice the core puts into errors that docs/troubleshooting.md does not quote"
