# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME Renewal Information (ARI, RFC 9773): when the CA wants a certificate renewed."""

from __future__ import annotations

import datetime
import hashlib
import re
import typing as t

from .errors import ConfigurationError, ProtocolError, RefusedRequest, TransportError
from .timestamps import parse_rfc3339
from .transport import AcmeResponse, AcmeSession

# RFC 9773 section 4.1: base64url (no padding) of the AKI keyIdentifier, ".", base64url of the serial's DER bytes.
_ARI_ID = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", re.ASCII)


def check_ari_id(value: str, *, option: str) -> None:
    """Refuse, before anything is sent, a value that cannot be an ARI certificate identifier."""
    if not _ARI_ID.fullmatch(value) or any(len(part) % 4 == 1 for part in value.split(".")):
        raise ConfigurationError(
            f"{value!r} is not an ARI certificate identifier (two base64url parts joined by '.'); "
            "use the ari_id that acme_finalize or acme_certificate_plan returns",
            option=option,
        )


class RenewalInfo(t.NamedTuple):
    ari_id: str
    window_start: datetime.datetime
    window_end: datetime.datetime
    explanation_url: str | None
    retry_after: float | None

    def renewal_time(self) -> datetime.datetime:
        """A point in the suggested window (RFC 9773 section 4.2).

        The RFC asks for a random point; deriving it from the certificate identifier spreads
        renewals across a fleet just as well and keeps repeated runs from changing their mind.
        """
        fraction = int.from_bytes(hashlib.sha256(self.ari_id.encode("ascii")).digest()[:8], "big") / 2**64
        return self.window_start + (self.window_end - self.window_start) * fraction

    def renew(self, now: datetime.datetime) -> bool:
        return now >= self.renewal_time()


def _timestamp(value: t.Any, *, url: str) -> datetime.datetime:
    """An RFC 3339 time of the suggestedWindow (RFC 9773 section 4.2), or ProtocolError."""
    if isinstance(value, str):
        try:
            return parse_rfc3339(value, option="suggestedWindow")
        except ConfigurationError:
            pass
    raise ProtocolError(f"the renewal information at {url} has an unreadable time {value!r} in its suggestedWindow", url=url)


def fetch_renewal_info(session: AcmeSession, ari_id: str) -> RenewalInfo:
    """GET `<renewalInfo>/<certificate identifier>` (section 4.1); unauthenticated."""
    base = session.directory.resource("renewalInfo")
    if base is None:
        raise ConfigurationError("this CA does not offer ACME Renewal Information (no renewalInfo in its directory)")
    url = f"{base.rstrip('/')}/{ari_id}"
    context = f"asking for the renewal information of {ari_id}"

    def parse(response: AcmeResponse) -> RenewalInfo:
        # a problem document is raised by problem_error; a bare 4xx page would be refused again
        if response.status != 200:
            if response.is_problem():
                raise response.problem_error(context)
            raise RefusedRequest(f"the renewal information at {url} answered HTTP {response.status}", url=url, status=response.status)
        return _renewal_info(ari_id, url, response)

    return session.get(url, parse=parse, context=context)


class Advice(t.NamedTuple):
    """What the CA advises about one certificate: its window, or why there is none."""

    ari_id: str
    info: RenewalInfo | None
    error: str | None


def fetch_advice(session: AcmeSession, ari_id: str) -> Advice:
    """Renewal information as advice (RFC 9773 section 4.3): when the CA cannot tell about this certificate
    (an unknown certificate, a server error after the retries, no answer, an answer that is not a window),
    the error is kept for the caller to report and the certificate follows the client's own schedule."""
    try:
        return Advice(ari_id, fetch_renewal_info(session, ari_id), None)
    except (ProtocolError, TransportError) as error:
        return Advice(ari_id, None, str(error))


def _renewal_info(ari_id: str, url: str, response: AcmeResponse) -> RenewalInfo:
    """The renewalInfo object (section 4.2), or ProtocolError when the answer is not one (a failed read)."""
    data = response.json()
    window = data.get("suggestedWindow")
    if not isinstance(window, dict):
        raise ProtocolError(f"the renewal information at {url} has no suggestedWindow", url=url)
    start, end = _timestamp(window.get("start"), url=url), _timestamp(window.get("end"), url=url)
    if end < start:
        raise ProtocolError(f"the renewal information at {url} has a window that ends before it starts", url=url)
    explanation = data.get("explanationURL")
    return RenewalInfo(
        ari_id=ari_id,
        window_start=start,
        window_end=end,
        explanation_url=explanation if isinstance(explanation, str) else None,
        retry_after=response.retry_after(),
    )
