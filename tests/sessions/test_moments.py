"""Finalize → recording_moments and recordings.returning_visitor, on every backend."""

from __future__ import annotations

import json
from typing import Any

from footage.accounts.service import NewAccount
from footage.app import Services
from footage.clock import FrozenClock
from footage.recordings.moments import moments_of
from footage.recordings.queries import iter_events_json
from tests.conftest import click, full_snapshot, js_error, meta, move, new_ids
from tests.sessions.test_finalizer import send


def site_event(ts: int, name: str, props: dict[str, Any]) -> dict[str, Any]:
    payload = {"name": name, "props": props}
    return {"type": 5, "data": {"tag": "footage.event", "payload": payload}, "timestamp": ts}


def rows_of(svc: Services, recording_id: str) -> list[dict[str, Any]]:
    return svc.db.all(
        "SELECT kind, at, name, detail FROM recording_moments WHERE recording_id = :r "
        "ORDER BY at, kind",
        {"r": recording_id},
    )


def two_page_visit(
    svc: Services, alice: NewAccount, clock: FrozenClock, ids: dict[str, str]
) -> str:
    """Home (rage clicks, an event with an e-mail and digits in it, an error), then the cart."""
    t = clock.now_ms()
    first = send(
        svc,
        alice.site_key,
        ids,
        0,
        [
            meta(t),
            full_snapshot(t + 1),
            click(t + 1000, 10, 10),
            click(t + 1200, 12, 10),
            click(t + 1400, 11, 14),
            site_event(t + 1500, "added_to_cart", {"sku": "X1", "by": "ann@example.com"}),
            js_error(t + 2450, "order 4711 failed"),  # > 1 s after a click: no error click
        ],
        left=True,
    )
    clock.advance(2)
    cart = {**ids, "page_id": f"pag-cart-{ids['page_id'][-12:]}"}
    send(
        svc,
        alice.site_key,
        cart,
        0,
        [meta(t + 2500, "https://alice.example/cart"), full_snapshot(t + 2501), move(t + 3000)],
        left=True,
        url="https://alice.example/cart",
    )
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    assert first.recording_id is not None
    return first.recording_id


def test_finalize_stores_the_moments_of_a_recording(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    t = clock.now_ms()
    rec = two_page_visit(svc, alice, clock, new_ids())
    assert rows_of(svc, rec) == [
        {"kind": "page", "at": t, "name": "https://alice.example/", "detail": None},
        {"kind": "rage_click", "at": t + 1400, "name": None, "detail": None},
        {
            "kind": "event",
            "at": t + 1500,
            "name": "added_to_cart",
            "detail": '{"sku":"X1","by":"ann@example.com"}',
        },
        # Errors are masked on ingest (default settings: no numbers); events are the site's.
        {"kind": "error", "at": t + 2450, "name": "order 4711 failed", "detail": None},
        {"kind": "page", "at": t + 2500, "name": "https://alice.example/cart", "detail": None},
    ]
    assert moments_of(svc.db, rec) == [
        {"kind": "page", "at_ms": 0, "name": "https://alice.example/", "detail": None},
        {"kind": "rage_click", "at_ms": 1400, "name": None, "detail": None},
        {
            "kind": "event",
            "at_ms": 1500,
            "name": "added_to_cart",
            "detail": {"sku": "X1", "by": "ann@example.com"},
        },
        {"kind": "error", "at_ms": 2450, "name": "order 4711 failed", "detail": None},
        {"kind": "page", "at_ms": 2500, "name": "https://alice.example/cart", "detail": None},
    ]
    # The stored events keep the site's own event as it was sent, unmasked.
    events = json.loads(b"".join(iter_events_json(svc.db, svc.blobs, rec)))
    [custom] = [e for e in events if e["type"] == 5 and e["data"]["tag"] == "footage.event"]
    assert custom["data"]["payload"] == {
        "name": "added_to_cart",
        "props": {"sku": "X1", "by": "ann@example.com"},
    }


def test_finalizing_again_replaces_the_moments(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    rec = two_page_visit(svc, alice, clock, new_ids())
    before = rows_of(svc, rec)
    starts = svc.db.all(
        "SELECT page_id, started_at FROM recording_pages WHERE recording_id = :r", {"r": rec}
    )
    claimed_at = clock.now_ms()
    svc.db.run(
        "UPDATE recordings SET status = 'finalizing', claimed_at = :t WHERE id = :r",
        {"t": claimed_at, "r": rec},
    )
    assert svc.finalizer.finalize(rec, claimed_at) is True
    assert rows_of(svc, rec) == before  # no duplicates
    # The merged blob no longer says which page a chunk was: the starts found first stay.
    assert (
        svc.db.all(
            "SELECT page_id, started_at FROM recording_pages WHERE recording_id = :r", {"r": rec}
        )
        == starts
    )
    row = svc.db.one("SELECT returning_visitor, status FROM recordings WHERE id = :r", {"r": rec})
    assert row == {"returning_visitor": 0, "status": "ready"}


def returning(svc: Services, recording_id: str) -> int:
    row = svc.db.one("SELECT returning_visitor FROM recordings WHERE id = :r", {"r": recording_id})
    assert row is not None
    return int(row["returning_visitor"])


def visit(svc: Services, alice: NewAccount, clock: FrozenClock, ids: dict[str, str]) -> str:
    t = clock.now_ms()
    rec = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)], left=True)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    assert rec.recording_id is not None
    return rec.recording_id


def test_returning_visitor(svc: Services, alice: NewAccount, clock: FrozenClock) -> None:
    ann = new_ids()
    again = {"visitor_id": ann["visitor_id"]}
    first = visit(svc, alice, clock, ann)
    assert returning(svc, first) == 0  # first seen just now, nothing earlier
    clock.advance(5 * 60)
    second = visit(svc, alice, clock, {**new_ids(), **again})
    assert returning(svc, second) == 1  # an earlier recording of hers is still kept
    # Her recordings deleted (retention, say), 15 minutes after she was first seen: no.
    svc.db.run("DELETE FROM recordings WHERE visitor_id = :visitor_id", again)
    clock.advance(10 * 60)
    third = visit(svc, alice, clock, {**new_ids(), **again})
    assert returning(svc, third) == 0
    # More than 30 minutes after she was first seen: yes, with no earlier recording left.
    svc.db.run("DELETE FROM recordings WHERE visitor_id = :visitor_id", again)
    clock.advance(20 * 60)
    fourth = visit(svc, alice, clock, {**new_ids(), **again})
    assert returning(svc, fourth) == 1
    # Someone new, while she is around: no.
    assert returning(svc, visit(svc, alice, clock, new_ids())) == 0


def test_long_and_odd_names_are_stored_on_every_backend(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    """PostgreSQL refuses NUL characters and index entries above ~2.7 kB: both are kept out."""
    t = clock.now_ms()
    url = "https://alice.example/" + "é" * 4000  # 8 kB of UTF-8; the wire keeps 4096 chars
    events = [
        meta(t, url),
        full_snapshot(t + 1),
        site_event(t + 2, "odd\x00name", {"note\x00": "a\x00b", "long": "ü" * 5000}),
        js_error(t + 3, "€" * 3000),
    ]
    rec = send(svc, alice.site_key, new_ids(), 0, events, left=True, url=url).recording_id
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    rows = {row["kind"]: row for row in rows_of(svc, rec)}
    assert len(rows["page"]["name"].encode()) <= 2000 and rows["page"]["name"].startswith(url[:30])
    assert rows["event"]["name"] == "oddname"
    assert json.loads(rows["event"]["detail"]) == {"note": "ab", "long": "ü" * 500}
    assert len(rows["error"]["name"].encode()) <= 2000


def test_moments_of_reads_only_the_kinds_and_the_first_ones_asked_for(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    """The player asks for the frustration signals only, and at most a few hundred: a
    4-hour visit has thousands of moments, and reading them all delayed its page."""
    rec = two_page_visit(svc, alice, clock, new_ids())
    everything = moments_of(svc.db, rec)
    assert [m["kind"] for m in moments_of(svc.db, rec, ("page",))] == ["page", "page"]
    assert moments_of(svc.db, rec, ("error", "page"), 2) == [everything[0], everything[3]]
    assert moments_of(svc.db, rec, None, 3) == everything[:3]
    assert moments_of(svc.db, rec, ("rage_click",), 10) == [everything[1]]
    assert moments_of(svc.db, rec, ()) == []
