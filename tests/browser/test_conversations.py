"""A conversation in real Chromium, with two browser contexts: a visitor on a phone-sized demo
shop opens the chat and writes; an agent logged into the dashboard sees it, replies, and the
visitor sees the reply within 2 s; the visitor leaves; the finalized recording appears in the
conversation's Visitor info panel and plays, opening where the conversation started.

The chat box lives in a *closed* shadow root (so that rrweb, and the page's own scripts,
cannot look inside). Playwright's selectors do not enter closed roots; the Chrome DevTools
Protocol does (`DOM.getDocument` with `pierce`), so the visitor's side is driven through it,
with real taps and key presses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footage.accounts.service import add_user, demo_site
from footage.demo.account import ensure_demo
from tests.browser.conftest import log_in
from tests.conftest import LiveServer, free_port, settings_for, start_server, wait_for

pytestmark = pytest.mark.browser

AGENT = {"email": "sam.agent@example.com", "password": "agent password 1"}
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36"
)
QUESTION = "Do you ship trail shoes to Canada?"
ANSWER = "Yes! Canada takes 3-5 days."


@pytest.fixture
def demo_server(tmp_path: Path, database_url: str) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """The demo shop (as start_demo serves it) on this test's database, chat on, and an agent."""
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        background=True,
        demo=True,
        # The visitor goes from the shop to a product page (its chat box loads first): a
        # second too short a wait on a busy machine, and the product page would begin a
        # recording of its own.
        leave_grace_seconds=4.0,
        heartbeat_timeout_seconds=60.0,  # above the recorder's longest silence (start_demo)
        finalizer_interval_seconds=0.2,
    )
    server = start_server(settings)
    login = ensure_demo(settings, server.services.db, server.services.clock)
    assert login is not None
    svc = server.services
    site = demo_site(svc.db)
    assert site is not None
    svc.db.run("UPDATE sites SET chat_enabled = 1 WHERE id = :s", {"s": site["id"]})
    svc.ingest.forget_site(site["site_key"])
    add_user(svc.db, svc.clock, site["account_id"], role="agent", **AGENT)
    yield server, login
    server.stop()


def chat_hosts(events: list[dict[str, Any]]) -> set[int]:
    """Node ids of the chat box's host element in the recording (full snapshots, and nodes
    added later); each is an empty placeholder."""
    found: set[int] = set()

    def walk(node: dict[str, Any]) -> None:
        if node.get("attributes", {}).get("class") == "footage-chat":
            assert node["childNodes"] == [] and "rr_width" in node["attributes"]
            found.add(node["id"])
        for child in node.get("childNodes", []):
            walk(child)

    for event in events:
        if event["type"] == 2:  # FullSnapshot
            walk(event["data"]["node"])
        elif event["type"] == 3 and event["data"].get("source") == 0:  # Mutation
            for added in event["data"]["adds"]:
                walk(added["node"])
    return found


class ChatBox:
    """The visitor's chat box, seen through the DevTools protocol (closed shadow root)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)

    def nodes(self) -> list[dict[str, Any]]:
        """Every node under the chat's host element, shadow roots included."""
        root = self.cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        found: list[dict[str, Any]] = []

        def walk(node: dict[str, Any], inside: bool) -> None:
            attrs = node.get("attributes", [])
            inside = inside or "data-footage-chat" in attrs[::2]
            if inside:
                found.append(node)
            for child in node.get("children", []) + node.get("shadowRoots", []):
                walk(child, inside)

        walk(root, False)
        return found

    def find(self, name: str, cls: str | None = None) -> dict[str, Any]:
        for node in self.nodes():
            flat = node.get("attributes", [])
            attrs = dict(zip(flat[::2], flat[1::2], strict=True))
            if node["nodeName"] == name and (cls is None or cls in attrs.get("class", "").split()):
                return node
        raise AssertionError(f"no {name}.{cls} in the chat box")

    def text(self) -> str:
        return " ".join(n.get("nodeValue", "") for n in self.nodes() if n["nodeType"] == 3)

    def center(self, node: dict[str, Any]) -> tuple[float, float]:
        quad = self.cdp.send("DOM.getBoxModel", {"backendNodeId": node["backendNodeId"]})["model"][
            "content"
        ]
        return (quad[0] + quad[4]) / 2, (quad[1] + quad[5]) / 2

    def tap(self, name: str, cls: str | None = None) -> None:
        x, y = self.center(self.find(name, cls))
        self.page.touchscreen.tap(x, y)


def test_visitor_chats_agent_answers_and_the_recording_joins_the_conversation(
    browser: Any, demo_server: tuple[LiveServer, dict[str, str]], artifacts: Path
) -> None:
    server, login = demo_server
    base = server.url

    # The agent waits on the conversations list.
    agent_context = browser.new_context(viewport={"width": 1366, "height": 860})
    agent = agent_context.new_page()
    log_in(agent, base, AGENT)
    agent.goto(f"{base}/conversations")
    assert "No conversations yet" in agent.inner_text("main")

    # A visitor on a phone browses the shop, then opens the chat and writes.
    visitor_context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        user_agent=PHONE_UA,
    )
    visitor = visitor_context.new_page()
    errors: list[str] = []
    visitor.on("pageerror", lambda error: errors.append(str(error)))
    visitor.goto(f"{base}/demo/")
    visitor.wait_for_selector("[data-footage-chat]", state="attached", timeout=10_000)
    assert visitor.get_attribute("[data-footage-chat]", "data-recording-block") == ""
    visitor.wait_for_timeout(300)
    visitor.screenshot(path=str(artifacts / "chat-button-phone.png"))
    with visitor.expect_request("**/api/v1/ingest"):
        visitor.touchscreen.tap(200, 300)  # the visit starts being recorded
        visitor.mouse.move(150, 400, steps=4)
    chat = ChatBox(visitor)
    chat.tap("BUTTON", "launcher")
    wait_for(lambda: "Ask us anything" in chat.text(), timeout=5)
    chat.tap("TEXTAREA")
    visitor.keyboard.type(QUESTION)
    visitor.keyboard.press("Enter")
    wait_for(lambda: QUESTION in chat.text(), timeout=5)

    # The agent's list shows it (unread) without a reload; the conversation has the message,
    # and the panel shows the visit as in progress.
    row = agent.locator(".conversation-row.unread", has_text=QUESTION)
    row.wait_for(timeout=25_000)
    agent.screenshot(path=str(artifacts / "conversations-list.png"))
    row.locator("a").click()
    agent.wait_for_selector(f".message.from-visitor:has-text('{QUESTION}')")
    agent.locator(".visitor-info", has_text="Recording in progress").wait_for(timeout=15_000)
    panel = agent.inner_text(".visitor-info")
    assert "On the site, viewing" in panel and "Trailhead" in panel  # the page the visitor is on
    assert "Mobile" in panel and "Android" in panel

    # The agent answers; the visitor's waiting chat box shows it within 2 s.
    agent.fill("#reply-text", ANSWER)
    sent = time.monotonic()
    agent.press("#reply-text", "Enter")
    deadline = sent + 10
    while ANSWER not in chat.text():
        assert time.monotonic() < deadline, "the answer never reached the visitor"
        visitor.wait_for_timeout(25)
    latency = time.monotonic() - sent
    print(f"\nthe agent's reply reached the visitor's chat box after {latency * 1000:.0f} ms")
    assert latency < 2.0
    agent.wait_for_selector(f".message.from-agent:has-text('{ANSWER}')")
    visitor.wait_for_timeout(300)  # the reply's scroll settles
    visitor.screenshot(path=str(artifacts / "chat-visitor-phone.png"))
    agent.screenshot(path=str(artifacts / "conversation-live.png"), full_page=True)
    conversation_url = agent.url

    # The visitor closes the chat (full screen on a phone) and goes on to a product page: the
    # chat box there holds the conversation so far.
    chat.tap("BUTTON", "close")
    with visitor.expect_navigation():
        visitor.tap("text=Trail running shoes")
    visitor.wait_for_selector("[data-footage-chat]", state="attached", timeout=10_000)
    chat = ChatBox(visitor)
    chat.tap("BUTTON", "launcher")
    wait_for(lambda: QUESTION in chat.text() and ANSWER in chat.text(), timeout=5)
    visitor.touchscreen.tap(60, 500)
    visitor.mouse.move(100, 600, steps=4)
    visitor.wait_for_timeout(1000)

    # The visitor leaves. Within the finalize window the panel offers the recording.
    visitor.close(run_before_unload=True)
    visitor_context.close()
    assert errors == []
    play = agent.locator(".visitor-info a", has_text="Play this visit")
    play.wait_for(timeout=45_000)
    assert "Recording in progress" not in agent.inner_text(".visitor-info")
    href = play.get_attribute("href") or ""
    assert "?t=" in href  # opens where the conversation started
    start_ms = int(href.split("?t=")[1])
    agent.screenshot(path=str(artifacts / "conversation-recorded.png"), full_page=True)
    play.click()
    agent.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    frame = agent.frame_locator("#player iframe")
    assert "Trailhead" in frame.locator("header").inner_text(timeout=10_000)
    position = agent.evaluate("() => window.footagePlayer.getCurrentTime()")
    assert abs(position - start_ms) < 1500, (position, start_ms)
    # The player links back to its conversation.
    back = agent.locator("[data-conversation-link]")
    assert back.get_attribute("href") == conversation_url.replace(base, "")
    agent.screenshot(path=str(artifacts / "player-from-conversation.png"), full_page=True)
    agent_context.close()

    # Nothing of the chat is in the recording: the box is an empty placeholder.
    recording_id = href.split("/recordings/")[1].split("?")[0]
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        rec = http.get(f"/api/v1/recordings/{recording_id}").json()
        events = json.dumps(http.get(f"/api/v1/recordings/{recording_id}/events").json())
        conversation = http.get(f"/api/v1/conversations/{rec['conversation_id']}").json()
    assert rec["device"] == "mobile" and rec["page_count"] == 2
    # Taps on the chat box are not recorded (they would read as clicks on an empty box).
    hosts = chat_hosts(json.loads(events))
    assert len(hosts) == 2  # one per page
    touched = [
        e["data"]["id"]
        for e in json.loads(events)
        if e["type"] == 3 and e["data"].get("source") == 2  # MouseInteraction
    ]
    assert touched and not hosts & set(touched)
    # rrweb keeps a blocked element's class and size only.
    assert '"class": "footage-chat", "rr_width": "' in events
    for secret in (QUESTION, ANSWER, "Ask us anything", "Canada"):
        assert secret not in events, secret
    assert [m["text"] for m in conversation["messages"]] == [QUESTION, ANSWER]
    assert conversation["recordings"][0]["id"] == recording_id
    assert conversation["recordings"][0]["status"] == "ready"
