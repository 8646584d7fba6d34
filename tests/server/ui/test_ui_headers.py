"""The security headers: on every /ui response, on nothing else (pure ASGI, no server)."""

from __future__ import annotations

import asyncio

from engine.server.ui.headers import CONTENT_SECURITY_POLICY, SecurityHeadersMiddleware


async def _app(scope, receive, send) -> None:
    headers = [(b"content-type", b"text/plain")]
    if scope["path"].endswith("/own"):
        headers.append((b"cache-control", b"max-age=60"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def _headers(path: str) -> dict[bytes, bytes]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    asyncio.run(SecurityHeadersMiddleware(_app)({"type": "http", "path": path}, receive, send))
    return dict(sent[0]["headers"])


def test_every_ui_response_gets_the_headers_and_pages_are_not_stored() -> None:
    for path in ("/ui", "/ui/jobs/x", "/ui/static/live-job.js"):
        headers = _headers(path)
        assert headers[b"content-security-policy"] == CONTENT_SECURITY_POLICY.encode()
        assert b"script-src 'self'" in headers[b"content-security-policy"]
        assert b"frame-ancestors 'none'" in headers[b"content-security-policy"]
        assert b"unsafe-inline" not in headers[b"content-security-policy"]
        assert headers[b"x-content-type-options"] == b"nosniff"
        assert headers[b"x-frame-options"] == b"DENY"
    assert _headers("/ui/jobs")[b"cache-control"] == b"no-store"
    assert b"cache-control" not in _headers("/ui/static/dashboard.css")
    assert _headers("/ui/own")[b"cache-control"] == b"max-age=60"  # a route's own is kept


def test_other_paths_are_left_alone() -> None:
    for path in ("/v1/jobs", "/docs", "/uix", "/metrics"):
        assert b"content-security-policy" not in _headers(path)
