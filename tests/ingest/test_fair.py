"""The fair pool: jobs in turns across keys, bounded queues, at most a share of the threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable

import pytest

from footage.ingest.fair import FairPool
from footage.ratelimit import Overloaded
from tests.conftest import WAIT_SCALE


class Gate:
    """Jobs that wait until they are let through, noting the order they started in."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.lock = threading.Lock()
        self.go = threading.Event()

    def job(self, name: str) -> Callable[[], str]:
        def run() -> str:
            with self.lock:
                self.started.append(name)
            assert self.go.wait(10 * WAIT_SCALE)
            return name

        return run

    def wait_started(self, count: int) -> None:
        deadline = time.monotonic() + 10 * WAIT_SCALE
        while len(self.started) < count:
            assert time.monotonic() < deadline, self.started
            time.sleep(0.005)


def test_keys_take_turns_and_a_flood_waits_behind_one_job_of_another_key():
    pool = FairPool("test", threads=1, max_running_per_key=1)
    gate = Gate()
    try:
        futures = [pool.submit("flood", gate.job(f"flood-{i}")) for i in range(5)]
        gate.wait_started(1)  # the flood's first job holds the only thread
        futures.append(pool.submit("quiet", gate.job("quiet")))
        futures.append(pool.submit("other", gate.job("other")))
        gate.go.set()
        assert [f.result(10 * WAIT_SCALE) for f in futures][-2:] == ["quiet", "other"]
        # Round-robin: the quiet key went right after the job that was running.
        assert gate.started[:4] == ["flood-0", "quiet", "other", "flood-1"]
    finally:
        gate.go.set()
        pool.close()


def test_one_key_never_holds_every_thread():
    pool = FairPool("test", threads=3)  # at most 2 per key
    gate = Gate()
    try:
        futures = [pool.submit("flood", gate.job(f"flood-{i}")) for i in range(6)]
        gate.wait_started(2)
        time.sleep(0.05)
        assert len(gate.started) == 2  # the third thread stays free for other keys
        futures.append(pool.submit("quiet", gate.job("quiet")))
        gate.wait_started(3)
        assert gate.started[2] == "quiet"
        gate.go.set()
        assert all(f.result(10 * WAIT_SCALE) for f in futures)
        assert _settles(pool)
    finally:
        gate.go.set()
        pool.close()


def _settles(pool: FairPool) -> bool:
    deadline = time.monotonic() + 5 * WAIT_SCALE
    while pool.keys():
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return True


def test_a_full_queue_is_refused_with_retry_after_and_other_keys_still_queue():
    pool = FairPool("test", threads=1, max_queued_per_key=2, max_running_per_key=1)
    gate = Gate()
    try:
        pool.submit("flood", gate.job("running"))
        gate.wait_started(1)
        pool.submit("flood", gate.job("queued-1"))
        pool.submit("flood", gate.job("queued-2"))
        with pytest.raises(Overloaded) as refused:
            pool.submit("flood", gate.job("one too many"))
        assert refused.value.status == 503 and refused.value.retry_after == 1
        assert "Retry-After" in str(refused.value)
        pool.submit("quiet", gate.job("quiet"))  # another key has its own queue
        assert pool.queued() == 3
    finally:
        gate.go.set()
        pool.close()


def test_the_bytes_a_key_queues_are_bounded_but_one_job_always_queues():
    pool = FairPool("test", threads=1, max_weight_per_key=100, max_running_per_key=1)
    gate = Gate()
    try:
        pool.submit("site", gate.job("running"), weight=10)
        gate.wait_started(1)
        pool.submit("site", gate.job("huge"), weight=1000)  # alone in its queue: taken
        with pytest.raises(Overloaded):
            pool.submit("site", gate.job("more"), weight=1)
        pool.submit("other", gate.job("small"), weight=60)
        pool.submit("other", gate.job("small"), weight=40)
        with pytest.raises(Overloaded):
            pool.submit("other", gate.job("small"), weight=1)
    finally:
        gate.go.set()
        pool.close()


def test_results_and_errors_reach_the_waiting_coroutine():
    pool = FairPool("test", threads=2)

    def fail() -> None:
        raise ValueError("bad batch")

    async def main() -> tuple[int, str]:
        value = await pool.run("a", lambda: 6 * 7)
        try:
            await pool.run("a", fail)
        except ValueError as exc:
            return value, str(exc)
        return value, ""

    try:
        # In a thread of its own: a browser test's driver may hold this thread's event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as runner:
            assert runner.submit(asyncio.run, main()).result() == (42, "bad batch")
        assert _settles(pool)
    finally:
        pool.close()


def test_work_runs_off_the_calling_thread_and_the_pool_stays_small():
    pool = FairPool("test", threads=2)
    try:
        names = {
            pool.submit(f"k{i}", lambda: threading.current_thread().name).result()
            for i in range(50)
        }
        assert threading.current_thread().name not in names
        assert len(names) <= 2
    finally:
        pool.close()


def test_a_closed_pool_finishes_its_queue_and_starts_again_for_more():
    pool = FairPool("test", threads=1)
    done: list[int] = []
    futures = [pool.submit("k", lambda i=i: done.append(i)) for i in range(20)]
    pool.close()
    assert all(f.done() for f in futures) and done == list(range(20))
    assert pool.submit("k", lambda: 42).result(10 * WAIT_SCALE) == 42
    pool.close()
