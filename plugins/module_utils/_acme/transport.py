# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to an ACME server: one HTTPS session, the directory, nonces and retries.

RFC 8555 section 6 (transport, POST-as-GET, nonces, rate limits) and section 7.1.1 (directory).
"""

from __future__ import annotations

import datetime
import email.utils
import json
import re
import time
import typing as t
from urllib.parse import urljoin, urlparse

from .errors import ConfigurationError, OutcomeUnknown, ProblemError, ProtocolError, TransportError
from .jose import SigningKey, sign_jws

try:
    import requests
    from requests.utils import parse_header_links
except ImportError:
    pass  # reported by deps.missing_libraries() before any of this runs

USER_AGENT = "certforge.acme/0.1.0"
# With a CA rejecting half of all nonces, 25 tries fail once in 30 million requests.
BAD_NONCE_TRIES = 25
# Connection failures and 5xx answers other than 503 are retried this often, with backoff.
SERVER_ERROR_TRIES = 3
# 429/503 answers are retried as Retry-After asks, within retry_timeout and at most this often.
RATE_LIMIT_TRIES = 10
MAX_REDIRECTS = 5

T = t.TypeVar("T")


class AcmeResponse:
    """An HTTP answer of the CA with the ACME-relevant parts decoded."""

    def __init__(self, *, url: str, status: int, headers: t.Mapping[str, str], content: bytes) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.content = content

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json(self) -> dict[str, t.Any]:
        try:
            value = json.loads(self.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ProtocolError(
                f"expected JSON from {self.url} but got {self.content_type or 'no content type'} "
                f"({len(self.content)} bytes) with HTTP {self.status}",
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

    def problem_error(self, context: str | None = None) -> ProblemError:
        try:
            problem = self.json()
        except ProtocolError:
            problem = {"type": "about:blank", "detail": self.content[:200].decode("utf-8", "replace")}
        return ProblemError(
            url=self.url, status=self.status, problem=problem, retry_after=self.headers.get("Retry-After"), context=context
        )


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
        self.bad_nonce_retries = 0

    # -- directory and nonces ---------------------------------------------------------------

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            try:
                response = self.get(self.directory_url)
            except TransportError as exc:
                raise TransportError(f"acme_directory: {exc}", url=exc.url) from None
            if response.status != 200:
                raise ConfigurationError(
                    f"{self.directory_url} answered HTTP {response.status}; is this the CA's ACME directory URL?",
                    option="acme_directory",
                )
            try:
                data = response.json()
            except ProtocolError:
                raise ConfigurationError(
                    f"{self.directory_url} did not answer with a JSON ACME directory "
                    f"(got {response.content_type or 'no content type'}); is this the CA's ACME directory URL?",
                    option="acme_directory",
                ) from None
            self._directory = Directory(self.directory_url, data)
        return self._directory

    def _take_nonce(self, response: t.Any) -> None:
        nonce = response.headers.get("Replay-Nonce")
        if nonce:
            self._nonce = nonce

    def _fresh_nonce(self) -> str:
        if self._nonce is None:
            url = self.directory.require("newNonce")
            response = self._send("HEAD", url)
            if self._nonce is None:
                raise ProtocolError(f"the CA's newNonce ({url}) returned no Replay-Nonce header", url=url, status=response.status)
        nonce, self._nonce = self._nonce, None  # a nonce is good for one request only
        return t.cast(str, nonce)

    # -- requests ---------------------------------------------------------------------------

    def get(self, url: str) -> AcmeResponse:
        """Unauthenticated GET (directory, renewalInfo), following https:// redirects only."""
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send("GET", url)
            if response.status not in (301, 302, 303, 307, 308) or not response.location:
                return response
            if urlparse(response.location).scheme != "https":
                raise TransportError(f"{url} redirects to {response.location}, which is not https://; refused", url=url)
            url = response.location
        raise TransportError(f"{url}: more than {MAX_REDIRECTS} redirects", url=url)

    def post(
        self,
        url: str,
        *,
        key: SigningKey,
        payload: dict[str, t.Any] | None,
        kid: str | None = None,
        context: str | None = None,
        accept: str | None = None,
    ) -> AcmeResponse:
        """A signed POST (payload `None` = POST-as-GET); raises `ProblemError` on a problem document.

        `badNonce` answers are retried at once with the nonce they carry (section 6.5).
        """
        error: ProblemError | None = None
        for _try in range(BAD_NONCE_TRIES):

            def signed_body() -> bytes:
                # signed anew for every try: each needs a nonce of its own
                jws = sign_jws(key=key, url=url, payload=payload, nonce=self._fresh_nonce(), kid=kid)
                return json.dumps(jws).encode("utf-8")

            response = self._send("POST", url, make_body=signed_body, accept=accept)
            if not response.is_problem():
                if response.status >= 400:
                    raise ProtocolError(
                        f"{context + ': ' if context else ''}the CA answered HTTP {response.status} "
                        f"({response.content_type or 'no content type'}) instead of a problem document",
                        url=url,
                        status=response.status,
                    )
                return response
            error = response.problem_error(context)
            if not error.has_type("badNonce"):
                raise error
            self.bad_nonce_retries += 1
        raise t.cast(ProblemError, error)

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

        Reads change nothing at the CA, so they are safe to send again.
        """
        return parse(self.post_as_get(url, key=key, kid=kid, context=context, accept=accept))

    def _send(
        self, method: str, url: str, *, make_body: t.Callable[[], bytes] | None = None, accept: str | None = None
    ) -> AcmeResponse:
        """One HTTP exchange, retried on 429/503 (Retry-After), other 5xx and lost connections."""
        headers = {"User-Agent": USER_AGENT}
        if make_body is not None:
            headers["Content-Type"] = "application/jose+json"
        if accept:
            headers["Accept"] = accept
        deadline = self.clock() + self.retry_timeout
        failures = 0
        while True:
            body = make_body() if make_body is not None else None
            try:
                raw = self._http.request(
                    method, url, data=body, headers=headers, timeout=self.request_timeout, verify=self._verify, allow_redirects=False
                )
            except requests.exceptions.SSLError as exc:
                raise TransportError(
                    f"TLS verification of {url} failed ({_reason(exc)}); if the CA uses a private CA, set ca_path to its "
                    "certificate bundle",
                    url=url,
                ) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if make_body is not None and not isinstance(exc, requests.exceptions.ConnectTimeout) and _may_have_arrived(exc):
                    # the CA may have acted on it (finalize, revoke, newOrder): sending it again would mislead
                    raise OutcomeUnknown(f"no answer from {url}: {_reason(exc)}; the CA may have processed the request", url=url) from None
                failures += 1
                if not self._wait(failures, None, deadline):
                    raise TransportError(f"cannot connect to {url}: {_reason(exc)}", url=url) from None
                continue
            except requests.exceptions.RequestException as exc:
                raise TransportError(f"request to {url} failed: {_reason(exc)}", url=url) from None
            self.request_count += 1
            self._take_nonce(raw)
            response = AcmeResponse(url=url, status=raw.status_code, headers=raw.headers, content=raw.content or b"")
            if response.status >= 500 or response.status == 429:
                failures += 1
                if self._wait(failures, response, deadline):
                    continue
            return response

    def _wait(self, failures: int, response: AcmeResponse | None, deadline: float) -> bool:
        """Sleep before the next try if the deadline allows; False when it is time to give up."""
        rate_limited = response is not None and response.status in (429, 503)
        if failures >= (RATE_LIMIT_TRIES if rate_limited else SERVER_ERROR_TRIES):
            return False
        backoff = min(0.5 * 2 ** (failures - 1), 10.0)
        # Retry-After wins, but a zero or past one must not make us hammer the CA
        wait = max(response.retry_after() or 0.0, backoff) if rate_limited and response is not None else backoff
        if self.clock() + wait > deadline:
            return False
        self.sleep(wait)
        return True


def _may_have_arrived(exc: BaseException) -> bool:
    """Whether a failed POST may have reached the CA: only a failure to connect proves it did not."""
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)
    return "NewConnectionError" not in type(reason).__name__ and "NameResolutionError" not in type(reason).__name__


def _reason(exc: BaseException) -> str:
    """The part of a requests/urllib3 error a person can act on, without object reprs."""
    inner = exc.args[0] if exc.args else exc
    text = str(getattr(inner, "reason", inner))
    for marker in ("Failed to establish a new connection: ", "Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = re.sub(r"^\w+\(host=[^)]*\): ", "", text).strip("'\" ")
    while text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].rstrip("'\" ")
    return text
