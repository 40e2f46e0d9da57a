# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to an ACME server: one HTTPS session, the directory, nonces and retries.

RFC 8555 section 6 (transport, POST-as-GET, nonces, rate limits) and section 7.1.1 (directory).
"""

from __future__ import annotations

import datetime
import email.utils
import http.client
import json
import re
import ssl
import time
import typing as t
from urllib.parse import urljoin, urlparse

from .errors import AcmeError, ConfigurationError, OutcomeUnknown, ProblemError, ProtocolError, RefusedRequest, TransportError
from .jose import SigningKey, sign_jws
from .retries import (
    BAD_NONCE,
    BAD_NONCE_TRIES,
    CONNECTION,
    FAULT_TRIES,
    INCOMPLETE_ANSWER,
    RATE_LIMIT_TRIES,
    RATE_LIMITED,
    SERVER_ERROR,
    Attempts,
    Fault,
    RetryLog,
)

try:
    import requests
    from requests.utils import parse_header_links
    from urllib3 import exceptions as urllib3_errors
    from urllib3.exceptions import NewConnectionError, ReadTimeoutError

    # every way an exchange can fail before a whole answer is in hand
    _REQUEST_FAILURES: tuple[type[BaseException], ...] = (requests.exceptions.RequestException, urllib3_errors.HTTPError, http.client.HTTPException)
    # the answer started but ended early: requests wraps urllib3's IncompleteRead/ProtocolError this way
    _CUT_SHORT: tuple[type[BaseException], ...] = (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
        urllib3_errors.ProtocolError,
        http.client.IncompleteRead,
    )
except ImportError:
    _REQUEST_FAILURES = _CUT_SHORT = ()  # reported by deps.missing_libraries() before any of this runs

USER_AGENT = "certforge.acme/0.1.0"
MAX_REDIRECTS = 5
_ADVICE_UNREACHABLE = "check that the CA is up and reachable from here, or raise retry_timeout to keep trying longer"
_ADVICE_SLOW = "the CA is slow or stalled: raise request_timeout or retry_timeout, or check the CA's status page"
_ADVICE_DAMAGED = "answers are cut short or damaged on the way: check proxies between here and the CA, or try again later"
_ADVICE_RATE_LIMITED = "the CA is rate limiting: try again later, or raise retry_timeout to wait longer"
_ADVICE_UNAVAILABLE = "the CA is unavailable or failing: try again later, check the CA's status page, or raise retry_timeout to wait longer"
_ADVICE_NOT_THE_CA = "something in front of the CA answers instead of it: check proxies between here and the CA, or try again later"
_ADVICE_NOT_A_DIRECTORY = (
    "is this the CA's ACME directory URL? If it is, the CA or a proxy in front of it answers with something else: check acme_directory, or try again later"
)

T = t.TypeVar("T")


class AcmeResponse:
    """An HTTP answer of the CA with the ACME-relevant parts decoded."""

    def __init__(self, *, url: str, status: int, headers: t.Mapping[str, str], content: bytes, after_lost_answer: bool = False) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.content = content
        # an earlier try of this request may have reached the CA, its answer lost (see AcmeSession.post)
        self.after_lost_answer = after_lost_answer

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json(self) -> dict[str, t.Any]:
        try:
            value = json.loads(self.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ProtocolError(
                f"expected JSON from {self.url} but got {self.content_type or 'no content type'} ({len(self.content)} bytes) with HTTP {self.status}",
                url=self.url,
                status=self.status,
            ) from None
        if not isinstance(value, dict):
            raise ProtocolError(f"expected a JSON object from {self.url}", url=self.url, status=self.status)
        return value

    @property
    def location(self) -> str | None:
        location = self.headers.get("Location")
        return urljoin(self.url, location) if location else None

    def links(self, rel: str) -> list[str]:
        """Targets of `Link` headers with this relation (RFC 8288), as absolute URLs."""
        header = self.headers.get("Link")
        if not header:
            return []
        return [urljoin(self.url, link["url"]) for link in parse_header_links(header) if link.get("rel") == rel]

    def retry_after(self, now: datetime.datetime | None = None) -> float | None:
        """Seconds to wait according to `Retry-After` (delta-seconds or HTTP-date), if given."""
        value = (self.headers.get("Retry-After") or "").strip()
        if not value:
            return None
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # asctime dates and "-0000" carry no zone; HTTP dates are UTC
            when = when.replace(tzinfo=datetime.timezone.utc)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return max(0.0, (when - now).total_seconds())

    def is_problem(self) -> bool:
        return self.content_type == "application/problem+json" or (self.status >= 400 and self.content_type.endswith("json"))

    def cut_short(self) -> str | None:
        """How the body is evidently incomplete: shorter than its Content-Length, or JSON that does not parse."""
        declared = (self.headers.get("Content-Length") or "").strip()
        # a decoded (gzip) body has another length than the one on the wire
        encoded = (self.headers.get("Content-Encoding") or "identity").strip().lower() != "identity"
        if declared.isdigit() and not encoded and len(self.content) < int(declared):
            return f"{len(self.content)} of {declared} bytes"
        if self.content and self.content_type.endswith("json"):
            try:
                json.loads(self.content.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return f"{self.content_type} that does not parse, {len(self.content)} bytes"
        return None

    def problem_error(self, context: str | None = None, *, note: str | None = None) -> ProblemError:
        try:
            problem = self.json()
        except ProtocolError:
            problem = {"type": "about:blank", "detail": self.content[:200].decode("utf-8", "replace")}
        return ProblemError(url=self.url, status=self.status, problem=problem, retry_after=self.headers.get("Retry-After"), context=context, note=note)


class Directory:
    """The directory object (RFC 8555 section 7.1.1); unknown fields are ignored on purpose."""

    REQUIRED = ("newNonce", "newAccount", "newOrder")

    def __init__(self, url: str, data: dict[str, t.Any]) -> None:
        missing = [name for name in self.REQUIRED if not isinstance(data.get(name), str)]
        if missing:
            raise ConfigurationError(
                f"{url} is not an ACME directory: it lacks {', '.join(missing)}; give the CA's directory URL, "
                "for example https://acme-staging-v02.api.letsencrypt.org/directory",
                option="acme_directory",
            )
        self.url = url
        self.data = data
        meta = data.get("meta")
        self.meta: dict[str, t.Any] = meta if isinstance(meta, dict) else {}

    def resource(self, name: str) -> str | None:
        value = self.data.get(name)
        return value if isinstance(value, str) else None

    def require(self, name: str) -> str:
        value = self.resource(name)
        if value is None:
            raise ProtocolError(f"the CA's directory {self.url} does not offer {name}", url=self.url)
        return value

    @property
    def terms_of_service(self) -> str | None:
        value = self.meta.get("termsOfService")
        return value if isinstance(value, str) else None

    @property
    def external_account_required(self) -> bool:
        return self.meta.get("externalAccountRequired") is True

    @property
    def profiles(self) -> dict[str, str]:
        value = self.meta.get("profiles")
        return value if isinstance(value, dict) else {}


class AcmeSession:
    """One run's connection to a CA: keep-alive HTTPS, the directory once, nonces reused.

    Every response's Replay-Nonce is kept for the next POST, so newNonce is only asked when
    no nonce is held (RFC 8555 section 7.2). Reads are POST-as-GET (section 6.3).
    """

    def __init__(
        self,
        *,
        directory_url: str,
        ca_path: str | None = None,
        validate_certs: bool = True,
        request_timeout: float = 10,
        retry_timeout: float = 60,
        http: t.Any = None,
        sleep: t.Callable[[float], None] = time.sleep,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        if urlparse(directory_url).scheme != "https":
            raise ConfigurationError(
                f"{directory_url!r} is not an https:// URL; ACME requires HTTPS (RFC 8555 section 6.1)",
                option="acme_directory",
            )
        self.directory_url = directory_url
        self.request_timeout = request_timeout
        self.retry_timeout = retry_timeout
        self._verify: bool | str = ca_path if (ca_path and validate_certs) else validate_certs
        self._http = http if http is not None else requests.Session()
        self.sleep = sleep
        self.clock = clock
        self._nonce: str | None = None
        self._directory: Directory | None = None
        self.request_count = 0
        self.retries = RetryLog()

    # -- handing over to the next step of the same run ------------------------------------------

    def handoff(self) -> dict[str, t.Any] | None:
        """What the next step may take instead of asking again: the directory it read and the nonce it holds.

        The nonce leaves this session with it: a nonce is good for one request only (RFC 8555 section 7.2),
        so it must go to exactly one next step.
        """
        if self._directory is None:
            return None
        nonce, self._nonce = self._nonce, None
        return {"directory_url": self.directory_url, "directory": self._directory.data, "nonce": nonce}

    def adopt(self, handoff: t.Mapping[str, t.Any] | None) -> None:
        """Start from what an earlier step of the same run handed over (see `handoff`), when it is of this CA.

        A stale nonce costs one badNonce answer, which is retried with a fresh one.
        """
        if not handoff or handoff.get("directory_url") != self.directory_url:
            return
        directory = handoff.get("directory")
        if isinstance(directory, dict):
            try:
                self._directory = Directory(self.directory_url, directory)
            except ConfigurationError:
                return  # not a directory after all: read it from the CA
        nonce = handoff.get("nonce")
        if isinstance(nonce, str) and nonce and self._directory is not None:
            self._nonce = nonce

    @property
    def bad_nonce_retries(self) -> int:
        return self.retries.counts()[BAD_NONCE]

    # -- directory and nonces ---------------------------------------------------------------

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            try:
                self._directory = self.get(self.directory_url, parse=self._parse_directory)
            except TransportError as exc:
                raise TransportError(f"acme_directory: {exc}", url=exc.url) from None
            except ProblemError:
                raise
            except ProtocolError as exc:
                raise ProtocolError(f"acme_directory: {exc}", url=exc.url, status=exc.status) from None
        return self._directory

    def _parse_directory(self, response: AcmeResponse) -> Directory:
        """Section 7.1.1; a URL that answers but not with a directory is the user's to fix.

        A 200 that is not JSON may be a gateway's page in front of a CA that is briefly away, so it
        is a failed read (asked again) before it is called a wrong URL.
        """
        if response.status != 200:
            raise ConfigurationError(
                f"{self.directory_url} answered HTTP {response.status}; is this the CA's ACME directory URL?",
                option="acme_directory",
            )
        try:
            data = json.loads(response.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ProtocolError(
                f"{self.directory_url} did not answer with a JSON ACME directory (got {response.content_type or 'no content type'})",
                url=self.directory_url,
                status=response.status,
                advice=_ADVICE_NOT_A_DIRECTORY,
            ) from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"{self.directory_url} answered JSON that is not an object; is this the CA's ACME directory URL?", option="acme_directory")
        return Directory(self.directory_url, data)

    def _take_nonce(self, response: t.Any) -> None:
        nonce = response.headers.get("Replay-Nonce")
        if nonce:
            self._nonce = nonce

    def _fresh_nonce(self) -> str:
        if self._nonce is None:
            url = self.directory.require("newNonce")

            def has_nonce(response: AcmeResponse) -> None:
                if self._nonce is None:
                    raise ProtocolError(f"the CA's newNonce ({url}) returned no Replay-Nonce header (HTTP {response.status})", url=url, status=response.status)

            self._exchange("HEAD", url, parse=has_nonce, context="asking the CA for a nonce")
        nonce, self._nonce = self._nonce, None  # a nonce is good for one request only
        return t.cast(str, nonce)

    # -- requests ---------------------------------------------------------------------------

    @t.overload
    def get(self, url: str) -> AcmeResponse: ...

    @t.overload
    def get(self, url: str, *, parse: t.Callable[[AcmeResponse], T], context: str | None = None) -> T: ...

    def get(self, url: str, *, parse: t.Callable[[AcmeResponse], t.Any] | None = None, context: str | None = None) -> t.Any:
        """Unauthenticated GET (directory, renewalInfo), following https:// redirects only.

        Sent again after faults like a read; `parse` (when given) turns the final answer into a value.
        """
        for _hop in range(MAX_REDIRECTS + 1):
            response, value = self._exchange("GET", url, parse=_unless_redirect(parse), context=context)
            if not _is_redirect(response):
                return value if parse is not None else response
            if urlparse(t.cast(str, response.location)).scheme != "https":
                raise TransportError(f"{url} redirects to {response.location}, which is not https://; refused", url=url)
            url = t.cast(str, response.location)
        raise TransportError(f"{url}: more than {MAX_REDIRECTS} redirects", url=url)

    @t.overload
    def post(
        self,
        url: str,
        *,
        key: SigningKey,
        payload: dict[str, t.Any] | None,
        kid: str | None = None,
        context: str | None = None,
        accept: str | None = None,
        idempotent: bool = False,
    ) -> AcmeResponse: ...

    @t.overload
    def post(
        self,
        url: str,
        *,
        key: SigningKey,
        payload: dict[str, t.Any] | None,
        parse: t.Callable[[AcmeResponse], T],
        kid: str | None = None,
        context: str | None = None,
        accept: str | None = None,
        idempotent: bool = False,
    ) -> T: ...

    def post(
        self,
        url: str,
        *,
        key: SigningKey,
        payload: dict[str, t.Any] | None,
        parse: t.Callable[[AcmeResponse], t.Any] | None = None,
        kid: str | None = None,
        context: str | None = None,
        accept: str | None = None,
        idempotent: bool = False,
    ) -> t.Any:
        """A signed POST (payload `None` = POST-as-GET); raises `ProblemError` on a problem document.

        A POST with a payload may change state at the CA: it is sent again only when the CA cannot
        have acted on it (no connection, 429/503, badNonce); when it may have, `OutcomeUnknown` is
        raised so the caller can read the resource back. `parse` (when given) turns the answer into
        a value; a success answer it cannot read raises `OutcomeUnknown` too, since the CA acted.
        `idempotent=True` marks a POST that is harmless to repeat (an account lookup or registration)
        and is retried like a read, an answer `parse` refuses included.
        """
        return self._signed(
            url,
            key=key,
            payload=payload,
            kid=kid,
            context=context,
            accept=accept,
            changes_state=payload is not None and not idempotent,
            parse=parse or _as_is,
        )

    def post_as_get(self, url: str, *, key: SigningKey, kid: str, context: str | None = None, accept: str | None = None) -> AcmeResponse:
        return self.post(url, key=key, payload=None, kid=kid, context=context, accept=accept)

    def read(
        self,
        url: str,
        *,
        key: SigningKey,
        kid: str,
        parse: t.Callable[[AcmeResponse], T],
        context: str | None = None,
        accept: str | None = None,
    ) -> T:
        """A POST-as-GET whose answer `parse` turns into a value (raising ProtocolError when it cannot).

        Reads change nothing at the CA, so an answer that is lost, cut short, a 5xx, or that `parse`
        refuses is asked for again, with a fresh nonce, within retry_timeout.
        """
        return self._signed(url, key=key, payload=None, kid=kid, context=context, accept=accept, changes_state=False, parse=parse)

    def _signed(
        self,
        url: str,
        *,
        key: SigningKey,
        payload: dict[str, t.Any] | None,
        kid: str | None,
        context: str | None,
        accept: str | None,
        changes_state: bool,
        parse: t.Callable[[AcmeResponse], T],
    ) -> T:
        def signed_body() -> bytes:
            # signed anew for every try: each needs a nonce of its own
            jws = sign_jws(key=key, url=url, payload=payload, nonce=self._fresh_nonce(), kid=kid)
            return json.dumps(jws).encode("utf-8")

        return self._exchange("POST", url, make_body=signed_body, accept=accept, changes_state=changes_state, parse=parse, context=context)

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        parse: t.Callable[[AcmeResponse], T],
        make_body: t.Callable[[], bytes] | None = None,
        accept: str | None = None,
        changes_state: bool = False,
        context: str | None = None,
    ) -> T:
        """One request, sent again as long as a fault allows and retry_timeout lasts.

        `parse` sees only answers that are whole and neither 429 nor 5xx; a ProtocolError it raises
        (other than a problem) makes a read be sent again. Problem documents other than badNonce
        are raised at once.
        """
        headers = {"User-Agent": USER_AGENT}
        if make_body is not None:
            headers["Content-Type"] = "application/jose+json"
        if accept:
            headers["Accept"] = accept
        attempts = Attempts(retry_timeout=self.retry_timeout, log=self.retries, clock=self.clock, sleep=self.sleep)
        reached = False  # whether a failed try may have reached the CA
        while True:
            body = make_body() if make_body is not None else None
            attempts.sent()
            response: AcmeResponse | None
            fault: Fault | None
            try:
                raw = self._http.request(method, url, data=body, headers=headers, timeout=self.request_timeout, verify=self._verify, allow_redirects=False)
            except _REQUEST_FAILURES as exc:
                fault = self._fault_of_failure(exc, url)
                response = None
            else:
                self.request_count += 1
                self._take_nonce(raw)
                response = AcmeResponse(url=url, status=raw.status_code, headers=raw.headers, content=raw.content or b"", after_lost_answer=reached)
                fault = self._fault_of_answer(response, method)
                if fault is None and make_body is not None:
                    fault = self._refusal(response, context)
                if fault is None:
                    try:
                        return parse(response)
                    except (ProblemError, RefusedRequest):
                        raise
                    except ProtocolError as exc:
                        if changes_state and not 200 <= response.status < 300:
                            raise
                        fault = Fault(INCOMPLETE_ANSWER, "unreadable answer", str(exc), exc.advice or _ADVICE_DAMAGED, FAULT_TRIES, True)
            if changes_state and fault.reached:
                raise OutcomeUnknown(
                    f"{_prefix(context)}{fault.description}; the CA may have processed the request, so it was not sent again",
                    url=url,
                    description=fault.description,
                    advice=_advice_when_lost(fault),
                    tries=attempts.tries,
                    context=context,
                    location=response.location if response is not None else None,
                    status=response.status if response is not None else None,
                )
            if not attempts.again(fault):
                raise self._given_up(fault, attempts, url, response, context)
            reached = reached or fault.reached

    def _fault_of_failure(self, exc: BaseException, url: str) -> Fault:
        """What a failed exchange means; raises at once when sending again cannot help."""
        if isinstance(exc, requests.exceptions.SSLError) and _is_verification_failure(exc):
            raise TransportError(
                f"TLS verification of {url} failed ({_reason(exc)}); if the CA uses a private CA, set ca_path to its certificate bundle",
                url=url,
            ) from None
        reason = exc if isinstance(exc, urllib3_errors.HTTPError) else _urllib3_reason(exc)
        if isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(reason, NewConnectionError):
            return Fault(CONNECTION, "cannot connect", f"cannot connect to {url}: {_reason(exc)}", _ADVICE_UNREACHABLE, FAULT_TRIES, False)
        if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(reason, ReadTimeoutError):
            return Fault(
                CONNECTION,
                "read timeout",
                f"no answer from {url} within request_timeout {self.request_timeout:g} s",
                _ADVICE_SLOW,
                FAULT_TRIES,
                True,
            )
        if isinstance(exc, _CUT_SHORT):
            return Fault(
                INCOMPLETE_ANSWER,
                "truncated answer",
                f"the answer from {url} was cut short: {_reason(exc)}",
                _ADVICE_DAMAGED,
                FAULT_TRIES,
                True,
            )
        # requests.exceptions.SSLError is a ConnectionError: a TLS connection cut midway is a lost connection too.
        if isinstance(exc, requests.exceptions.ConnectionError):
            return Fault(CONNECTION, "lost connection", f"the connection to {url} was lost: {_reason(exc)}", _ADVICE_UNREACHABLE, FAULT_TRIES, True)
        raise TransportError(f"request to {url} failed: {_reason(exc)}", url=url) from None

    @staticmethod
    def _fault_of_answer(response: AcmeResponse, method: str) -> Fault | None:
        """A fault of an answer that came: cut short, rate limited or a server error; None when it is usable."""
        url, status = response.url, response.status
        cut_short = response.cut_short() if method != "HEAD" else None
        if cut_short:
            return Fault(
                INCOMPLETE_ANSWER,
                "truncated answer",
                f"the answer from {url} was cut short: {cut_short}",
                _ADVICE_DAMAGED,
                FAULT_TRIES,
                True,
            )
        if status == 429:
            return Fault(RATE_LIMITED, "HTTP 429", f"{url} answered HTTP 429", _ADVICE_RATE_LIMITED, RATE_LIMIT_TRIES, False, response.retry_after())
        if status >= 500:
            # 503 says the CA did not take the request; after 500/502/504 it may have acted on it
            return Fault(
                SERVER_ERROR,
                f"HTTP {status}",
                f"{url} answered HTTP {status}",
                _ADVICE_UNAVAILABLE,
                RATE_LIMIT_TRIES if status == 503 else FAULT_TRIES,
                status != 503,
                response.retry_after(),
            )
        return None

    @staticmethod
    def _refusal(response: AcmeResponse, context: str | None) -> Fault | None:
        """A POST the CA refused (section 6.7): badNonce is a fault to send again at once; others are raised.

        An ACME server refuses with a problem document; a 4xx without one comes from something in
        front of it (a gateway's page, or a refusal whose body was replaced). A 4xx says the request
        was not acted on, so it is sent again, even one that changes state.
        """
        if response.is_problem():
            error = response.problem_error(context)
            if not error.has_type("badNonce"):
                raise error
            return Fault(BAD_NONCE, "badNonce", f"the CA rejected the nonce at {response.url}", "", BAD_NONCE_TRIES, False)
        if response.status >= 400:
            return Fault(
                INCOMPLETE_ANSWER,
                f"HTTP {response.status}",
                f"{response.url} answered HTTP {response.status} ({response.content_type or 'no content type'}) instead of a problem document",
                _ADVICE_NOT_THE_CA,
                FAULT_TRIES,
                False,
            )
        return None

    @staticmethod
    def _given_up(fault: Fault, attempts: Attempts, url: str, response: AcmeResponse | None, context: str | None) -> AcmeError:
        """The one-line error of a request that kept failing: URL, status or problem, tries, time, advice."""
        if fault.kind == BAD_NONCE and response is not None:
            return response.problem_error(
                context, note=f"the CA rejected {attempts.bad_nonces} nonces in a row at {response.url}; it may be overloaded, try again later"
            )
        if response is not None and fault.kind in (RATE_LIMITED, SERVER_ERROR) and response.is_problem():
            return response.problem_error(context, note=f"{fault.description} ({attempts.account()}); {fault.advice}")
        message = f"{_prefix(context)}{fault.description} ({attempts.account()}); {fault.advice}"
        if response is None:
            return TransportError(message, url=url)
        return ProtocolError(message, url=response.url, status=response.status, advice=fault.advice)


def _advice_when_lost(fault: Fault) -> str:
    """What to do when answers to a request that changes state keep getting lost (retry_timeout does not bound these)."""
    if fault.label == "read timeout":
        return "the CA is slow or stalled: raise request_timeout, or check the CA's status page and run again later"
    if fault.kind == SERVER_ERROR:
        return "the CA is failing: check the CA's status page and run again later"
    if fault.kind == CONNECTION:
        return "check that the CA is up and that nothing between here and the CA drops answers, then run again"
    return fault.advice


def _as_is(response: AcmeResponse) -> AcmeResponse:
    return response


def _is_redirect(response: AcmeResponse) -> bool:
    return response.status in (301, 302, 303, 307, 308) and bool(response.location)


def _unless_redirect(parse: t.Callable[[AcmeResponse], T] | None) -> t.Callable[[AcmeResponse], tuple[AcmeResponse, T | None]]:
    """Parse the answer that ends a chain of redirects; a redirect itself is followed, not parsed."""

    def answer(response: AcmeResponse) -> tuple[AcmeResponse, T | None]:
        return response, (parse(response) if parse is not None and not _is_redirect(response) else None)

    return answer


def _prefix(context: str | None) -> str:
    return f"{context}: " if context else ""


def _is_verification_failure(exc: BaseException) -> bool:
    """Whether a TLS error says the CA's certificate cannot be trusted (what ca_path fixes), not that the connection broke."""
    pending: list[object] = [exc]
    looked_at: set[int] = set()
    while pending:
        error = pending.pop()
        if id(error) in looked_at:
            continue
        looked_at.add(id(error))
        if isinstance(error, ssl.SSLCertVerificationError) or "certificate verify failed" in str(error).lower():
            return True
        if isinstance(error, BaseException):
            pending.extend(error.args)
            pending.append(getattr(error, "reason", None))
    return False


def _urllib3_reason(exc: BaseException) -> object:
    """The urllib3 error inside a requests error (inside MaxRetryError when there is one)."""
    inner = exc.args[0] if exc.args else None
    return getattr(inner, "reason", None) or inner


def _reason(exc: BaseException) -> str:
    """The part of a requests/urllib3 error a person can act on, without object reprs."""
    inner = exc.args[0] if exc.args else exc
    if isinstance(inner, urllib3_errors.ProtocolError) and len(inner.args) == 2:
        # ("Connection aborted.", ConnectionResetError(...)) or ("Connection broken: IncompleteRead(...)", IncompleteRead(...))
        what, cause = str(inner.args[0]).rstrip("."), inner.args[1]
        return what if type(cause).__name__ in what else f"{what}: {cause}"
    text = str(getattr(inner, "reason", inner))
    for marker in ("Failed to establish a new connection: ", "Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = re.sub(r"^\w+\(host=[^)]*\): ", "", text).strip("'\" ")
    while text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].rstrip("'\" ")
    return text
