# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Taking up the order an earlier run left, or saying why a new one is needed.

An order is worth resuming only while it can still end in a certificate for this request: it is
live (RFC 8555 section 7.1.6), for the same identifiers, and none of its authorizations is refused
(a CA may leave an order `pending` after one failed; resuming it would wait for nothing).
"""

from __future__ import annotations

import typing as t

from .authorizations import Authorization, AuthorizationClient
from .errors import ProblemError, ProtocolError
from .order_record import OrderRequest
from .orders import LIVE_STATUSES, Order, OrderClient
from .validation import is_refused, refusal_reason

# What a CA answers for an order it does not know (any more): 404 or 410, with or without a problem
# document. A read of an order carries no payload that could be wrong, so any other refusal (4xx
# with a problem: malformed, unauthorized, acme2certifier's orderNotReady "order not found", ...)
# also says this account cannot use that order.
_UNKNOWN_ORDER_STATUSES = (404, 410)


class Resumption(t.NamedTuple):
    """The order to take up (None: order anew), its authorizations when they were read, and why
    the order on record was not taken up (None when it was, or when there was none)."""

    order: Order | None
    authorizations: list[Authorization] | None = None
    reason: str | None = None


def resume_order(
    orders: OrderClient,
    authz_client: AuthorizationClient,
    order_uri: str | None,
    request: OrderRequest,
    *,
    asked: OrderRequest | None = None,
) -> Resumption:
    """The order at `order_uri` if it can still give a certificate for `request`, else why not.

    `asked` is what the order was asked with, when a record says so; without one, what the order
    object itself says (profile, notBefore, notAfter, where the CA echoes them) is compared.
    """
    if not order_uri:
        return Resumption(None)
    try:
        order = orders.get(order_uri)
    except ProblemError as error:
        if error.status is not None and 400 <= error.status < 500:
            detail = f": {error.detail}" if error.detail else ""
            return Resumption(None, reason=f"the CA does not know the order {order_uri} ({error.short_type}, HTTP {error.status}{detail})")
        raise
    except ProtocolError as error:
        if error.status in _UNKNOWN_ORDER_STATUSES:  # without a problem document, as after a reset of the CA
            return Resumption(None, reason=f"the CA does not know the order {order_uri} (HTTP {error.status})")
        raise
    reason = _unusable(order, request, asked)
    if reason:
        return Resumption(None, reason=reason)
    authorizations = authz_client.get_all(order.authorizations)
    refused = [authorization for authorization in authorizations if is_refused(authorization)]
    if refused:
        names = "; ".join(f"{item.identifier.value}: {refusal_reason(item)}" for item in refused)
        return Resumption(None, reason=f"the order {order_uri} can no longer be finalized: the CA refused {names}")
    return Resumption(order, authorizations)


def _unusable(order: Order, request: OrderRequest, asked: OrderRequest | None) -> str | None:
    if order.status not in LIVE_STATUSES:
        problem = f": {order.error.get('detail')}" if order.error and order.error.get("detail") else ""
        return f"the order {order.uri} is {order.status}{problem}"
    if order.expired:
        return f"the order {order.uri} expired at {order.expires}"
    if set(order.identifiers) != set(request.identifiers):
        listed = ", ".join(sorted(identifier.value for identifier in order.identifiers))
        return f"the order {order.uri} is for other identifiers ({listed})"
    differences = request.differences(asked) if asked is not None else request.echo_differences(order.data)
    if differences:
        return f"the order {order.uri} was asked with {'; '.join(differences)}"
    return None
