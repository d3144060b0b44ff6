"""Batches are compressed in a worker, off the visitor's page, and still arrive where the
page allows no worker or breaks it.

gzip of a large page's snapshot takes tens of milliseconds of CPU. The recorder does it in a
worker started from a blob: address with its first batch; a page whose Content-Security-Policy
refuses that worker, or whose own scripts replaced `Worker` with something that never answers
or answers nonsense, gets its batches compressed by the page itself. Never a lost batch.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import delivered, leave, start_demo
from tests.browser.test_privacy import events_of, known_recordings, new_recording
from tests.browser.test_recorded_ahead import AFTER_IDLE, PAGE
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

GZIP_MAGIC = b"\x1f\x8b"

# A page's own script that replaced Worker: one that takes every message and never answers,
# one that answers each with nonsense.
SILENT_WORKER = """
window.Worker = function () {
  return { postMessage() {}, terminate() {}, addEventListener() {} };
};
"""
LYING_WORKER = """
window.Worker = function () {
  const fake = { terminate() {}, addEventListener() {} };
  fake.postMessage = (data) => setTimeout(() => {
    fake.onmessage({ data: [data[0], 'not gzip'] });
    fake.onmessage({ data: 'nonsense' });
  }, 10);
  return fake;
};
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    server, login = start_demo(tmp_path_factory.mktemp("compression"))
    yield server, login
    server.stop()


def open_page(
    browser: Any,
    server: LiveServer,
    path: str,
    headers: dict[str, str],
    init: str = "",
    script: str = "",
    items: int = 300,
) -> tuple[Any, Any, list[str]]:
    """A fresh visitor on a page of `items` cards with the snippet (and the page's own `script`),
    answered with `headers`, once the recorder has recorded it ahead; returns (context, page,
    the page's errors)."""
    site_key = server.services.db.one("SELECT site_key FROM sites WHERE is_demo = 1")["site_key"]
    html = PAGE % {"key": site_key, "host": server.url, "items": items, "script": script}
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    if init:
        context.add_init_script(init)
    context.route(
        f"**{path}",
        lambda route: route.fulfill(body=html, content_type="text/html", headers=headers),
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    with page.expect_response(lambda r: "/config" in r.url):
        page.goto(f"{server.url}{path}")
    page.wait_for_function("typeof window.footage === 'function' && window.footage.loaded")
    page.evaluate(AFTER_IDLE)
    return context, page, errors


def visit(page: Any, timeout_ms: float = 10_000) -> tuple[bytes, bytes]:
    """The visitor moves and clicks, then the page changes and the visitor moves again;
    returns the bodies of the batch with the snapshot and of the one with the change, as sent."""
    with page.expect_response(lambda r: delivered(r, b"Item 299"), timeout=timeout_ms) as first:
        page.mouse.move(200, 200, steps=3)
        page.click("#items button")
    page.evaluate("() => document.querySelector('h1').textContent = 'Catalogue, later'")
    with page.expect_response(
        lambda r: delivered(r, b"Catalogue, later"), timeout=timeout_ms
    ) as later:
        page.mouse.move(300, 300, steps=3)
    return first.value.request.post_data_buffer, later.value.request.post_data_buffer


def recorded(server: LiveServer, login: dict[str, str], known: set[str], path: str) -> str:
    """The events of the recording of the visit to `path`, as JSON text."""
    rec = new_recording(server, login, known, path)
    events = events_of(server, login, rec["id"])
    assert len([e for e in events if e["type"] == 2]) == 1
    return json.dumps(events)


def test_batches_are_compressed_in_a_worker_started_only_for_an_active_visitor(browser, demo):
    server, login = demo
    known = known_recordings(server, login)
    context, page, errors = open_page(browser, server, "/demo/worker", {})
    # Recorded ahead but nobody acted: nothing to send, so no worker either.
    assert page.workers == []
    first, later = visit(page)
    assert first[:2] == GZIP_MAGIC and later[:2] == GZIP_MAGIC
    assert b"Item 299" in gzip.decompress(first)
    assert [w.url.startswith("blob:") for w in page.workers] == [True]
    leave(page, server)
    context.close()
    assert errors == []
    text = recorded(server, login, known, "/demo/worker")
    assert "Item 299" in text and "Catalogue, later" in text


def test_a_page_whose_policy_refuses_workers_compresses_its_batches_itself(browser, demo):
    server, login = demo
    known = known_recordings(server, login)
    policy = {"Content-Security-Policy": "worker-src 'none'"}
    context, page, errors = open_page(browser, server, "/demo/strict", policy)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "worker" in m.text.lower() else None)
    first, later = visit(page)
    assert first[:2] == GZIP_MAGIC and later[:2] == GZIP_MAGIC
    assert page.workers == []
    leave(page, server)
    context.close()
    # The browser says it refused the worker; nothing of the recorder's reaches the page.
    assert any("Content Security Policy" in v for v in violations), violations
    assert errors == []
    text = recorded(server, login, known, "/demo/strict")
    assert "Item 299" in text and "Catalogue, later" in text


# Notes what the page posts to workers: when, how many characters, and whether it ends a body.
POSTED = """
window.posted = [];
const post = Worker.prototype.postMessage;
Worker.prototype.postMessage = function (message, transfer) {
  if (Array.isArray(message)) {
    window.posted.push([performance.now(), String(message[1]).length, message[2] === true]);
  }
  return post.call(this, message, transfer);
};
"""


def test_a_large_snapshot_is_compressed_before_the_first_input(browser, demo):
    """A snapshot larger than a batch (1,500 cards: ~600 K characters) is compressed while the
    page waits for the visitor, not during the visitor's first input. The first batch is then
    two gzip members: its head, made at the input, and the events compressed ahead."""
    server, login = demo
    known = known_recordings(server, login)
    path = "/demo/compressed-ahead"
    context, page, errors = open_page(browser, server, path, {}, init=POSTED, items=1500)
    page.wait_for_function("window.posted.some((p) => p[2])")
    ahead = page.evaluate("() => window.posted.reduce((n, p) => n + p[1], 0)")
    assert ahead > 262_144  # the snapshot, before anyone acted
    input_at = page.evaluate("() => performance.now()")
    first, later = visit(page)
    after = page.evaluate("(t) => window.posted.filter((p) => p[0] > t).map((p) => p[1])", input_at)
    # From the first input on, only the batches' heads and the small later batches.
    assert after and max(after) < 20_000, after
    members = zlib.decompressobj(wbits=31)
    head = members.decompress(first)
    assert members.eof and head.endswith(b'"events":[')
    assert members.unused_data[:2] == GZIP_MAGIC and b"Item 1499" in gzip.decompress(first)
    assert later[:2] == GZIP_MAGIC
    leave(page, server)
    context.close()
    assert errors == []
    text = recorded(server, login, known, path)
    assert "Item 1499" in text and "Catalogue, later" in text


def test_a_large_page_whose_policy_refuses_workers_compresses_its_snapshot_ahead_itself(
    browser, demo
):
    """No worker: the held snapshot is compressed by the page, still while it waits for the
    visitor, and still sent as the head's member and its own."""
    server, login = demo
    known = known_recordings(server, login)
    policy = {"Content-Security-Policy": "worker-src 'none'"}
    path = "/demo/strict-large"
    context, page, errors = open_page(browser, server, path, policy, items=1500)
    first, later = visit(page)
    assert page.workers == []
    members = zlib.decompressobj(wbits=31)
    assert members.decompress(first).endswith(b'"events":[') and members.eof
    assert b"Item 1499" in gzip.decompress(first) and later[:2] == GZIP_MAGIC
    leave(page, server)
    context.close()
    assert errors == []
    text = recorded(server, login, known, path)
    assert "Item 1499" in text and "Catalogue, later" in text


# A paragraph of 150,001 UTF-16 units after the cards: the snapshot goes to the worker in
# several pieces, and 4-byte characters after one of 1 byte put every cut inside a pair.
LONG_TEXT = "a" + "\U0001f600" * 75_000
LONG_SCRIPT = (
    "const long = document.createElement('p'); long.id = 'long';"
    " long.textContent = 'a' + '\\u{1F600}'.repeat(75000); document.body.appendChild(long);"
)


def test_a_snapshot_larger_than_a_piece_arrives_whole(browser, demo):
    """The body goes to the worker in pieces of 64 K characters, one per task; joined again
    and compressed there, the recording holds the page's text exactly, emoji included."""
    server, login = demo
    known = known_recordings(server, login)
    context, page, errors = open_page(browser, server, "/demo/long", {}, script=LONG_SCRIPT)
    assert page.evaluate("() => document.getElementById('long').textContent.length") == 150_001
    first, _ = visit(page)
    assert first[:2] == GZIP_MAGIC
    assert LONG_TEXT.encode() in gzip.decompress(first)
    leave(page, server)
    context.close()
    assert errors == []
    rec = new_recording(server, login, known, "/demo/long")
    texts = [
        node.get("textContent")
        for event in events_of(server, login, rec["id"])
        if event["type"] == 2
        for node in walk(event["data"]["node"])
    ]
    assert texts.count(LONG_TEXT) == 1


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.get("childNodes", []))


# A page's own script that replaced the browser's task scheduler with one that throws.
THROWING_SCHEDULER = """
window.scheduler = { postTask() { throw new Error('the page says no'); } };
"""


def test_a_scheduler_replaced_by_the_page_costs_no_batch(browser, demo):
    """The body's pieces go to the worker one per task, through `scheduler.postTask` where
    there is one: a page whose own scheduler throws gets them posted by timers instead."""
    server, login = demo
    known = known_recordings(server, login)
    path = "/demo/scheduler"
    context, page, errors = open_page(browser, server, path, {}, init=THROWING_SCHEDULER)
    first, later = visit(page)
    assert first[:2] == GZIP_MAGIC and later[:2] == GZIP_MAGIC
    assert [w.url.startswith("blob:") for w in page.workers] == [True]
    leave(page, server)
    context.close()
    assert errors == []
    text = recorded(server, login, known, path)
    assert "Item 299" in text and "Catalogue, later" in text


@pytest.mark.parametrize("fake", [SILENT_WORKER, LYING_WORKER], ids=["silent", "lying"])
def test_a_worker_replaced_by_the_page_costs_a_wait_never_a_batch(browser, demo, fake):
    """A Worker that never answers holds the first batch for the recorder's 5 s wait; one that
    answers nonsense holds nothing. Either way every batch arrives, compressed by the page."""
    server, login = demo
    known = known_recordings(server, login)
    path = f"/demo/fake-{'silent' if fake is SILENT_WORKER else 'lying'}"
    context, page, errors = open_page(browser, server, path, {}, init=fake)
    first, later = visit(page, timeout_ms=20_000)
    assert first[:2] == GZIP_MAGIC and later[:2] == GZIP_MAGIC
    leave(page, server)
    context.close()
    assert errors == []
    text = recorded(server, login, known, path)
    assert "Item 299" in text and "Catalogue, later" in text
