"""Security headers on every response, and where a request comes from.

The headers (review-app.md): a CSP that allows script only from the app's own static
files (none inline), `frame-ancestors 'none'`, `Referrer-Policy: no-referrer`,
`X-Content-Type-Options: nosniff`; pages with case data are not cached. A response may
set a CSP of its own (the overview page, whose inline styles and SVG come from the
report, still runs no script at all).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# The steering group's overview (overview.html): inline <style> and SVG, and no script.
OVERVIEW_CSP = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")

HEADERS = [
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """ASGI middleware: the headers on every response, also errors and static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                headers += [h for h in HEADERS if h[0] not in names]
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def client_address(scope_client: tuple[str, int] | None, headers, trusted_proxy: str | None) -> str | None:
    """The address a request came from: the peer, or, from the trusted proxy, the
    client it names last in X-Forwarded-For."""
    peer = scope_client[0] if scope_client else None
    if trusted_proxy and peer == trusted_proxy:
        forwarded = headers.get("x-forwarded-for")
        if forwarded:
            last = forwarded.split(",")[-1].strip()
            if last:
                return last[:100]
    return peer


def is_https(scheme: str, peer: str | None, headers, trusted_proxy: str | None) -> bool:
    """Whether the browser reached us over https (directly or through the trusted proxy)."""
    if scheme == "https":
        return True
    return bool(trusted_proxy and peer == trusted_proxy
                and headers.get("x-forwarded-proto", "").lower() == "https")
