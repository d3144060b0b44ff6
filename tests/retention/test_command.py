"""`footage retention run`, through the real command line, and the sweeper inside the
background jobs of `footage serve` / `footage worker`."""

from __future__ import annotations

import json

import pytest

from footage.accounts.service import NewAccount
from footage.app import Services, background_jobs
from footage.cli import main
from footage.clock import Clock, FrozenClock, iso
from footage.retention.command import parse_now
from tests.retention.world import (
    DAY_MS,
    Recording,
    created_at,
    insert_recordings,
    ready_recording,
    rows_of,
)


def run(svc: Services, *args: str) -> int:
    flags = ["--data-dir", str(svc.settings.data_path)]
    if not svc.db.is_sqlite:
        flags += ["--database-url", svc.db.url]
    with pytest.raises(SystemExit) as exited:
        main(["retention", "run", *args, *flags])
    return int(exited.value.code or 0)


def test_run_deletes_what_expired_at_now_and_prints_one_json_object(
    svc: Services, alice: NewAccount, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    old = ready_recording(svc, alice, clock)
    clock.advance(DAY_MS / 1000)
    young = ready_recording(svc, alice, clock)
    now = iso(created_at(svc, old) + 10 * DAY_MS)
    assert now is not None

    assert run(svc, "--now", now, "--json") == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {
        "recordings": 1,
        "chunks": 1,
        "blobs": 1,
        "conversations": 0,
        "messages": 0,
        "now": now,
    }
    assert out.count("\n") == 1
    assert rows_of(svc.db, old)["recordings"] == 0 and rows_of(svc.db, young)["recordings"] == 1

    assert run(svc, "--now", now) == 0  # again: nothing more
    assert capsys.readouterr().out == (
        f"Deleted 0 recordings past their plan's retention as of {now} (0 chunks, 0 blobs), "
        "and 0 conversations older than 10 days (0 messages).\n"
    )


def test_without_now_it_uses_the_current_time(
    svc: Services, alice: NewAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    real_now = Clock().now_ms()
    insert_recordings(
        svc.db,
        svc.blobs,
        alice,
        [
            Recording("r_expired", "ready", real_now - 10 * DAY_MS - 3_600_000, []),
            Recording("r_kept", "ready", real_now - 9 * DAY_MS, []),
        ],
    )
    assert run(svc, "--json") == 0
    assert json.loads(capsys.readouterr().out)["recordings"] == 1
    assert rows_of(svc.db, "r_expired")["recordings"] == 0
    assert rows_of(svc.db, "r_kept")["recordings"] == 1


def test_a_bad_now_is_refused_with_an_example(
    svc: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(svc, "--now", "first of December") == 2
    assert "write e.g. 2026-12-01T00:00:00Z" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("2026-12-01T00:00:00Z", 1_796_083_200_000),
        ("2026-12-01T01:00:00+01:00", 1_796_083_200_000),
        ("2026-12-01", 1_796_083_200_000),  # no zone: UTC
        ("2026-12-01T00:00:00.250Z", 1_796_083_200_250),
    ],
)
def test_now_accepts_iso_8601(value: str, ms: int) -> None:
    assert parse_now(value) == ms


def test_the_background_jobs_of_serve_and_worker_delete_expired_recordings(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    old = ready_recording(svc, alice, clock)
    jobs = background_jobs(svc)
    seconds = [1000.0]
    jobs.now = lambda: seconds[0]  # the loop's own clock (monotonic), moved by hand
    jobs.run_once()  # the first pass sweeps at once: nothing has expired yet
    assert rows_of(svc.db, old)["recordings"] == 1
    clock.advance(10 * DAY_MS / 1000 + 1)
    seconds[0] += svc.settings.retention_interval_seconds - 1
    jobs.run_once()  # within the retention interval: the sweeper waits its turn
    assert rows_of(svc.db, old)["recordings"] == 1
    seconds[0] += 1  # the interval has passed
    jobs.run_once()
    assert rows_of(svc.db, old)["recordings"] == 0
