"""Fuzzing ingest: no body gets a 5xx, crashes the server or leaves a partial batch behind.

Three layers, most bodies on the first (it is pure and fast):

1. the decode pipeline in process — decode_body → parse_batch → the server-side masks →
   encode_chunk, every step a batch goes through before the database — with FUZZ_EXAMPLES
   seeded mutated bodies plus hypothesis' generated ones: every body is accepted or refused
   with a FootageError of status 4xx and a message;
2. the ingest ASGI app in process on a real database (both backends), hypothesis-generated:
   never a 5xx; a 200 stored the batch whole (one chunk with all its events), anything else
   stored nothing;
3. the same through a real HTTP server, with the seeded mutator.

FOOTAGE_FUZZ_EXAMPLES (default 100,000) sets layer 1's count of mutated bodies, and the others
from it (1/50 generated ones in layer 1, 1/100 in layer 2, 1/500 in layer 3);
FOOTAGE_FUZZ_SEED replays a run. docs/security.md has the figures of a ten times longer run.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from footage.app import create_asgi
from footage.errors import FootageError
from footage.ingest.wire import decode_body, parse_batch
from footage.ingest.writer import dump_event
from footage.privacy.masking import MaskRules, PageMaskState, mask_text, scrub_events, scrub_url
from footage.store.chunks import encode_chunk
from tests.conftest import free_port, make_account, settings_for, start_server
from tests.ingest.fuzzing import Mutator, bodies

EXAMPLES = int(os.environ.get("FOOTAGE_FUZZ_EXAMPLES", "100000"))
SEED = int(os.environ.get("FOOTAGE_FUZZ_SEED", str(random.randrange(2**32))))
LIMIT = 2_000_000
RULES = MaskRules(forms=False, numbers=False, emails=False)
ORIGIN = "https://alice.example"
NO_LIMITS = {"ingest_ip_rate": 0.0, "ingest_site_rate": 0.0}


def pipeline(body: bytes, now_ms: int) -> str:
    """What ingest does with a body before the database; returns 'ok' or the error code."""
    try:
        batch = parse_batch(decode_body(body, LIMIT), now_ms)
        events = scrub_events(batch.events, RULES, PageMaskState())
        scrub_url(batch.url, RULES)
        mask_text(batch.title, RULES)
        if events:
            encode_chunk(map(dump_event, events))
    except FootageError as exc:
        assert 400 <= exc.status < 500 and exc.code and exc.message, repr(exc)
        return exc.code
    return "ok"


def test_decoder_pipeline_with_mutated_bodies():
    mutator = Mutator(SEED)
    outcomes: dict[str, int] = {}
    started = time.monotonic()
    for i in range(EXAMPLES):
        body = mutator.body()
        try:
            code = pipeline(body, mutator.now_ms)
        except Exception as exc:  # the failure names the body and how to replay the run
            raise AssertionError(
                f"body {i} of seed {SEED} (FOOTAGE_FUZZ_SEED={SEED}) raised {exc!r}: {body[:300]!r}"
            ) from exc
        outcomes[code] = outcomes.get(code, 0) + 1
    elapsed = time.monotonic() - started
    print(f"\n{EXAMPLES} mutated bodies in {elapsed:.1f} s (seed {SEED}): {outcomes}")
    # The mutator must reach both sides: whole batches and many kinds of refusal.
    assert outcomes.get("ok", 0) > EXAMPLES // 20
    assert len(outcomes) >= 6, outcomes


@settings(max_examples=max(200, EXAMPLES // 50), deadline=None, database=None)
@given(bodies())
def test_decoder_pipeline_with_generated_bodies(body):
    pipeline(body, 1_795_000_000_000)


# --- layer 2: the ASGI app in process, on a real database -----------------------------------


class InProcess:
    """The served app (as `footage serve` serves it) called directly, on one event loop.

    The loop runs in a thread of its own: the browser tests' Playwright session keeps an
    asyncio loop on the main thread, where another loop may not run."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        settings_ = settings_for(tmp_path, database_url=database_url, **NO_LIMITS)
        self.app = create_asgi(settings_)
        self.svc = self.app.svc  # type: ignore[attr-defined]
        self.site_key = make_account(self.svc, "Alice", site_url=ORIGIN).site_key
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def post(self, body: bytes) -> tuple[int, dict[str, Any]]:
        return asyncio.run_coroutine_threadsafe(self._post(body), self.loop).result()

    async def _post(self, body: bytes) -> tuple[int, dict[str, Any]]:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/ingest",
            "scheme": "http",
            "headers": [
                (b"origin", ORIGIN.encode()),
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("203.0.113.7", 40000),
        }
        sent: list[dict[str, Any]] = []
        chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""]

        async def receive() -> dict[str, Any]:
            piece = chunks.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(chunks)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        payload = sent[1]["body"]
        return sent[0]["status"], orjson.loads(payload) if payload else {}

    def close(self) -> None:
        self.svc.ingest.writer.close()
        self.svc.db.dispose()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture
def in_process(tmp_path: Path, database_url: str) -> Iterator[InProcess]:
    app = InProcess(tmp_path, database_url)
    yield app
    app.close()


def chunk_rows(db: Any) -> dict[tuple[str, int], int]:
    rows = db.all("SELECT page_id, seq, event_count FROM chunks")
    return {(r["page_id"], r["seq"]): r["event_count"] for r in rows}


def page_count(db: Any) -> int:
    return int(db.one("SELECT COUNT(*) AS n FROM recording_pages")["n"])


def check_stored_whole_or_not_at_all(
    db: Any, body: bytes, status: int, answer: dict[str, Any], before: dict, pages: int
) -> None:
    assert status < 500, (status, answer, body[:300])
    after = chunk_rows(db)
    if status != 200:
        assert "error" in answer and answer["error"]["message"], answer
        assert after == before and page_count(db) == pages, (status, answer, body[:300])
        return
    batch = parse_batch(decode_body(body, 20_000_000))  # it was accepted: it parses
    new = {key: n for key, n in after.items() if key not in before}
    if batch.events and not answer["duplicate"]:
        assert new == {(batch.page_id, batch.seq): len(batch.events)}, (new, body[:300])
    else:
        assert new == {}


@settings(
    max_examples=max(100, EXAMPLES // 100),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies(site_key="__SITE__", now_ms=int(time.time() * 1000)))
def test_ingest_app_on_the_database(in_process, body):
    body = body.replace(b"__SITE__", in_process.site_key.encode())
    db = in_process.svc.db
    before, pages = chunk_rows(db), page_count(db)
    status, answer = in_process.post(body)
    check_stored_whole_or_not_at_all(db, body, status, answer, before, pages)


# --- layer 3: a real HTTP server -----------------------------------------------------------


def test_ingest_over_http(tmp_path, database_url):
    settings_ = settings_for(tmp_path, database_url=database_url, port=free_port(), **NO_LIMITS)
    server = start_server(settings_)
    try:
        key = make_account(server.services, "Alice", site_url=ORIGIN).site_key
        mutator = Mutator(SEED, site_key=key, now_ms=int(time.time() * 1000))
        db = server.services.db
        statuses: dict[int, int] = {}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for _ in range(max(50, EXAMPLES // 500)):
                body = mutator.body()
                before, pages = chunk_rows(db), page_count(db)
                r = http.post(
                    "/api/v1/ingest",
                    content=body,
                    headers={"Origin": ORIGIN, "Content-Type": "text/plain"},
                )
                answer = r.json() if r.content else {}
                check_stored_whole_or_not_at_all(db, body, r.status_code, answer, before, pages)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert statuses.get(200, 0) > 0 and statuses.get(400, 0) > 0, statuses
    finally:
        server.stop()
