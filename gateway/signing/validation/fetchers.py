"""One validation's fetching: pyhanko-certvalidator fetchers that go through the fetch policy and
the revocation cache.

`FetchSession` gives pyhanko-certvalidator its requests fetchers with the HTTP call replaced by
`fetchpolicy.fetch`; they answer from the cache (revcache.py) when they can, share a fetch of the
same URL with concurrent validations (single flight), do not ask a URL that just failed again
before its back-off has passed, and record what was fetched, reused or refused for the report. A
refused or failed fetch does not throw away what the file embeds: the CRL fetcher then gives no
CRL and the OCSP fetcher a "try later" answer, so pyhanko goes on with the embedded data.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import crl, ocsp, x509
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.errors import CRLFetchError, OCSPFetchError
from pyhanko_certvalidator.fetchers.api import FetcherBackend, Fetchers, FetchLimits
from pyhanko_certvalidator.fetchers.common_utils import FetchBudget
from pyhanko_certvalidator.fetchers.requests_fetchers.cert_fetch_client import RequestsCertificateFetcher
from pyhanko_certvalidator.fetchers.requests_fetchers.crl_client import RequestsCRLFetcher
from pyhanko_certvalidator.fetchers.requests_fetchers.ocsp_client import RequestsOCSPFetcher
from pyhanko_certvalidator.util import issuer_serial

from gateway.signing.report import RevocationSource
from gateway.signing.validation.fetchpolicy import FetchFailed, FetchPolicy, FetchRefused, Response, fetch
from gateway.signing.validation.revcache import Candidate, RevocationCache, describe

DEFAULT_BACKOFF_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 900.0
MAX_URLS = 4096
#: per validation: a real chain needs a dozen (OCSP, CRL and delta CRL per certificate, a few
#: issuers); pyhanko's defaults (1000) let one hostile certificate cause far more
LIMITS = FetchLimits(max_requests=24, max_cert_requests=8)


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Response | None = None
        self.error: Exception | None = None


class SingleFlight:
    """Concurrent calls with the same key share one execution of `work`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Any, _Flight] = {}

    def do(self, key: Any, work: Callable[[], Response]) -> Response:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
        else:
            try:
                flight.result = work()
            except Exception as exc:  # noqa: BLE001 - handed to every waiter, then re-raised
                flight.error = exc
            finally:
                with self._lock:
                    self._flights.pop(key, None)
                flight.done.set()
        if flight.error is not None:
            raise flight.error
        assert flight.result is not None
        return flight.result


class Backoff:
    """A URL that failed is not asked again before its delay has passed (doubling per
    consecutive failure up to MAX_BACKOFF_SECONDS; a success resets it)."""

    def __init__(self, base_seconds: float = DEFAULT_BACKOFF_SECONDS) -> None:
        self.base_seconds = base_seconds
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}  # url -> (retry at, last delay)

    def wait_left(self, url: str, now: float) -> float:
        with self._lock:
            until, _ = self._state.get(url, (0.0, 0.0))
        return max(0.0, until - now)

    def failed(self, url: str, now: float) -> float:
        with self._lock:
            _, last = self._state.get(url, (0.0, 0.0))
            delay = min(MAX_BACKOFF_SECONDS, last * 2 if last else self.base_seconds)
            self._state[url] = (now + delay, delay)
            if len(self._state) > MAX_URLS:
                self._state = {k: v for k, v in self._state.items() if v[0] > now}
            return delay

    def succeeded(self, url: str) -> None:
        with self._lock:
            self._state.pop(url, None)


FLIGHTS = SingleFlight()
_BACKOFFS: dict[float, Backoff] = {}


def backoff_for(seconds: float) -> Backoff:
    return _BACKOFFS.setdefault(seconds, Backoff(seconds))


@dataclass
class FetchSession:
    """What one validation fetched, reused from the cache, or was refused."""

    cache: RevocationCache
    policy: FetchPolicy
    backoff: Backoff
    warnings: list[str] = field(default_factory=list)
    seen: list[Candidate] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, candidate: Candidate) -> None:
        with self._lock:
            self.seen.append(candidate)

    def warn(self, message: str) -> None:
        with self._lock:
            if message not in self.warnings:
                self.warnings.append(message)

    def http(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Response:
        """One policy-checked request, shared with concurrent identical ones, skipped while the
        URL is backing off. Raises a requests exception (pyhanko reports a fetch error)."""
        left = self.backoff.wait_left(url, time.monotonic())
        if left > 0:
            message = f"not fetching {url}: it failed recently, next try in {left:.0f} s"
            self.warn(message)
            raise FetchFailed(message)

        def work() -> Response:
            """Run once for all concurrent callers, so one failure backs off once."""
            try:
                response = fetch(self.policy, method, url, body=body, headers=headers)
                if response.status_code != 200:
                    raise FetchFailed(f"cannot fetch {url}: HTTP {response.status_code}")
            except FetchFailed as exc:
                delay = self.backoff.failed(url, time.monotonic())
                raise FetchFailed(f"{exc}; not asked again for {delay:.0f} s") from None
            self.backoff.succeeded(url)
            return response

        try:
            return FLIGHTS.do((method, url, body), work)
        except (FetchRefused, FetchFailed) as exc:
            self.warn(str(exc))
            raise

    def backend(self) -> FetcherBackend:
        return _Backend(self)

    def sources(self, path: Sequence[x509.Certificate],
                local: Iterable[Candidate]) -> list[RevocationSource]:
        """What verified for `path` among `local` (what the file embeds and the cache folder
        holds) and what the fetchers fetched or reused; kept in the cache."""
        with self._lock:
            seen = list(self.seen)
        return describe(self.cache, path, [*local, *seen], store=True)


def _now() -> float:
    return time.time()


class _PolicyHttp:
    """Replaces the requests fetchers' HTTP calls with the session's policy-checked ones."""

    session: FetchSession
    user_agent: str

    def _get(self, url: str, *, acceptable_content_types: Sequence[str]) -> Any:
        headers = {"Accept": ",".join(acceptable_content_types), "User-Agent": self.user_agent}
        return asyncio.to_thread(self.session.http, "GET", url, None, headers)

    def _post(self, url: str, data: bytes, *, content_type: str,
              acceptable_content_types: Sequence[str]) -> Any:
        headers = {"Accept": ",".join(acceptable_content_types), "User-Agent": self.user_agent,
                   "Content-Type": content_type}
        return asyncio.to_thread(self.session.http, "POST", url, data, headers)


class _CrlFetcher(_PolicyHttp, RequestsCRLFetcher):
    def __init__(self, session: FetchSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    async def fetch(self, cert: Any, *, use_deltas: bool = True) -> Any:
        if isinstance(cert, x509.Certificate):
            hits = self.session.cache.crls_for(cert, _now())
            if hits:
                for e in hits:
                    self.session.note(Candidate("crl", e.der, "cached", e.url, e.fetched_at))
                parsed = [crl.CertificateList.load(e.der) for e in hits]
                self._by_cert[issuer_serial(cert)] = parsed
                return parsed
        try:
            return await super().fetch(cert, use_deltas=use_deltas)
        except CRLFetchError:
            # pyhanko would drop the CRLs the file embeds as well; the session warned already
            self._by_cert[issuer_serial(cert)] = []
            return []

    async def _fetch_single(self, url: str) -> Any:
        result = await super()._fetch_single(url)
        self.session.note(Candidate("crl", result.dump(), "fetched", url, time.time()))
        return result


class _OcspFetcher(_PolicyHttp, RequestsOCSPFetcher):
    def __init__(self, session: FetchSession, **kwargs: Any) -> None:
        # no nonce: a response is reused from the cache and shared by concurrent validations
        super().__init__(request_nonces=False, **kwargs)
        self.session = session
        self._cached: dict[Any, ocsp.OCSPResponse] = {}

    async def fetch(self, cert: Any, authority: Authority) -> ocsp.OCSPResponse:
        if isinstance(cert, x509.Certificate):
            hit = self.session.cache.ocsp_for(cert, authority, _now())
            if hit is not None:
                self.session.note(Candidate("ocsp", hit.der, "cached", hit.url, hit.fetched_at))
                response = ocsp.OCSPResponse.load(hit.der)
                self._cached[issuer_serial(cert)] = response
                return response
        try:
            return await super().fetch(cert, authority)
        except OCSPFetchError:
            # "try later" carries no response, so pyhanko goes on with the embedded ones (if any)
            return ocsp.OCSPResponse({"response_status": "try_later"})

    async def _fetch_single(self, ocsp_url: str, ocsp_request: Any) -> Any:
        result = await super()._fetch_single(ocsp_url, ocsp_request)
        self.session.note(Candidate("ocsp", result.dump(), "fetched", ocsp_url, time.time()))
        return result

    def fetched_responses_for_cert(self, cert: Any) -> Iterable[ocsp.OCSPResponse]:
        found = set(super().fetched_responses_for_cert(cert))
        cached = self._cached.get(issuer_serial(cert))
        if cached is not None:
            found.add(cached)
        return found


class _CertFetcher(_PolicyHttp, RequestsCertificateFetcher):
    def __init__(self, session: FetchSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session


class _Backend(FetcherBackend):
    def __init__(self, session: FetchSession) -> None:
        self.session = session

    def get_fetchers(self) -> Fetchers:
        budget = FetchBudget(LIMITS)
        timeout = self.session.policy.timeout
        return Fetchers(
            ocsp_fetcher=_OcspFetcher(self.session, per_request_timeout=timeout, budget=budget),
            crl_fetcher=_CrlFetcher(self.session, per_request_timeout=timeout, budget=budget),
            cert_fetcher=_CertFetcher(self.session, per_request_timeout=timeout, budget=budget),
        )

    async def close(self) -> None:
        return None
