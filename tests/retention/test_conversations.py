"""Conversations follow conversation_retention_days: the sweeper deletes those whose last
message is that old, with their messages and the recordings' links to them, in batches, and
keeps the rest (through the sweeper, the server's background jobs and the command line)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from footage.accounts.service import NewAccount
from footage.app import Services, background_jobs, build_services
from footage.clock import FrozenClock, iso
from footage.conversations import store
from footage.conversations.store import NewMessage
from footage.retention.sweeper import Retention
from tests.conftest import settings_for
from tests.retention.test_command import run
from tests.retention.world import DAY_MS, ready_recording

NOTHING = {"recordings": 0, "chunks": 0, "blobs": 0, "conversations": 0, "messages": 0}


def conversation(svc: Services, account: NewAccount, times: list[int]) -> str:
    """A chat on the account's site with one message at each of `times` (ms)."""
    with svc.db.write() as conn:
        row = store.create(
            conn,
            account_id=account.account_id,
            site_id=account.site_id,
            visitor_id=f"vis-{uuid.uuid4().hex}",
            source="chat",
            at=times[0],
            visitor_token=store.new_visitor_token(),
        )
        messages = [
            NewMessage(sender="visitor", text=f"message {i}", at=t, key=f"c:{i}")
            for i, t in enumerate(times)
        ]
        store.append(conn, row, messages, times[-1])
    return str(row["id"])


def kept(svc: Services) -> dict[str, int]:
    """Conversation id → its messages still stored."""
    rows = svc.db.all(
        "SELECT c.id, COUNT(m.seq) AS n FROM conversations c "
        "LEFT JOIN conversation_messages m ON m.conversation_id = c.id GROUP BY c.id"
    )
    return {r["id"]: int(r["n"]) for r in rows}


def test_old_conversations_go_with_their_messages_and_links_recent_ones_stay(
    svc: Services, alice: NewAccount, bob: NewAccount, clock: FrozenClock
) -> None:
    t = clock.now_ms()
    old = conversation(svc, alice, [t - DAY_MS, t - 3_600_000, t])  # last message at t
    bobs = conversation(svc, bob, [t - 60_000, t - 1000])
    answered = conversation(svc, alice, [t - 5 * DAY_MS, t + 2 * DAY_MS])  # an answer came later
    recent = conversation(svc, alice, [t + 5 * DAY_MS])
    # A recording made later (kept longer than the conversation) that links to the old one.
    clock.advance(3 * DAY_MS / 1000)
    recording = ready_recording(svc, alice, clock)
    svc.db.run(
        "UPDATE recordings SET conversation_id = :c WHERE id = :r", {"c": old, "r": recording}
    )
    sweeper = Retention(svc.db, svc.blobs, svc.plans, svc.clock, on_delete=svc.on_delete)

    assert sweeper.run_once(t + 10 * DAY_MS - 1001) == NOTHING
    assert kept(svc) == {old: 3, bobs: 2, answered: 2, recent: 1}

    # Ten days after its last message, a conversation goes, with every message.
    assert sweeper.run_once(t + 10 * DAY_MS) == {**NOTHING, "conversations": 2, "messages": 5}
    assert kept(svc) == {answered: 2, recent: 1}
    link = svc.db.one("SELECT conversation_id FROM recordings WHERE id = :r", {"r": recording})
    assert link == {"conversation_id": None}  # the recording stays, without the link
    assert sweeper.run_once(t + 10 * DAY_MS) == NOTHING  # again: nothing more

    assert sweeper.run_once(t + 12 * DAY_MS)["conversations"] == 1
    assert kept(svc) == {recent: 1}
    assert sweeper.run_once(t + 15 * DAY_MS)["conversations"] == 1
    assert kept(svc) == {} and svc.db.all("SELECT * FROM conversation_messages") == []


def test_many_conversations_go_in_batches_and_a_stop_waits_for_the_batch(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    t = clock.now_ms()
    old = [conversation(svc, alice, [t - i * 60_000]) for i in range(7)]
    young = conversation(svc, alice, [t + DAY_MS])
    sweeper = Retention(
        svc.db, svc.blobs, svc.plans, svc.clock, batch_size=3, on_delete=svc.on_delete
    )
    asked: list[int] = []

    def stop_after_one_batch() -> bool:
        # Asked before the recordings' batch, before the conversations' first, then before
        # their second: a shutdown that came meanwhile.
        asked.append(1)
        return len(asked) > 2

    first = sweeper.run_once(t + 10 * DAY_MS, should_stop=stop_after_one_batch)
    assert first["conversations"] == 3  # one batch, then the stop
    # The oldest first.
    assert set(kept(svc)) == {*old[:4], young}
    assert sweeper.run_once(t + 10 * DAY_MS)["conversations"] == 4  # two more batches
    assert set(kept(svc)) == {young}


def test_the_setting_decides_how_long(
    tmp_path: Path, database_url: str, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import make_account

    svc = build_services(
        settings_for(tmp_path, database_url=database_url, conversation_retention_days=2), clock
    )
    try:
        alice = make_account(svc, "Alice", site_url="https://alice.example")
        t = clock.now_ms()
        two_days = conversation(svc, alice, [t - 2 * DAY_MS])
        one_day = conversation(svc, alice, [t - DAY_MS])
        # The server's background pass uses the setting.
        background_jobs(svc).run_once()
        assert kept(svc) == {one_day: 1}
        # So does `footage retention run` (the flag, or FOOTAGE_CONVERSATION_RETENTION_DAYS).
        now = iso(t)
        assert now is not None
        assert run(svc, "--now", now, "--conversation-retention-days", "3", "--json") == 0
        out = json.loads(capsys.readouterr().out)
        assert (out["conversations"], out["messages"]) == (0, 0)
        assert run(svc, "--now", now, "--conversation-retention-days", "1") == 0
        assert "and 1 conversations older than 1 days (1 messages)." in capsys.readouterr().out
        assert kept(svc) == {}
        assert two_days not in kept(svc)
    finally:
        svc.db.dispose()
