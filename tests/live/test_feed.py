"""The live view's reading of a recording and the watch that sets the recorder's cadence, on
a real database (both backends): what a view sends first and after, the visitor's state, and
the ingest answers that tell a watched visitor's recorder."""

from __future__ import annotations

import httpx

from footage.accounts import audit
from footage.accounts.service import add_user
from footage.live.feed import Feed, live_recording, state_of
from footage.live.routes import ACTION
from footage.sessions.watching import LEASE_MS, REFRESH_MS, Watched, stop_watching, watch
from tests.conftest import (
    PASSWORD,
    LiveServer,
    batch,
    click,
    full_snapshot,
    login,
    make_account,
    meta,
    move,
    new_ids,
)
from tests.sessions.test_finalizer import send


def test_a_view_opens_at_the_current_page_and_then_gets_each_new_batch(svc, alice, clock):
    ids, t = new_ids(), clock.now_ms()
    first = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), click(t + 100)])
    rec = first.recording_id
    assert live_recording(svc.db, alice.site_id, ids["visitor_id"]) == rec
    # The visitor moves to a second page: the view opens there, at its Meta.
    second = {**ids, "page_id": ids["page_id"][:-4] + "page"}
    send(svc, alice.site_key, ids, 1, [move(t + 200)], left=True)
    page_two = [meta(t + 300, "https://alice.example/cart"), full_snapshot(t + 301, "Cart")]
    send(svc, alice.site_key, second, 0, page_two, url="https://alice.example/cart")
    feed = Feed(rec)
    events, skew = feed.opening(svc.db, svc.blobs)
    assert [e["type"] for e in events] == [4, 2]
    assert events[0]["data"]["href"] == "https://alice.example/cart"
    assert skew == clock.now_ms() - (t + 301)  # the server's clock less the browser's
    assert feed.news(svc.db, svc.blobs) == b""  # nothing new yet
    clock.advance(1)
    send(svc, alice.site_key, second, 1, [click(t + 1300), move(t + 1400)])
    news = feed.news(svc.db, svc.blobs)
    assert news.startswith(b"[") and news.count(b'"timestamp"') == 2
    assert feed.news(svc.db, svc.blobs) == b""  # each batch once
    assert state_of(svc.db, rec) == "on_page"
    send(svc, alice.site_key, second, 2, [move(t + 1500)], left=True)
    assert state_of(svc.db, rec) == "between_pages"  # the leave grace: a next page may come
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    assert state_of(svc.db, rec) == "ready"
    assert live_recording(svc.db, alice.site_id, ids["visitor_id"]) is None


def test_a_watch_lapses_and_each_process_reads_them_once_a_second(svc, alice, clock):
    watched = Watched(svc.db, clock)
    assert not watched.is_watched(alice.site_id, "vis-00000001")
    watch(svc.db, alice.site_id, "vis-00000001", alice.user_id, clock.now_ms())
    assert not watched.is_watched(alice.site_id, "vis-00000001")  # read less than a second ago
    clock.advance(REFRESH_MS / 1000)
    assert watched.is_watched(alice.site_id, "vis-00000001")
    assert not watched.is_watched(alice.site_id, "vis-00000002")
    clock.advance(LEASE_MS / 1000)  # the view stopped renewing it
    assert not watched.is_watched(alice.site_id, "vis-00000001")
    watch(svc.db, alice.site_id, "vis-00000001", alice.user_id, clock.now_ms())
    stop_watching(svc.db, alice.site_id, "vis-00000001", alice.user_id)
    clock.advance(REFRESH_MS / 1000)
    assert not watched.is_watched(alice.site_id, "vis-00000001")


def test_ingest_and_heartbeat_answers_say_when_the_visitor_is_watched(live: LiveServer) -> None:

    alice = make_account(live.services, "Alice", site_url="https://alice.example")
    ids = new_ids()
    now = live.services.clock.now_ms()
    headers = {"Origin": "https://alice.example", "Content-Type": "text/plain"}

    def post_batch(seq: int, events: list) -> httpx.Response:
        body = batch(alice.site_key, ids, seq, events)
        return httpx.post(f"{live.url}/api/v1/ingest", json=body, headers=headers)

    def heartbeat() -> httpx.Response:
        body = {
            "site_key": alice.site_key,
            **{k: ids[k] for k in ("visitor_id", "session_id", "page_id")},
        }
        return httpx.post(f"{live.url}/api/v1/heartbeat", json=body, headers=headers)

    first = post_batch(0, [meta(now), full_snapshot(now + 1)])
    assert first.status_code == 200 and "x-footage-watched" not in first.headers
    assert "X-Footage-Watched" in first.headers["access-control-expose-headers"]
    watch(live.services.db, alice.site_id, ids["visitor_id"], alice.user_id, now)
    live.services.watched.refresh()  # rather than waiting out the second
    second = post_batch(1, [move(now + 100)])
    assert second.headers["x-footage-watched"] == "1"
    assert heartbeat().headers["x-footage-watched"] == "1"
    # Another visitor of the same site is not watched.
    other = {**new_ids(), "site_key": alice.site_key}
    body = batch(alice.site_key, other, 0, [meta(now), full_snapshot(now + 1)])
    answer = httpx.post(f"{live.url}/api/v1/ingest", json=body, headers=headers)
    assert answer.status_code == 200 and "x-footage-watched" not in answer.headers
    stop_watching(live.services.db, alice.site_id, ids["visitor_id"], alice.user_id)
    live.services.watched.refresh()
    assert "x-footage-watched" not in post_batch(2, [move(now + 200)]).headers


def test_an_agent_may_watch_and_the_view_is_in_the_audit_log(live: LiveServer) -> None:

    svc = live.services
    alice = make_account(svc, "Alice", site_url="https://alice.example")
    agent_id = add_user(
        svc.db,
        svc.clock,
        alice.account_id,
        email="agent@alice.example",
        password=PASSWORD,
        role="agent",
    )
    with live.client() as http:
        login(http, "agent@alice.example")
        page = http.get(f"/live/{alice.site_id}/vis-00000001")
        with http.stream("GET", f"/live/{alice.site_id}/vis-00000001/stream") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            first = next(stream.iter_lines())
    assert page.status_code == 200 and "live on" in page.text
    assert first == "event: waiting"  # Alice's visitor is not recorded now
    entries = [e for e in audit.entries(svc.db, alice.account_id) if e["action"] == ACTION]
    assert [(e["actor"], e["detail"]) for e in entries] == [
        (f"user:{agent_id}", {"site": alice.site_id})
    ]
