"""The recorder's two hot endpoints as a lean ASGI app in front of the framework.

Every visitor sends a batch every few seconds, so `POST /api/v1/ingest` and
`POST /api/v1/heartbeat` skip the framework's routing and middleware layers (about a third of
the CPU a batch cost) and go straight to the write path. Everything else passes through to
the FastAPI app unchanged. The OpenAPI schema still documents both (see `openapi_paths`).

What a request may cost is bounded before anything is spent on it (docs/security.md): at
most `ingest_max_in_flight` requests in flight per process and `ingest_ip_max_in_flight` per
client address (503 + Retry-After before the body is read); the body must arrive within
`ingest_body_timeout_seconds` of the headers (else 408, and the connection is closed); and the
CPU work of a batch (inflate, parse, validate, mask, compress) runs on two small fair pools
of threads (footage/ingest/fair.py), never on the event loop: the first takes turns between
client addresses, the second, once the batch names its site, between sites.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from anyio import to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from footage.errors import BadRequest, FootageError, PayloadTooLarge, UnsupportedMediaType
from footage.ingest.fair import FairPool
from footage.ingest.limits import IngestLimits
from footage.ingest.wire import (
    GZIP_MAGIC,
    Batch,
    decode_body,
    gzip_size_hint,
    inflate,
    parse_batch,
    parse_heartbeat,
)
from footage.ingest.writer import Visit
from footage.ratelimit import Overloaded, TooManyRequests

log = logging.getLogger(__name__)

# What an endpoint answers: status, body, and whether the visitor is watched live.
Answer = tuple[int, bytes, bool]
# Sent (and exposed to the recorder's script) while someone watches the visitor live.
WATCHED_HEADER = b"x-footage-watched"
_ACCEPTED_TYPES = {b"", b"text/plain", b"application/json", b"application/octet-stream"}
HEARTBEAT_MAX_BYTES = 10_000
# A recorder's request carries a few hundred bytes of headers (a leave beacon also the
# cookies of the server's domain); far more is not a recorder.
MAX_HEADER_BYTES = 12_288
# Threads of each CPU pool. orjson and the masks hold the GIL while they work, so more
# threads would not go faster; two let one address or site wait for the other's job without
# waiting for its own flood.
POOL_THREADS = 2
# The heavy lane's pools have one thread each: every thread busy with Python competes with
# the event loop and the light lane for the GIL, so huge batches (abnormal: a real batch is
# a few KB to a few hundred) are worked on one at a time per stage, at a lower CPU priority.
HEAVY_POOL_THREADS = 1
HEAVY_NICE = 10
# Decoded batches waiting for their site's turn, per site: at most this many bytes (as
# inflated) unless it is the site's only one; past it, 503 + Retry-After. A busy site's
# batches are a few KB each and pass through in milliseconds; this is for floods of huge
# ones, each of which holds its size (and more) in memory until its turn.
MAX_QUEUED_BYTES_PER_SITE = 64_000_000
MAX_QUEUED_PER_SITE = 1000
# Batches up to this size (as sent, and as inflated) take the light lane: their own pools, so
# an ordinary visitor's batch (a few KB to a few hundred) never waits behind a flood of
# huge ones, which take the heavy lane. A body is tried in the light lane first, inflating at
# most this much, and moves to the heavy lane when it is larger.
LIGHT_BYTES = 512_000
# How long a pool thread running Python (the masks) may keep the GIL while the event loop
# waits for it: 1 ms instead of Python's 5, so answers stay prompt while the pools work.
GIL_SWITCH_SECONDS = 0.001


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0  # requests holding or waiting for the lock


class BodyTimeout(FootageError):
    """408: the body did not arrive within `ingest_body_timeout_seconds` of the headers."""

    status, code = 408, "body_timeout"


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
        # The same per client address, so one address cannot take the whole budget.
        self.max_in_flight_per_address = settings.ingest_ip_max_in_flight
        self.in_flight_by_address: dict[str, int] = {}
        self.body_timeout = settings.ingest_body_timeout_seconds
        # CPU work off the event loop, in turns: per address while decoding (the site is not
        # known yet; the in-flight bound already caps an address's queue), per site after.
        self.decoding = FairPool(
            "decode",
            HEAVY_POOL_THREADS,
            max_queued_per_key=max(1, self.max_in_flight or 1000),
            nice=HEAVY_NICE,
        )
        self.preparing = FairPool(
            "prepare",
            HEAVY_POOL_THREADS,
            nice=HEAVY_NICE,
            max_queued_per_key=MAX_QUEUED_PER_SITE,
            max_weight_per_key=MAX_QUEUED_BYTES_PER_SITE,
        )
        # The light lane: the same, for batches of at most LIGHT_BYTES (and heartbeats).
        self.light_decoding = FairPool(
            "decode-light", POOL_THREADS, max_queued_per_key=max(1, self.max_in_flight or 1000)
        )
        self.light_preparing = FairPool(
            "prepare-light", POOL_THREADS, max_queued_per_key=MAX_QUEUED_PER_SITE
        )
        self.turns: dict[str, _Turn] = {}  # per address: one batch of it in the pools at once
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_SECONDS))
        self.routes: dict[str, Callable[[bytes, Visit], Awaitable[Answer]]] = {
            "/api/v1/ingest": self.ingest,
            "/api/v1/heartbeat": self.heartbeat,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        handler = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else ""
        self.in_flight += 1
        by_address = self.in_flight_by_address
        by_address[address] = by_address.get(address, 0) + 1
        try:
            await self.serve(handler, scope, receive, send)
        finally:
            self.in_flight -= 1
            left = by_address[address] - 1
            if left:
                by_address[address] = left
            else:
                del by_address[address]  # the map holds only addresses with requests in flight

    def _lifespan_send(self, send: Send) -> Send:
        """`send` of the lifespan scope: once the app has shut down, the pools' threads end."""

        async def sent(message: Any) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await to_thread.run_sync(self.close)
            await send(message)

        return sent

    @contextlib.asynccontextmanager
    async def turn_of(self, address: str) -> AsyncIterator[None]:
        """Hold the address's turn: its other batches wait (in its in-flight bound)."""
        turn = self.turns.get(address)
        if turn is None:
            turn = self.turns[address] = _Turn()
        turn.waiting += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.waiting -= 1
            if not turn.waiting:
                del self.turns[address]  # only addresses with a batch in the pools are kept

    def close(self) -> None:
        for pool in (self.decoding, self.preparing, self.light_decoding, self.light_preparing):
            pool.close()

    async def serve(
        self,
        handler: Callable[[bytes, Visit], Awaitable[Answer]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        # The body's deadline counts from the headers: a client that trickles its body byte
        # by byte gets no more time than one that stalls.
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        client = scope.get("client")
        address = client[0] if client else ""
        extra: list[tuple[bytes, bytes]] = []
        try:
            if self.max_in_flight and self.in_flight > self.max_in_flight:
                raise Overloaded(
                    "the server is busy; send the batch again after Retry-After seconds",
                    retry_after=1,
                )
            if (
                self.max_in_flight_per_address
                and self.in_flight_by_address[address] > self.max_in_flight_per_address
            ):
                raise Overloaded(
                    "too many requests from this address at once; wait for the answers, then "
                    "send the batch again after Retry-After seconds",
                    retry_after=1,
                )
            if sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
                raise FootageError(
                    f"the request's headers are larger than {MAX_HEADER_BYTES} bytes; "
                    "send the recorder's requests without extra headers or cookies",
                    code="headers_too_large",
                    status=431,
                )
            self.limits.check_ip(address or None)  # batches and heartbeats
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if ctype not in _ACCEPTED_TYPES:
                raise UnsupportedMediaType(
                    f"Content-Type {ctype.decode(errors='replace')!r} is not accepted; "
                    "send text/plain or application/json"
                )
            limit = (
                self.svc.settings.max_body_bytes if handler == self.ingest else HEARTBEAT_MAX_BYTES
            )
            try:
                async with asyncio.timeout_at(deadline):
                    body = await read_body(receive, headers, limit)
            except TimeoutError:
                raise BodyTimeout(
                    f"the body did not arrive within {self.body_timeout:g} seconds of the "
                    "request's headers; send the whole request at once"
                ) from None
            status, payload, watched = await handler(body, visit_of(scope, headers))
            if watched:  # a dashboard user watches this visitor live: batches every second
                extra.append((WATCHED_HEADER, b"1"))
        except FootageError as exc:
            status, payload = exc.status, orjson.dumps(exc.as_dict())
            if isinstance(exc, TooManyRequests):
                extra.append((b"retry-after", str(exc.retry_after).encode()))
            if isinstance(exc, BodyTimeout):
                # The rest of the body may never come: the connection is not kept for it.
                extra.append((b"connection", b"close"))
        except Exception:
            log.exception("unexpected error on %s", scope["path"])
            status = 500
            payload = orjson.dumps(
                {"error": {"code": "internal", "message": "the server failed; retry later"}}
            )
        response_headers = [
            (b"access-control-allow-origin", origin or b"*"),
            (b"access-control-expose-headers", b"Retry-After, X-Footage-Watched"),
            (b"vary", b"Origin"),
            *extra,
        ]
        if payload:
            response_headers.append((b"content-type", b"application/json"))
        response_headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})

    async def ingest(self, body: bytes, visit: Visit) -> Answer:
        max_inflated, now = self.svc.settings.max_inflated_bytes, self.svc.clock.now_ms()
        ingest = self.svc.ingest
        address = visit.ip or ""
        # One batch of an address in the pools at a time: an address floods with at most one
        # thread, whichever stage its batch is in.
        async with self.turn_of(address):
            try:
                batch, size = await self.light_decoding.run(
                    address,
                    lambda: decode_light(body, min(max_inflated, LIGHT_BYTES), now),
                    len(body),
                )
            except _Heavy:
                batch, size = await self.decoding.run(
                    address, lambda: decode_batch(body, max_inflated, now), len(body)
                )
            self.limits.check_site(batch.site_key)
            # The site's checks, masks and the chunk's compression: CPU, in the site's turn.
            preparing = self.light_preparing if size <= LIGHT_BYTES else self.preparing
            pending = await preparing.run(
                batch.site_key, lambda: ingest.prepare(batch, visit), size
            )
        # The group writer resolves the future when the batch is durable.
        result = await ingest.accept_async(batch, visit, prepared=pending)
        payload = orjson.dumps(
            {"ok": True, "recording_id": result.recording_id, "duplicate": result.duplicate}
        )
        return 200, payload, await self.watched(batch.site_key, batch.visitor_id)

    async def heartbeat(self, body: bytes, visit: Visit) -> Answer:
        beat = await self.light_decoding.run(
            visit.ip or "", lambda: parse_heartbeat(decode_body(body, 100_000)), len(body)
        )
        await to_thread.run_sync(self.svc.ingest.heartbeat, beat, visit)
        return 204, b"", await self.watched(beat.site_key, beat.visitor_id)

    async def watched(self, site_key: str, visitor_id: str) -> bool:
        """Whether someone watches this visitor live (at most a second old; the database is
        read off the event loop, once a second per process)."""
        site_id = self.svc.ingest.site_id_of(site_key)  # cached: the batch was just checked
        if site_id is None:
            return False
        watched = self.svc.watched
        if watched.stale():
            await to_thread.run_sync(watched.refresh)
        return watched.is_watched(site_id, visitor_id)


class _Heavy(Exception):
    """The body is larger than the light lane takes: decode it in the heavy lane."""


def decode_light(body: bytes, light_bytes: int, now_ms: int) -> tuple[Batch, int]:
    """decode_batch for the light lane: raises _Heavy as soon as the body, or what it inflates
    to, is over `light_bytes` (inflating stops there, so a bomb costs the lane nothing). A
    gzip body that says it inflates to more goes to the heavy lane at once, not inflated twice
    (a large page's snapshot: ~50 KB sent, ~650 KB inflated)."""
    if len(body) > light_bytes or gzip_size_hint(body) > light_bytes:
        raise _Heavy
    try:
        return decode_batch(body, light_bytes, now_ms)
    except PayloadTooLarge:
        raise _Heavy from None


def decode_batch(body: bytes, max_inflated: int, now_ms: int) -> tuple[Batch, int]:
    """A request's body → the batch it holds and its size inflated (what it weighs queued)."""
    if body[:2] == GZIP_MAGIC:
        raw = inflate(body, max_inflated)
        if raw[:2] == GZIP_MAGIC:  # gzip in gzip: refused as before, not inflated twice
            raise BadRequest("the body is neither gzip nor UTF-8 JSON", code="bad_json")
    else:
        raw = body
    return parse_batch(decode_body(raw, max_inflated), now_ms), len(raw)


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
        "408": {
            "description": "The body did not arrive within `ingest_body_timeout_seconds` of "
            "the headers; the connection is closed"
        },
        "431": {"description": "Request headers over 12 KB"},
        "503": {
            "description": "The server works on as many ingest requests as it may, in all "
            "(`ingest_max_in_flight`) or from this address (`ingest_ip_max_in_flight`), or on "
            "as many of this site's batches as it queues; send again after the `Retry-After` "
            "seconds"
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
