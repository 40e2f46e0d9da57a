"""What the fault-injecting proxy does to which request: ACME resources, faults and the rules of a plan.

A plan is a list of ``Rule``; the first rule that matches a request decides its fault. Requests are
counted per resource, so ``Rule(fault, occurrences={1})`` hits the first request of every resource
and ``Rule(fault, resources={'finalize'}, occurrences=None)`` hits every finalize. Rules that remove a
header (NO_NONCE, NO_LOCATION) count only the answers that carry it, and are tried after the others.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

# Resources as pebble 2.4.0 lays them out: (method or None for any, path pattern, resource).
RESOURCE_PATHS = (
    ('GET', re.compile(r'/dir'), 'directory'),
    (None, re.compile(r'/nonce-plz'), 'newNonce'),
    ('POST', re.compile(r'/sign-me-up'), 'newAccount'),
    ('POST', re.compile(r'/my-account/[^/]+'), 'account'),
    ('POST', re.compile(r'/list-orderz/[^/]+'), 'orders'),
    ('POST', re.compile(r'/order-plz'), 'newOrder'),
    ('POST', re.compile(r'/my-order/[^/]+'), 'order'),
    ('POST', re.compile(r'/authZ/[^/]+'), 'authz'),
    ('POST', re.compile(r'/chalZ/[^/]+'), 'challenge'),
    ('POST', re.compile(r'/finalize-order/[^/]+'), 'finalize'),
    ('POST', re.compile(r'/certZ/[^/]+(/\d+)?'), 'certificate'),
    ('POST', re.compile(r'/revoke-cert'), 'revoke'),
    ('POST', re.compile(r'/rollover-account-key'), 'keyChange'),
)
RESOURCES = frozenset(resource for _method, _pattern, resource in RESOURCE_PATHS)
# The resources one issuance through the modules touches, in the order it first touches them.
ISSUANCE_RESOURCES = ('directory', 'newNonce', 'newAccount', 'newOrder', 'authz', 'challenge', 'order', 'finalize', 'certificate')


def classify(method: str, path: str) -> str:
    """The ACME resource a request is for, e.g. ``('POST', '/finalize-order/abc')`` -> ``'finalize'``."""
    bare_path = path.split('?', 1)[0]
    for expected_method, pattern, resource in RESOURCE_PATHS:
        if (expected_method is None or expected_method == method) and pattern.fullmatch(bare_path):
            return resource
    return 'other'


# Fault kinds.
STATUS = 'status'  # answer ``status`` without forwarding (a problem document, or HTML from a gateway)
RESET_BEFORE = 'reset-before'  # TCP reset before forwarding: the CA never saw the request
RESET_AFTER = 'reset-after'  # forward, let the CA process it, then reset: the answer is lost
STALL = 'stall'  # hold the request without forwarding until the client gives up (or the test ends)
TRUNCATE = 'truncate'  # forward; send half the body with a Content-Length that says so
TRUNCATE_CLOSE = 'truncate-close'  # forward; announce the whole body, send half, close
NON_JSON = 'non-json'  # forward; replace the body with an HTML page, same status
NON_PEM = 'non-pem'  # forward; replace the body with text that is no certificate, same status and type
BROKEN_PEM = 'broken-pem'  # forward; replace the body with a BEGIN line and no certificate
NO_NONCE = 'no-nonce'  # forward; remove Replay-Nonce from the answer
NO_LOCATION = 'no-location'  # forward; remove Location from the answer
DOWN = 'down'  # reset this request, then stop listening: every later connection is refused
SILENT = 'silent'  # hold this request; from now on accept connections and never answer
KINDS = (STATUS, RESET_BEFORE, RESET_AFTER, STALL, TRUNCATE, TRUNCATE_CLOSE, NON_JSON, NON_PEM, BROKEN_PEM, NO_NONCE, NO_LOCATION, DOWN, SILENT)
FORWARDING_KINDS = frozenset({RESET_AFTER, TRUNCATE, TRUNCATE_CLOSE, NON_JSON, NON_PEM, BROKEN_PEM, NO_NONCE, NO_LOCATION})


@dataclasses.dataclass(frozen=True)
class Fault:
    """One fault; build status faults with ``Fault.status`` and ``Fault.rate_limited``."""

    kind: str
    status_code: int | None = None
    # Retry-After as delta-seconds, or as an HTTP date that many seconds ahead.
    retry_after_seconds: int | None = None
    retry_after_as_date: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f'unknown fault kind {self.kind!r}; known: {", ".join(KINDS)}')
        if (self.kind == STATUS) != (self.status_code is not None):
            raise ValueError('a status code goes with the status kind, and only with it')

    @classmethod
    def status(cls, code: int, *, retry_after: int | None = None, as_date: bool = False) -> Fault:
        """Answer ``code`` (with ``Retry-After``, in seconds or as an HTTP date) instead of forwarding."""
        return cls(STATUS, status_code=code, retry_after_seconds=retry_after, retry_after_as_date=as_date)

    @classmethod
    def rate_limited(cls, *, retry_after: int | None = None, as_date: bool = False) -> Fault:
        """429 with an ACME ``rateLimited`` problem."""
        return cls.status(429, retry_after=retry_after, as_date=as_date)

    @property
    def forwards(self) -> bool:
        """Whether the request reaches the CA."""
        return self.kind in FORWARDING_KINDS

    @property
    def label(self) -> str:
        """A short name for logs and test ids, e.g. ``503-retry-after-date``."""
        if self.kind != STATUS:
            return self.kind
        label = str(self.status_code)
        if self.retry_after_seconds is not None:
            label += '-retry-after' + ('-date' if self.retry_after_as_date else '')
        return label


@dataclasses.dataclass(frozen=True)
class Rule:
    """Apply ``fault`` to the ``occurrences`` (1-based, per resource; ``None`` = all) of ``resources`` (``None`` = all)."""

    fault: Fault
    resources: frozenset[str] | None = None
    occurrences: frozenset[int] | None = frozenset({1})

    def __post_init__(self) -> None:
        unknown = set(self.resources or ()) - RESOURCES
        if unknown:
            raise ValueError(f'unknown resources {sorted(unknown)}; known: {sorted(RESOURCES)}')

    def matches(self, resource: str, occurrence: int) -> bool:
        """Whether the ``occurrence``-th request for ``resource`` gets this rule's fault."""
        return (self.resources is None or resource in self.resources) and (self.occurrences is None or occurrence in self.occurrences)


def first(fault: Fault, resources: Iterable[str] | None = None) -> Rule:
    """The fault on the first request of each of ``resources`` (of every resource when ``None``)."""
    return Rule(fault, None if resources is None else frozenset(resources), frozenset({1}))


def always(fault: Fault, resources: Iterable[str] | None = None) -> Rule:
    """The fault on every request of ``resources`` (of every resource when ``None``)."""
    return Rule(fault, None if resources is None else frozenset(resources), None)
