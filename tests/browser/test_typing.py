"""Typing is recorded as it is typed: every keystroke's value (masked as the site says), not
only the final value when the field loses focus. The word being typed shows as `*` until it
is complete, so a half-typed e-mail address or number is never recorded as plain text. An
abandoned search still shows what was typed, and the last keys before the tab closes are kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import leave, open_recorded
from tests.browser.test_privacy import configure, events_of, known_recordings, new_recording
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

INCREMENTAL, INPUT = 3, 5
SEARCH = "wool socks"


def type_and_close(browser: Any, server: LiveServer, text: str = SEARCH) -> None:
    """A visitor types into the shop's search and closes the tab without leaving the field."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = open_recorded(context, f"{server.url}/demo/")
    page.mouse.move(300, 300)
    page.click("#search")
    page.keyboard.type(text, delay=40)
    leave(page, server)  # at once: no blur, no change event
    context.close()


def typed_values(events: list[dict]) -> list[str]:
    """The values of the search field's input events, in order."""
    search_ids = {
        node["id"]
        for e in events
        if e["type"] == 2
        for node in walk(e["data"]["node"])
        if node.get("attributes", {}).get("id") == "search"
    }
    return [
        e["data"]["text"]
        for e in events
        if e["type"] == INCREMENTAL
        and e["data"]["source"] == INPUT
        and e["data"]["id"] in search_ids
    ]


def walk(node: dict) -> Iterator[dict]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.get("childNodes", []))


def test_each_keystroke_is_recorded_and_the_last_survives_closing_the_tab(browser, demo):
    server, login = demo
    configure(server, login, record_forms=True)
    known = known_recordings(server, login)
    type_and_close(browser, server)
    rec = new_recording(server, login, known, "/demo/")
    values = typed_values(events_of(server, login, rec["id"]))
    # The text grows in the replay as it was typed, a word at a time (the word being typed
    # shows as *), up to the whole text when the tab closed.
    assert values[-1] == SEARCH, values
    assert len(values) >= len(SEARCH) - 2, values  # one per key (rrweb skips repeats)
    assert all(
        len(v) <= len(SEARCH) and all(c in ("*", SEARCH[i]) for i, c in enumerate(v))
        for v in values
    ), values
    assert [len(v) for v in values] == sorted(len(v) for v in values), values
    assert "wool " in values and "wool *" in values, values  # a word shows once complete


def test_typing_in_a_field_never_left_is_masked_key_by_key(browser, demo):
    server, login = demo
    configure(server, login, record_forms=False)  # the default: typed text is not recorded
    known = known_recordings(server, login)
    type_and_close(browser, server)
    rec = new_recording(server, login, known, "/demo/")
    values = typed_values(events_of(server, login, rec["id"]))
    # An abandoned search still shows that something was typed, and how much: never what.
    assert values, "the abandoned field's typing was not recorded"
    assert all(set(v) <= {"*", " "} for v in values), values
    assert len(values[-1]) == len(SEARCH)
    assert len(values) >= len(SEARCH) - 2, values


def test_a_half_typed_email_address_is_never_recorded(browser, demo):
    server, login = demo
    configure(server, login, record_forms=True)  # typing recorded, e-mail addresses not
    known = known_recordings(server, login)
    type_and_close(browser, server, "mail jane.quokka@example.org")
    rec = new_recording(server, login, known, "/demo/")
    events = events_of(server, login, rec["id"])
    values = typed_values(events)
    # While it was typed the address was one word in progress: only *s, never "jane.quok…".
    assert "jane" not in json.dumps(events), values
    assert values[-1].startswith("mail ") and "@" not in values[-1], values
