"""Bounded time per recording, new recordings per address, the usage of single-batch
recordings, and the alarm on refused batches (docs/security.md, "Bounded work")."""

from __future__ import annotations

from typing import Any

import pytest

from footage.accounts.usage import period_of, used_this_month
from footage.app import build_services
from footage.errors import BadRequest, Forbidden
from footage.ingest.new_recordings import NewRecordingLimit
from footage.ingest.refusals import REFUSAL_ALARM, alarms, refused_last_hour
from footage.ingest.wire import parse_batch
from footage.ingest.writer import CLOCK_SKEW_MS, Visit
from footage.ratelimit import TooManyRequests
from footage.recordings.queries import list_recordings
from tests.conftest import batch, click, full_snapshot, meta, move, new_ids, settings_for

HOUR_MS = 3_600_000
YEAR_MS = 365 * 24 * HOUR_MS


def visit(ip: str = "198.51.100.7", origin: str = "https://alice.example") -> Visit:
    return Visit(origin=origin, server_origin="http://x", ip=ip, user_agent="")


def send(svc, key, ids, seq, events, ip="198.51.100.7", **kw) -> Any:
    origin = kw.pop("origin", "https://alice.example")
    return svc.ingest.accept(parse_batch(batch(key, ids, seq, events, **kw)), visit(ip, origin))


def chunk_count(svc, rec_id: str) -> int:
    row = svc.db.one("SELECT COUNT(*) AS n FROM chunks WHERE recording_id = :r", {"r": rec_id})
    return int(row["n"])


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# --- time per recording ---------------------------------------------------------------------


def test_a_visitor_clock_hours_off_is_recorded_as_usual(svc, alice, clock):
    ids = new_ids()
    t = clock.now_ms() - 5 * HOUR_MS  # the visitor's clock is five hours behind
    rec = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), click(t + 500)])
    clock.advance(60)
    send(svc, alice.site_key, ids, 1, [move(t + 59_000), click(t + 60_000)], left=True)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    row = svc.db.one("SELECT * FROM recordings WHERE id = :r", {"r": rec.recording_id})
    assert row["first_event_at"] == t
    assert row["started_at"] == t and row["duration_ms"] == 60_000


def test_a_recording_cannot_spread_over_decades(svc, alice, clock):
    ids = new_ids()
    t = clock.now_ms()
    rec = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)])
    year_2001 = 978_307_200_000
    for seq, ts in ((1, year_2001), (2, t + 20 * HOUR_MS), (3, t - CLOCK_SKEW_MS - 1)):
        with pytest.raises(BadRequest) as refused:
            send(svc, alice.site_key, ids, seq, [click(t + 10), click(ts)])
        assert refused.value.status == 400 and refused.value.code == "bad_timestamp"
        assert "events[1].timestamp" in refused.value.message
        assert "start a new recording" in refused.value.message
    assert "years before this recording's first event" in str(
        pytest.raises(BadRequest, send, svc, alice.site_key, ids, 4, [click(year_2001)]).value
    )
    # Nothing of the refused batches was stored; the recording goes on.
    assert chunk_count(svc, rec.recording_id) == 1
    clock.advance(30)
    ok = send(svc, alice.site_key, ids, 5, [click(t + 30_000)], left=True)
    assert ok.recording_id == rec.recording_id and chunk_count(svc, rec.recording_id) == 2
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    row = svc.db.one("SELECT * FROM recordings WHERE id = :r", {"r": rec.recording_id})
    assert row["duration_ms"] == 30_000


def test_batches_held_by_the_recorder_within_the_skew_are_kept(svc, alice, clock):
    """A first batch that waited (Retry-After, the server away) arrives with old events; the
    batches behind it follow at once with the events since."""
    ids = new_ids()
    t = clock.now_ms() - 12 * 60_000
    rec = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)])
    later = send(svc, alice.site_key, ids, 1, [click(t + 12 * 60_000)])
    assert later.recording_id == rec.recording_id and chunk_count(svc, rec.recording_id) == 2


def test_the_window_grows_with_the_servers_time(svc, alice, clock):
    ids = new_ids()
    t = clock.now_ms()
    send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)])
    with pytest.raises(BadRequest, match="only 0 minutes passed on the server's clock"):
        send(svc, alice.site_key, ids, 1, [click(t + 2 * HOUR_MS)])
    clock.advance(2 * 3600)
    assert send(svc, alice.site_key, ids, 1, [click(t + 2 * HOUR_MS)]).recording_id


def test_a_first_batch_may_not_spread_over_more_than_the_cap(svc, alice, clock):
    t = clock.now_ms()
    with pytest.raises(BadRequest) as refused:
        send(svc, alice.site_key, new_ids(), 0, [meta(t - 5 * HOUR_MS), click(t)])
    assert refused.value.code == "bad_timestamp"
    assert "spread over 5 hours, longer than a recording may last (4 hours)" in str(refused.value)
    assert svc.db.one("SELECT COUNT(*) AS n FROM recordings")["n"] == 0
    assert used_this_month(svc.db, alice.account_id, t) == 0
    # Four hours exactly is a recording.
    assert send(svc, alice.site_key, new_ids(), 0, [meta(t - 4 * HOUR_MS), click(t)]).recording_id


def test_a_recording_stored_before_the_bound_lasts_at_most_the_cap_at_finalize(svc, alice, clock):
    ids = new_ids()
    t = clock.now_ms()
    rec = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), click(t + 2)])
    # As a recording stored before its first event time was kept: no window to check.
    svc.db.run("UPDATE recordings SET first_event_at = NULL WHERE id = :r", {"r": rec.recording_id})
    year_2001 = 978_307_200_000
    send(svc, alice.site_key, ids, 1, [move(year_2001), move(year_2001 + 1000)], left=True)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    row = svc.db.one("SELECT * FROM recordings WHERE id = :r", {"r": rec.recording_id})
    longest = 4 * HOUR_MS + 2 * CLOCK_SKEW_MS
    assert row["duration_ms"] == longest and row["ended_at"] == t + 2
    assert row["started_at"] == t + 2 - longest
    assert row["active_ms"] <= row["duration_ms"]
    listed = list_recordings(svc.db, alice.account_id)["items"]
    assert [r["id"] for r in listed] == [rec.recording_id]


# --- new recordings per address -------------------------------------------------------------


@pytest.fixture
def limited(svc):
    tick = FakeClock()
    svc.ingest.new_recordings = NewRecordingLimit(limit=3, window_seconds=600, clock=tick)
    return tick


def test_one_address_starts_at_most_the_limit_of_new_recordings(svc, alice, bob, clock, limited):
    t = clock.now_ms()
    first = [new_ids() for _ in range(3)]
    for ids in first:  # at 1000, 1100 and 1200 s
        send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)])
        limited.t += 100
    with pytest.raises(TooManyRequests) as refused:
        send(svc, alice.site_key, new_ids(), 0, [meta(t), full_snapshot(t + 1)])
    assert refused.value.status == 429 and refused.value.code == "too_many_new_recordings"
    assert refused.value.retry_after == 300  # when the first of the three leaves the window
    message = refused.value.message
    assert "3 recordings for this site within 10 minutes" in message
    assert "FOOTAGE_INGEST_IP_NEW_RECORDINGS" in message
    # Nothing stored, nothing counted.
    assert svc.db.one("SELECT COUNT(*) AS n FROM recordings")["n"] == 3
    assert used_this_month(svc.db, alice.account_id, t) == 3
    # Recordings in progress go on, from the same address.
    for ids in first:
        assert send(svc, alice.site_key, ids, 1, [click(t + 5)]).recording_id
    # Another address, and the same address on another site, are not limited.
    assert send(svc, alice.site_key, new_ids(), 0, [meta(t)], ip="198.51.100.8").recording_id
    bob_batch = dict(origin="https://bob.example", url="https://bob.example/")
    assert send(svc, bob.site_key, new_ids(), 0, [meta(t)], **bob_batch).recording_id
    # Once the first one leaves the window, one more may start.
    limited.t += 300
    assert send(svc, alice.site_key, new_ids(), 0, [meta(t)]).recording_id
    with pytest.raises(TooManyRequests):
        send(svc, alice.site_key, new_ids(), 0, [meta(t)])


def test_an_address_at_its_limit_is_refused_before_the_group_writer(svc, alice, clock, limited):
    t = clock.now_ms()
    going_on = new_ids()
    send(svc, alice.site_key, going_on, 0, [meta(t)])
    for _ in range(2):
        send(svc, alice.site_key, new_ids(), 0, [meta(t)])
    new_one = parse_batch(batch(alice.site_key, new_ids(), 0, [meta(t)]))
    with pytest.raises(TooManyRequests) as refused:
        svc.ingest.prepare(new_one, visit())  # nothing queued: the writer never sees it
    assert refused.value.code == "too_many_new_recordings" and refused.value.retry_after == 600
    # A batch of a recording in progress, and an empty one, go on to the writer.
    svc.ingest.prepare(parse_batch(batch(alice.site_key, going_on, 1, [click(t + 5)])), visit())
    svc.ingest.prepare(parse_batch(batch(alice.site_key, new_ids(), 0, [], left=True)), visit())
    assert NewRecordingLimit(limit=0).wait("site", "x") == 0.0


def test_a_refused_first_batch_takes_no_new_recording(svc, alice, clock, limited):
    t = clock.now_ms()
    svc.db.run(
        "INSERT INTO usage_counters (account_id, period, used) VALUES (:a, :p, :n)",
        {"a": alice.account_id, "p": period_of(t), "n": svc.plans.of("pro").monthly_limit},
    )
    for _ in range(5):  # the month's recordings are used up: refused, and not counted here
        with pytest.raises(Forbidden, match="used all recordings"):
            send(svc, alice.site_key, new_ids(), 0, [meta(t)])
    svc.db.run("UPDATE usage_counters SET used = 0")
    for _ in range(3):
        assert send(svc, alice.site_key, new_ids(), 0, [meta(t)]).recording_id


def test_the_settings_set_the_limit(tmp_path, database_url):
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        ingest_ip_new_recordings=7,
        ingest_ip_new_recordings_window_seconds=60.0,
    )
    services = build_services(settings)
    try:
        limit = services.ingest.new_recordings
        assert (limit.limit, limit.window) == (7, 60.0)
    finally:
        services.db.dispose()


def test_the_limit_remembers_a_bounded_number_of_addresses():
    tick = FakeClock()
    limit = NewRecordingLimit(limit=2, window_seconds=60, clock=tick, max_keys=1000)
    for i in range(50_000):
        limit.take("site", f"10.0.{i // 256}.{i % 256}")
    assert len(limit) <= 1000
    assert limit.take("site", "10.0.0.0") is not None  # a forgotten address starts afresh
    assert NewRecordingLimit(limit=0).take("site", "x") is None  # 0: no limit


# --- usage of recordings that never got past their first batch ------------------------------


def test_a_single_batch_recording_gives_its_count_back_and_stays_listed(svc, alice, clock):
    t = clock.now_ms()
    one = send(svc, alice.site_key, new_ids(), 0, [meta(t), full_snapshot(t + 1)], left=True)
    ids = new_ids()
    two = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)])
    send(svc, alice.site_key, ids, 1, [click(t + 5)], left=True)
    assert used_this_month(svc.db, alice.account_id, t) == 2
    clock.advance(11)
    assert svc.finalizer.run_once() == 2
    assert used_this_month(svc.db, alice.account_id, t) == 1
    days = svc.db.all("SELECT used FROM usage_daily WHERE account_id = :a", {"a": alice.account_id})
    assert [d["used"] for d in days] == [1]
    listed = {r["id"] for r in list_recordings(svc.db, alice.account_id)["items"]}
    assert listed == {one.recording_id, two.recording_id}
    counted = svc.db.all("SELECT id, counted_day FROM recordings ORDER BY id")
    assert {r["id"]: r["counted_day"] is None for r in counted} == {
        one.recording_id: True,
        two.recording_id: False,
    }
    # Finalizing again (as after a lost claim) gives nothing back twice.
    svc.db.run("UPDATE recordings SET status = 'finalizing', claimed_at = 0")
    assert svc.finalizer.run_once() == 2
    assert used_this_month(svc.db, alice.account_id, t) == 1


# --- the alarm ------------------------------------------------------------------------------


def test_refused_batches_raise_the_sites_alarm(svc, alice, bob, clock, limited):
    t = clock.now_ms()
    for _ in range(3):
        send(svc, alice.site_key, new_ids(), 0, [meta(t)])
    for _ in range(REFUSAL_ALARM - 10):
        with pytest.raises(TooManyRequests):
            send(svc, alice.site_key, new_ids(), 0, [meta(t)])
    for _ in range(10):
        with pytest.raises(Forbidden):
            send(svc, alice.site_key, new_ids(), 0, [meta(t)], origin="https://evil.example")
    svc.ingest.refusals.flush()
    assert alarms(svc.db, bob.account_id, t) == []
    (site,) = alarms(svc.db, alice.account_id, t)
    assert site.refused == REFUSAL_ALARM
    assert site.by_reason == {"too_many_new_recordings": 90, "origin_not_allowed": 10}
    assert site.message == (
        f"In the last hour 100 batches for {site.site} were refused: too many new recordings "
        "from one address (90), an origin the site does not allow (10). Someone may be sending "
        "fake recordings with your site key. Refused batches are neither stored nor counted; if "
        "this goes on, whoever runs this Footage server can block the sender at its proxy or "
        "firewall (docs/security.md, 5.2)."
    )
    # Half an hour into the next clock hour, half of that hour's count is within the last hour.
    clock.advance(3600 - (t % HOUR_MS) / 1000 + 1800)
    (later,) = refused_last_hour(svc.db, alice.account_id, clock.now_ms())
    assert later.refused == 50 and not later.alarm
    clock.advance(3600)
    assert refused_last_hour(svc.db, alice.account_id, clock.now_ms()) == []
