"""Which URLs validation may fetch (OCSP, CRL, AIA), and the one HTTP client that fetches them.

Certificates name the URLs their revocation data and issuers are fetched from, and an uploaded
certificate is chosen by whoever uploads it: unchecked, those fetches are a blind server-side
request forgery. So every fetch goes through `FetchPolicy.check` and `fetch`:

- only `http` and `https` (no `ldap`, `file`, ...);
- a DNS name is resolved once and every address it resolves to is checked; the connection then
  goes to a checked address (the name is kept for `Host`, SNI and certificate checks), so the name
  cannot re-resolve elsewhere between the check and the connection (DNS rebinding);
- loopback, link-local, private, shared, multicast, reserved, documentation and unspecified
  addresses (IPv4 and IPv6, also IPv4-mapped, 6to4 and Teredo IPv6) are refused unless
  `[trust] fetch_allow` names the host, the host:port or a network holding the address;
- redirects are not followed; a body is read up to `max_bytes` within `timeout` seconds overall.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from gateway.errors import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
CHUNK = 64 * 1024
SCHEMES = {"http": 80, "https": 443}


class FetchRefused(requests.RequestException):
    """The policy does not allow this fetch (pyhanko-certvalidator turns it into a fetch error)."""


class FetchFailed(requests.RequestException):
    """The fetch was allowed but did not give a usable answer."""


@dataclass(frozen=True)
class AllowEntry:
    """One `[trust] fetch_allow` item: a host name or a network, optionally with a port."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def matches(self, host: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host
        return self.network is not None and _plain(address) in self.network


def parse_allow(item: str) -> AllowEntry:
    """`host`, `host:port`, `1.2.3.4`, `1.2.3.4:8081`, `10.0.0.0/8`, `[::1]:8081`, `fd00::/8`."""
    text = item.strip().lower()
    if not text:
        raise ValueError("empty fetch_allow entry")
    try:
        return AllowEntry(network=ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad fetch_allow entry {item!r}")
            port = _port(rest[1:], item)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, item)
    try:
        return AllowEntry(network=ipaddress.ip_network(host, strict=False), port=port)
    except ValueError:
        pass
    if not host or any(c in host for c in "/@ \t") or ":" in host:
        raise ValueError(f"bad fetch_allow entry {item!r}")
    return AllowEntry(host=host.rstrip("."), port=port)


def _port(text: str, item: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in fetch_allow entry {item!r}")
    return int(text)


def _plain(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv4-mapped IPv6 address stands for, else the address itself."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def denied_reason(address: IPAddress) -> str:
    """Why `address` is not a public destination, or "" when it is one."""
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
        candidates.extend(a for a in embedded if a is not None)
    for a in candidates:
        for attribute in ("is_unspecified", "is_loopback", "is_link_local", "is_multicast",
                          "is_private", "is_reserved"):
            if getattr(a, attribute):
                return attribute.removeprefix("is_").replace("_", "-") + " address"
        if not a.is_global:
            return "non-public address"
    return ""


@dataclass(frozen=True)
class Target:
    """A checked fetch: where to connect (`addresses`, already allowed) and what to ask for."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    path: str


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class FetchPolicy:
    """What validation may fetch. The default refuses every non-public address."""

    allow: tuple[AllowEntry, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    #: host, port -> addresses (tests give their own to play DNS)
    resolve: Callable[[str, int], list[str]] = field(default=system_resolve, compare=False, repr=False)

    @classmethod
    def from_items(cls, items: Iterable[str], *, timeout: float = DEFAULT_TIMEOUT,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> FetchPolicy:
        return cls(allow=tuple(parse_allow(i) for i in items), timeout=timeout, max_bytes=max_bytes)

    def _allowed(self, host: str, address: IPAddress, port: int) -> str:
        """"" when allowed, else why not."""
        if any(entry.matches(host, address, port) for entry in self.allow):
            return ""
        reason = denied_reason(address)
        return f"{address} is a {reason}, not in [trust] fetch_allow" if reason else ""

    def check(self, url: str) -> Target:
        """The checked target of `url`; FetchRefused says why a fetch of it is not allowed."""
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            host = (parts.hostname or "").rstrip(".")
            port = parts.port or SCHEMES.get(scheme, 0)
        except ValueError:
            raise FetchRefused(f"refused to fetch {url!r}: malformed URL") from None
        if scheme not in SCHEMES:
            raise FetchRefused(f"refused to fetch {url}: only http and https are fetched, not {scheme or '?'}"
                               ) from None
        if not host or parts.username is not None or parts.password is not None:
            raise FetchRefused(f"refused to fetch {url}: no host, or credentials in the URL")
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = self.resolve(host, port)
            except (OSError, UnicodeError) as exc:
                raise FetchRefused(f"refused to fetch {url}: {host} does not resolve ({exc})") from None
            if not addresses:
                raise FetchRefused(f"refused to fetch {url}: {host} does not resolve")
        for text in addresses:
            why = self._allowed(host, ipaddress.ip_address(text.split("%")[0]), port)
            if why:
                raise FetchRefused(f"refused to fetch {url}: {why}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(url, scheme, host, port, tuple(addresses), path)


def from_settings(trust: Any) -> FetchPolicy:
    """The policy of a `[trust]` section (config.TrustConfig); a bad entry is a ConfigError."""
    try:
        return FetchPolicy.from_items(trust.fetch_allow, timeout=trust.fetch_timeout,
                                      max_bytes=trust.fetch_max_bytes)
    except ValueError as exc:
        raise ConfigError(f"[trust] fetch_allow: {exc}") from None


@dataclass
class Response:
    """What pyhanko-certvalidator's requests fetchers read from an answer."""

    status_code: int
    content: bytes
    headers: Mapping[str, str]


def fetch(policy: FetchPolicy, method: str, url: str, *, body: bytes | None = None,
          headers: Mapping[str, str] | None = None) -> Response:
    """One request to a checked address: no redirects, bounded in size and time."""
    target = policy.check(url)
    deadline = time.monotonic() + policy.timeout
    last: Exception | None = None
    for address in target.addresses:
        try:
            return _request(policy, target, address, method, body, dict(headers or {}), deadline)
        except requests.RequestException:  # ours (an OSError too): final
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            last = exc
    raise FetchFailed(f"cannot fetch {url}: {last}")


def _request(policy: FetchPolicy, target: Target, address: str, method: str, body: bytes | None,
             headers: dict[str, str], deadline: float) -> Response:
    timeout = urllib3.Timeout(total=max(0.1, deadline - time.monotonic()))
    kwargs: dict[str, object] = {"timeout": timeout, "retries": False, "maxsize": 1}
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, target.port, server_hostname=target.host,
                                           assert_hostname=target.host, cert_reqs="CERT_REQUIRED", **kwargs)
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, **kwargs)
    host = f"[{target.host}]" if ":" in target.host else target.host
    headers["Host"] = host if target.port == SCHEMES[target.scheme] else f"{host}:{target.port}"
    with pool:
        answer = pool.urlopen(method, target.path, body=body, headers=headers, redirect=False,
                              preload_content=False, assert_same_host=False)
        try:
            if 300 <= answer.status < 400:
                raise FetchRefused(f"refused to follow the redirect of {target.url} (HTTP {answer.status})")
            declared = answer.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise FetchRefused(f"refused {target.url}: {declared} bytes, more than {policy.max_bytes}")
            data = bytearray()
            for chunk in answer.stream(CHUNK):
                data += chunk
                if len(data) > policy.max_bytes:
                    raise FetchRefused(f"refused {target.url}: more than {policy.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise FetchFailed(
                        f"cannot fetch {target.url}: no complete answer within {policy.timeout:g} s")
            return Response(answer.status, bytes(data), CaseInsensitiveDict(answer.headers))
        finally:
            answer.release_conn()
