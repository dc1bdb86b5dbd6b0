"""Absolute URLs come from `[server] public_url`, never from the request's Host header.

Starlette builds every absolute URL it makes (trailing-slash redirects, `request.url`,
`request.base_url`, `url_for`, a WSDL's `soap:address`) from the request's scope, and there from
the `Host` header a client chose: a redirect to `http://evil.example/...` is one header away. This
middleware, outermost, rewrites the scope before anything reads it: scheme, server and `Host` are
those of `public_url`, or, when it is not set, of the socket the connection was accepted on (the
gateway's own address, which no client chooses).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import ConfigError


class PublicUrlMiddleware:
    """`public`: `parse_public_url([server] public_url)`, None when the setting is empty."""

    def __init__(self, app: ASGIApp, public: tuple[str, str, int] | None) -> None:
        self.app = app
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.public is not None:
            scheme, host, port = self.public
        else:
            scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
            host, port = scope.get("server") or ("127.0.0.1", 80)
        default_port = 443 if scheme == "https" else 80
        authority = _bracket(host) if port == default_port else f"{_bracket(host)}:{port}"
        headers = [(k, v) for k, v in scope.get("headers", ()) if k != b"host"]
        headers.append((b"host", authority.encode("latin-1")))
        scope = {**scope, "headers": headers, "server": (host, port),
                 "scheme": scheme if scope["type"] == "http" else scheme.replace("http", "ws")}
        await self.app(scope, receive, send)


def parse_public_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of `[server] public_url` (a path in it is not used: a proxy that adds
    one must strip it); a one-line ConfigError when it is not such a URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"[server] public_url is not a URL: {url!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.hostname.isascii():
        raise ConfigError(f"[server] public_url must be an http(s) URL with an ASCII (punycode) host, "
                          f"got {url!r}")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
