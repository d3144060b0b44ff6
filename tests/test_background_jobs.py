"""The one loop of background jobs that `footage serve` and `footage worker` run."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from footage.app import Job, JobLoop, Services, background_jobs


def recorder(ran: list[str], name: str) -> Callable[[Callable[[], bool]], None]:
    return lambda should_stop: ran.append(name)


def test_each_pass_runs_the_jobs_that_are_due_in_order() -> None:
    ran: list[str] = []
    seconds = [100.0]
    loop = JobLoop(
        [Job("often", 1, recorder(ran, "often")), Job("rarely", 10, recorder(ran, "rarely"))],
        pause_seconds=1,
        now=lambda: seconds[0],
    )
    loop.run_once()  # the first pass runs every job at once
    seconds[0] += 1
    loop.run_once()
    seconds[0] += 9
    loop.run_once()
    assert ran == ["often", "rarely", "often", "often", "rarely"]


def test_a_failing_job_is_logged_by_name_and_the_others_carry_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    def broken(should_stop: Callable[[], bool]) -> None:
        raise RuntimeError("disk full")

    loop = JobLoop([Job("retention", 1, broken), Job("after", 1, recorder(ran, "after"))], 1)
    with caplog.at_level(logging.ERROR, logger="footage"):
        loop.run_once()
    assert ran == ["after"]
    assert "background job 'retention' failed" in caplog.text and "disk full" in caplog.text


def test_stopping_finishes_the_job_at_hand_and_stops_every_job() -> None:
    stopped: list[str] = []
    asked: list[bool] = []

    def long_job(should_stop: Callable[[], bool]) -> None:
        loop.stop()  # a signal arrives while the job works
        asked.append(should_stop())

    loop = JobLoop(
        [
            Job("long", 1, long_job, stop=lambda: stopped.append("long")),
            Job("next", 1, lambda _: asked.append(False), stop=lambda: stopped.append("next")),
        ],
        pause_seconds=60,
    )
    loop.run()  # returns: no second pass, no pause
    assert asked == [True]  # told to stop; the next job did not start
    assert stopped == ["long", "next"]


def test_serve_runs_the_loop_in_a_thread_that_stops_with_it(svc: Services) -> None:
    jobs = background_jobs(svc)
    jobs.start()
    jobs.stop()  # waits for the thread
    assert jobs._thread is not None and not jobs._thread.is_alive()


def test_the_passes_of_serve_and_worker(svc: Services) -> None:
    jobs = background_jobs(svc)
    assert [(j.name, j.interval_seconds) for j in jobs.jobs] == [
        ("finalizer", 0.2),
        ("assets kept with recordings", 0.2),
        ("video renderer", 0.2),
        ("heatmaps of earlier recordings", 0.2),
        ("retention", 300.0),
        ("database statistics", 300.0),  # right after retention, on its interval
    ]
    assert jobs.pause_seconds == svc.settings.finalizer_interval_seconds
