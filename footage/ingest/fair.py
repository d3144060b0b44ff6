"""A small pool of worker threads that shares itself fairly between keys (addresses, sites).

Inflating, parsing, masking and compressing a batch is CPU work: on the event loop, one
visitor's 20 MB batch stopped every other request for seconds. The pool takes that work off
the loop, and is fair about it: jobs wait in one queue per key (the client's address before
the site is known, the site key after), and idle threads take them round-robin across keys,
so a flood under one key delays another key's job by about one job, not by the flood. One
key never holds more than `max_running_per_key` threads at once (by default one less than
the pool has), so another key always finds a thread free; and one key's queue is bounded, in
jobs and in the bytes they hold, so a flood is refused (503 + Retry-After) instead of
queued in memory.

zlib and zstd release the GIL while they work; orjson and the Python masks do not, so the
pool is kept small (two threads by default) and the event loop still gets the GIL between
the pool's steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from footage.ratelimit import Overloaded

T = TypeVar("T")


@dataclass
class _Job:
    run: Callable[[], Any]
    weight: int
    future: Future[Any] = field(default_factory=Future)


@dataclass
class _Key:
    queue: deque[_Job] = field(default_factory=deque)
    weight: int = 0  # of the queued jobs
    running: int = 0


class FairPool:
    """Worker threads that take queued jobs round-robin across keys."""

    def __init__(
        self,
        name: str,
        threads: int = 2,
        *,
        max_queued_per_key: int = 64,
        max_weight_per_key: int = 0,
        max_running_per_key: int | None = None,
        retry_after: int = 1,
        nice: int = 0,
    ) -> None:
        if threads < 1:
            raise ValueError("a pool needs at least one thread")
        self.name = name
        self.threads = threads
        self.max_queued_per_key = max_queued_per_key
        self.max_weight_per_key = max_weight_per_key  # 0: only the count bounds a queue
        self.max_running_per_key = max_running_per_key or max(1, threads - 1)
        self.retry_after = retry_after
        # A CPU priority below the event loop's for the pool's threads (Linux sets it per
        # thread): the loop, when it has work, gets a core first.
        self.nice = nice
        self._keys: dict[str, _Key] = {}
        # Keys with a queued job and a free running place, in the order they get a thread.
        self._ready: deque[str] = deque()
        self._cond = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._closed = False

    def submit(self, key: str, run: Callable[[], T], weight: int = 0) -> Future[T]:
        """Queue `run()` under `key`; raises Overloaded (503) when the key's queue is full.

        `weight` is what the job holds in memory (bytes): a key's queued jobs hold at most
        `max_weight_per_key` together, though a key's first queued job is always taken.
        """
        job = _Job(run, weight)
        with self._cond:
            state = self._keys.get(key)
            if state is None:
                state = self._keys[key] = _Key()
            if state.queue and (
                len(state.queue) >= self.max_queued_per_key
                or (self.max_weight_per_key and state.weight + weight > self.max_weight_per_key)
            ):
                if not state.running and not state.queue:
                    del self._keys[key]
                raise Overloaded(
                    "the server is busy with this address's or site's earlier batches; send "
                    "the batch again after Retry-After seconds",
                    self.retry_after,
                )
            state.queue.append(job)
            state.weight += weight
            if len(state.queue) == 1 and state.running < self.max_running_per_key:
                self._ready.append(key)
            self._start_workers()
            self._cond.notify()
        return job.future

    async def run(self, key: str, run: Callable[[], T], weight: int = 0) -> T:
        """`run()` on a thread of the pool, in its turn; its result or its exception."""
        return await asyncio.wrap_future(self.submit(key, run, weight))

    def queued(self) -> int:
        with self._cond:
            return sum(len(state.queue) for state in self._keys.values())

    def keys(self) -> int:
        """Keys the pool remembers (with a queued or a running job); 0 when idle."""
        with self._cond:
            return len(self._keys)

    def close(self) -> None:
        """Finish the queued jobs, then let the threads end; a later job starts them again
        (an app may be started and stopped more than once, as tests do)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for worker in self._workers:
            worker.join(timeout=30)
        with self._cond:
            self._workers = [w for w in self._workers if w.is_alive()]
            self._closed = False

    def _start_workers(self) -> None:  # with self._cond held
        if len(self._workers) < self.threads:
            worker = threading.Thread(
                target=self._work, name=f"footage-{self.name}-{len(self._workers)}", daemon=True
            )
            self._workers.append(worker)
            worker.start()

    def _next(self) -> tuple[str, _Job] | None:  # with self._cond held
        while not self._ready:
            if self._closed:
                return None
            self._cond.wait()
        key = self._ready.popleft()
        state = self._keys[key]
        job = state.queue.popleft()
        state.weight -= job.weight
        state.running += 1
        if state.queue and state.running < self.max_running_per_key:
            self._ready.append(key)  # its next job waits for the other keys' turn
        return key, job

    def _done(self, key: str) -> None:  # with self._cond held
        state = self._keys[key]
        state.running -= 1
        if state.queue:
            # It was at its running bound (else it would be ready already): its turn again.
            if state.running == self.max_running_per_key - 1:
                self._ready.append(key)
                self._cond.notify()
        elif not state.running:
            del self._keys[key]

    def _work(self) -> None:
        if self.nice:
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        while True:
            with self._cond:
                taken = self._next()
            if taken is None:
                return
            key, job = taken
            try:
                if job.future.set_running_or_notify_cancel():
                    try:
                        result = job.run()
                    except BaseException as exc:  # handed to the waiting request
                        job.future.set_exception(exc)
                    else:
                        job.future.set_result(result)
            finally:
                with self._cond:
                    self._done(key)
