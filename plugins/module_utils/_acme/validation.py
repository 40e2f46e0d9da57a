# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Answering challenges and waiting for the CA's decision (RFC 8555 sections 7.5.1 and 7.1.6).

The order's status sums up its authorizations, but a CA may leave the order `pending` after an
authorization failed (acme2certifier does; section 7.1.6 only says the order becomes invalid when
an authorization does, not when the CA shows it). So the wait watches what decides: the status the
challenge's answer comes back with, then, each round, the order: once it is ready (or later) every
authorization is valid (section 7.1.6) and one read has said so for all of them; while it is pending,
the undecided authorizations are read. It ends as soon as one is refused, or once all are valid.
"""

from __future__ import annotations

import typing as t

from .authorizations import Authorization, AuthorizationClient, Challenge
from .orders import Order, OrderClient
from .polling import WaitTimeout, poll

# Authorization statuses from which no certificate can come (section 7.1.6).
REFUSED_STATUSES = ("invalid", "deactivated", "expired", "revoked")
NO_REASON = "the CA gave no reason"


class Validation(t.NamedTuple):
    """The order and its authorizations as the CA left them once it decided (or once waiting ended)."""

    order: Order
    authorizations: list[Authorization]

    @property
    def refused(self) -> list[Authorization]:
        return [authorization for authorization in self.authorizations if is_refused(authorization)]


def is_refused(authorization: Authorization) -> bool:
    """Whether the CA decided against this authorization: by its status, or by an invalid challenge
    under an authorization it left pending."""
    if authorization.status in REFUSED_STATUSES:
        return True
    return authorization.status == "pending" and any(challenge.status == "invalid" for challenge in authorization.challenges)


def refusal_reason(authorization: Authorization) -> str:
    """The CA's reason for refusing the authorization, in one line."""
    problem = authorization.problem()
    if problem is not None:
        return f"{problem.short_type}: {problem.detail}" if problem.detail else problem.short_type
    if authorization.status in ("deactivated", "expired", "revoked"):
        return f"the authorization is {authorization.status}"
    return NO_REASON


def _with_answer(authorization: Authorization, answered: Challenge) -> Authorization:
    challenges = [
        answered._replace(data=answered.data or challenge.data) if challenge.url == answered.url else challenge for challenge in authorization.challenges
    ]
    return authorization._replace(challenges=challenges)


def answer_and_wait(
    orders: OrderClient,
    authz_client: AuthorizationClient,
    order: Order,
    authorizations: t.Sequence[Authorization],
    answers: t.Mapping[str, Challenge],
    *,
    timeout: float,
) -> Validation:
    """Answer the pending challenge of `answers` (authorization URL -> challenge) and wait for the CA's decision.

    A challenge whose answer already says `invalid` ends it at once; otherwise the authorizations
    not yet valid are read, with backoff, until one is refused or all are valid; then the order is
    read until it leaves `pending`, within the same `timeout`.
    """
    session = orders.session
    deadline = session.clock() + timeout
    current = {authorization.uri: authorization for authorization in authorizations}
    for uri, challenge in answers.items():
        if challenge.status == "pending":
            current[uri] = _with_answer(current[uri], authz_client.respond(challenge))
    if any(is_refused(authorization) for authorization in current.values()):
        _read_refused(authz_client, current)
    else:
        decided = _wait_for_decisions(authz_client, current, orders=orders, order=order, timeout=timeout, clock=session.clock, sleep=session.sleep)
    if any(is_refused(authorization) for authorization in current.values()):
        return Validation(orders.get(order.uri), list(current.values()))
    if decided is not None:
        return Validation(decided, list(current.values()))
    remaining = max(0.0, deadline - session.clock())
    order = orders.wait(orders.get(order.uri), pending=("pending",), timeout=remaining, what="the CA to mark the order ready")
    return Validation(order, list(current.values()))


def _read_refused(authz_client: AuthorizationClient, current: dict[str, Authorization]) -> None:
    """Read back the authorizations whose challenge was answered `invalid`, for their status and the CA's reason.

    A CA that has not yet shown the refusal there keeps the answer as the word on it.
    """
    for uri, authorization in list(current.items()):
        if is_refused(authorization):
            fresh = authz_client.get(uri)
            if is_refused(fresh):
                current[uri] = fresh


def _wait_for_decisions(
    authz_client: AuthorizationClient,
    current: dict[str, Authorization],
    *,
    orders: OrderClient,
    order: Order,
    timeout: float,
    clock: t.Callable[[], float],
    sleep: t.Callable[[float], None],
) -> Order | None:
    """Re-read the order, and while it is pending the undecided authorizations into `current`, until one is
    refused or all are valid; the order when it was read ready (or later), which then holds for all of them."""
    decided: list[Order] = []

    def fetch() -> tuple[list[Authorization], bool, float | None]:
        latest = orders.get(order.uri)
        if latest.status in ("ready", "processing", "valid"):
            decided.append(latest)
            for uri, authorization in list(current.items()):
                current[uri] = authorization._replace(status="valid")
            return list(current.values()), True, None
        for uri, authorization in list(current.items()):
            if authorization.status != "valid":
                current[uri] = authz_client.get(uri)
        values = list(current.values())
        done = any(is_refused(item) for item in values) or all(item.status == "valid" for item in values)
        return values, done, None

    try:
        # The answers were just sent: a read at once would find them undecided.
        poll(fetch, timeout=timeout, sleep=sleep, clock=clock, what="the CA to validate the authorizations", wait_first=True)
    except WaitTimeout as error:
        undecided = ", ".join(item.identifier.value for item in current.values() if item.status != "valid")
        raise WaitTimeout(
            f"gave up waiting for the CA to validate the authorizations of the order {order.uri}: still undecided after {timeout:g} seconds "
            f"({error.reads} reads): {undecided}; raise timeout, or run again later to pick the order up where it is",
            last=error.last,
            reads=error.reads,
        ) from None
    return decided[-1] if decided else None
