"""A short recording made through the real ingest path: a page with a coloured block and
text, then text changes, mouse moves and clicks over a few seconds."""

from __future__ import annotations

from typing import Any

import httpx

from footage.accounts.service import NewAccount, create_account
from tests.conftest import PASSWORD, batch, click, gz, meta, new_ids, wait_for

T0 = 1_795_000_000_000
STEPS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def account(live: Any, name: str, url: str) -> NewAccount:
    return create_account(
        live.services.db,
        live.services.clock,
        name=name,
        plan="pro",
        email=f"{name.lower()}@example.com",
        password=PASSWORD,
        site_url=url,
    )


def snapshot(ts: int, text: str) -> dict[str, Any]:
    """A page: a heading, an indigo block, and an <img> of the recorded site (never loaded by
    a download: it may load nothing from the network)."""
    body = [
        {
            "type": 2,
            "tagName": "h1",
            "attributes": {"style": "font: 40px sans-serif; margin: 20px"},
            "id": 5,
            "childNodes": [{"type": 3, "textContent": text, "id": 6}],
        },
        {
            "type": 2,
            "tagName": "div",
            "attributes": {
                "style": "background: #4f46e5; width: 600px; height: 300px; margin: 20px"
            },
            "id": 7,
            "childNodes": [],
        },
        {
            "type": 2,
            "tagName": "img",
            "attributes": {"src": "https://images.alice.example/logo.png", "width": "50"},
            "id": 8,
            "childNodes": [],
        },
    ]
    html = {
        "type": 2,
        "tagName": "html",
        "attributes": {},
        "id": 2,
        "childNodes": [
            {"type": 2, "tagName": "head", "attributes": {}, "id": 3, "childNodes": []},
            {"type": 2, "tagName": "body", "attributes": {}, "id": 4, "childNodes": body},
        ],
    }
    return {
        "type": 2,
        "data": {
            "node": {"type": 0, "childNodes": [html], "id": 1},
            "initialOffset": {"left": 0, "top": 0},
        },
        "timestamp": ts,
    }


def text_change(ts: int, value: str) -> dict[str, Any]:
    return {
        "type": 3,
        "data": {
            "source": 0,
            "texts": [{"id": 6, "value": value}],
            "attributes": [],
            "removes": [],
            "adds": [],
        },
        "timestamp": ts,
    }


def mouse(ts: int, x: int, y: int) -> dict[str, Any]:
    return {
        "type": 3,
        "data": {"source": 1, "positions": [{"x": x, "y": y, "id": 7, "timeOffset": 0}]},
        "timestamp": ts,
    }


def events(start: int, seconds: int = 6, text: str = "Welcome to the shop") -> list[dict[str, Any]]:
    out = [meta(start, "https://alice.example/"), snapshot(start + 1, text)]
    for s in range(1, seconds + 1):
        out.append(mouse(start + s * 1000 - 500, 100 + s * 80, 150 + s * 20))
        # Words, not digits: the site's default masks would turn digits into *.
        out.append(text_change(start + s * 1000 - 200, f"{text} · step {STEPS[s % len(STEPS)]}"))
        out.append(click(start + s * 1000, 100 + s * 80, 150 + s * 20))
    return out


def record(
    http: httpx.Client,
    acc: NewAccount,
    start: int = T0,
    seconds: int = 6,
    left: bool = True,
    text: str = "Welcome to the shop",
) -> str:
    """Send one recording (one batch, the page left at its end); returns its id."""
    r = http.post(
        "/api/v1/ingest",
        content=gz(
            batch(
                acc.site_key,
                new_ids(),
                0,
                events(start, seconds, text),
                url="https://alice.example/",
                left=left,
            )
        ),
        headers={"Origin": "https://alice.example", "Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["recording_id"])


def wait_ready(http: httpx.Client, acc: NewAccount, recording_id: str) -> None:
    auth = {"Authorization": f"Bearer {acc.api_token}"}
    wait_for(
        lambda: http.get(f"/api/v1/recordings/{recording_id}", headers=auth).status_code == 200
    )
