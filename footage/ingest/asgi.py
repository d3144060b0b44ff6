"""The recorder's two hot endpoints as a lean ASGI app in front of the framework.

Every visitor sends a batch every few seconds, so `POST /api/v1/ingest` and
`POST /api/v1/heartbeat` skip the framework's routing and middleware layers (about a third of
the CPU a batch cost) and go straight to the write path. Everything else passes through to
the FastAPI app unchanged. The OpenAPI schema still documents both (see `openapi_paths`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from anyio import to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from footage.errors import FootageError, PayloadTooLarge, UnsupportedMediaType
from footage.ingest.limits import IngestLimits, Overloaded, TooManyRequests
from footage.ingest.wire import decode_body, parse_batch, parse_heartbeat
from footage.ingest.writer import Visit

log = logging.getLogger(__name__)
_ACCEPTED_TYPES = {b"", b"text/plain", b"application/json", b"application/octet-stream"}
HEARTBEAT_MAX_BYTES = 10_000
# A recorder's request carries a few hundred bytes of headers (a leave beacon also the
# cookies of the server's domain); far more is not a recorder.
MAX_HEADER_BYTES = 12_288


class RecorderEndpoints:
    def __init__(self, app: ASGIApp, services: Any) -> None:
        self.app = app
        self.svc = services
        settings = services.settings
        self.limits = IngestLimits(
            settings.ingest_ip_rate,
            settings.ingest_ip_burst,
            settings.ingest_site_rate,
            settings.ingest_site_burst,
        )
        # Requests between their headers and their answer; past the bound, 503 at once: an
        # overload is refused cheaply instead of piling up decoded batches in memory.
        self.max_in_flight = settings.ingest_max_in_flight
        self.in_flight = 0
        self.routes: dict[str, Callable[[bytes, Visit], Awaitable[tuple[int, bytes]]]] = {
            "/api/v1/ingest": self.ingest,
            "/api/v1/heartbeat": self.heartbeat,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.serve(handler, scope, receive, send)
        finally:
            self.in_flight -= 1

    async def serve(
        self,
        handler: Callable[[bytes, Visit], Awaitable[tuple[int, bytes]]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        extra: list[tuple[bytes, bytes]] = []
        try:
            if self.max_in_flight and self.in_flight > self.max_in_flight:
                raise Overloaded(
                    "the server is busy; send the batch again after Retry-After seconds",
                    retry_after=1,
                )
            if sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
                raise FootageError(
                    f"the request's headers are larger than {MAX_HEADER_BYTES} bytes; "
                    "send the recorder's requests without extra headers or cookies",
                    code="headers_too_large",
                    status=431,
                )
            client = scope.get("client")
            self.limits.check_ip(client[0] if client else None)  # batches and heartbeats
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if ctype not in _ACCEPTED_TYPES:
                raise UnsupportedMediaType(
                    f"Content-Type {ctype.decode(errors='replace')!r} is not accepted; "
                    "send text/plain or application/json"
                )
            limit = (
                self.svc.settings.max_body_bytes if handler == self.ingest else HEARTBEAT_MAX_BYTES
            )
            body = await read_body(receive, headers, limit)
            status, payload = await handler(body, visit_of(scope, headers))
        except FootageError as exc:
            status, payload = exc.status, orjson.dumps(exc.as_dict())
            if isinstance(exc, TooManyRequests):
                extra.append((b"retry-after", str(exc.retry_after).encode()))
        except Exception:
            log.exception("unexpected error on %s", scope["path"])
            status = 500
            payload = orjson.dumps(
                {"error": {"code": "internal", "message": "the server failed; retry later"}}
            )
        response_headers = [
            (b"access-control-allow-origin", origin or b"*"),
            (b"access-control-expose-headers", b"Retry-After"),
            (b"vary", b"Origin"),
            *extra,
        ]
        if payload:
            response_headers.append((b"content-type", b"application/json"))
        response_headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})

    async def ingest(self, body: bytes, visit: Visit) -> tuple[int, bytes]:
        batch = parse_batch(
            decode_body(body, self.svc.settings.max_inflated_bytes), self.svc.clock.now_ms()
        )
        self.limits.check_site(batch.site_key)
        # No thread hop: the group writer resolves the future when the batch is durable.
        result = await self.svc.ingest.accept_async(batch, visit)
        return 200, orjson.dumps(
            {"ok": True, "recording_id": result.recording_id, "duplicate": result.duplicate}
        )

    async def heartbeat(self, body: bytes, visit: Visit) -> tuple[int, bytes]:
        beat = parse_heartbeat(decode_body(body, 100_000))
        await to_thread.run_sync(self.svc.ingest.heartbeat, beat, visit)
        return 204, b""


async def read_body(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes before reading it all."""
    too_large = PayloadTooLarge(f"the body is larger than {limit} bytes; send smaller batches")
    length = headers.get(b"content-length", b"")
    if length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise FootageError("the client went away", code="disconnected", status=400)
        body += message.get("body", b"")
        if len(body) > limit:
            raise too_large
        if not message.get("more_body", False):
            return bytes(body)


def visit_of(scope: Scope, headers: dict[bytes, bytes]) -> Visit:
    origin = headers.get(b"origin")
    host = headers.get(b"host", b"").decode("latin-1")
    client = scope.get("client")
    return Visit(
        origin=origin.decode("latin-1") if origin else None,
        server_origin=f"{scope.get('scheme', 'http')}://{host}".lower(),
        ip=client[0] if client else None,
        user_agent=headers.get(b"user-agent", b"").decode("latin-1"),
        do_not_track=headers.get(b"sec-gpc", b"").strip() == b"1"
        or headers.get(b"dnt", b"").strip() == b"1",
    )


def openapi_paths() -> dict[str, Any]:
    """OpenAPI entries for the two endpoints served outside the framework's router."""
    errors = {
        "400": {"description": "Malformed body; the message names the field to fix"},
        "403": {
            "description": "Not recorded: recording is off, the plan's limit is reached, the "
            "origin is not allowed, or the site's settings exclude this page, visitor (IP), "
            "device or Do-Not-Track browser; `error.code` says which"
        },
        "404": {"description": "Unknown site key"},
        "409": {
            "description": "The page view belongs to a recording that has ended "
            "(`recording_ended`), or this batch would take its recording past its size or "
            "duration cap, which ended it (`recording_limit_reached`): start a new recording"
        },
        "413": {"description": "Over 1 MB compressed or 20 MB decompressed"},
        "415": {"description": "Content-Type other than text/plain or application/json"},
        "429": {
            "description": "Too many batches from this address or for this site; send again "
            "after the `Retry-After` seconds"
        },
        "431": {"description": "Request headers over 12 KB"},
        "503": {
            "description": "The server works on as many ingest requests as it may "
            "(`ingest_max_in_flight`); send again after the `Retry-After` seconds"
        },
    }
    body = {
        "required": True,
        "content": {
            "text/plain": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
    return {
        "/api/v1/ingest": {
            "post": {
                "tags": ["recorder"],
                "summary": "Store one batch of rrweb events",
                "description": "gzip or plain JSON batch from footage.js (docs/wire.md). "
                "Idempotent on (session, page, seq).",
                "requestBody": body,
                "responses": {"200": {"description": "Stored (or already stored)"}, **errors},
            }
        },
        "/api/v1/heartbeat": {
            "post": {
                "tags": ["recorder"],
                "summary": "The visitor is still on the page",
                "requestBody": body,
                "responses": {"204": {"description": "Noted"}, **errors},
            }
        },
    }
