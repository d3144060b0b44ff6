"""The chat box over a limit, in real Chromium: a visitor who writes faster than the site's
chat allows sees the server's words ("wait N seconds"), keeps what they typed, cannot send it
again before the wait is over, and sends it once the wait has passed."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footage.accounts.service import demo_site
from footage.demo.account import ensure_demo
from tests.browser.test_conversations import PHONE_UA, ChatBox
from tests.conftest import LiveServer, free_port, settings_for, start_server, wait_for

pytestmark = pytest.mark.browser

# 12 messages a minute per address: the 13th waits 5 s (one comes back every 5 s).
PER_MINUTE = 12


@pytest.fixture
def demo_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        background=True,
        demo=True,
        chat_ip_messages=PER_MINUTE,
    )
    server = start_server(settings)
    assert ensure_demo(settings, server.services.db, server.services.clock) is not None
    site = demo_site(server.services.db)
    assert site is not None
    server.services.db.run("UPDATE sites SET chat_enabled = 1 WHERE id = :s", {"s": site["id"]})
    server.services.ingest.forget_site(site["site_key"])
    yield server
    server.stop()


def js(chat: ChatBox, node: dict[str, Any], expression: str) -> Any:
    """`expression` about an element inside the closed shadow root (`this` is the element)."""
    handle = chat.cdp.send("DOM.resolveNode", {"backendNodeId": node["backendNodeId"]})
    answer = chat.cdp.send(
        "Runtime.callFunctionOn",
        {
            "objectId": handle["object"]["objectId"],
            "functionDeclaration": f"function() {{ return {expression}; }}",
            "returnByValue": True,
        },
    )
    return answer["result"]["value"]


def test_the_chat_box_says_how_long_to_wait_and_keeps_the_message(
    browser: Any, demo_server: LiveServer, artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, user_agent=PHONE_UA
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sent: list[int] = []
    page.on(
        "response",
        lambda r: sent.append(r.status) if r.url.endswith("/api/v1/chat/messages") else None,
    )
    page.goto(f"{demo_server.url}/demo/")
    page.wait_for_selector("[data-footage-chat]", state="attached", timeout=10_000)
    chat = ChatBox(page)
    chat.tap("BUTTON", "launcher")
    wait_for(lambda: "Ask us anything" in chat.text(), timeout=5)
    chat.tap("TEXTAREA")
    for i in range(PER_MINUTE):
        page.keyboard.type(f"Question {i}")
        page.keyboard.press("Enter")
        wait_for(lambda i=i: f"Question {i}" in chat.text(), timeout=10)

    # One too many: the server's words, the text kept, the button off.
    page.keyboard.type("Are you there?")
    page.keyboard.press("Enter")
    wait_for(lambda: "You are sending messages too fast" in chat.text(), timeout=10)
    refused_at = time.monotonic()
    # 5 s at most; less when tokens came back while the 12 messages were typed.
    said = re.search(r"wait (\d) seconds? and send it again", chat.text())
    assert said is not None, chat.text()
    wait = int(said.group(1))
    assert 1 <= wait <= 5, wait
    assert sent[-1] == 429
    textarea, button = chat.find("TEXTAREA"), chat.find("BUTTON", "send")
    assert js(chat, textarea, "this.value") == "Are you there?"
    assert js(chat, button, "this.disabled") is True
    page.screenshot(path=str(artifacts / "chat-too-fast-phone.png"))
    # Enter during the wait sends nothing.
    tries = len(sent)
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    assert len(sent) == tries

    # After the wait, the message goes.
    wait_for(lambda: js(chat, button, "this.disabled") is False, timeout=15)
    waited = time.monotonic() - refused_at
    assert waited >= wait - 1.0, waited  # Retry-After, less the time the answer took to show
    assert js(chat, chat.find("P", "error"), "this.hidden") is True  # the message is gone
    chat.tap("TEXTAREA")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/chat/messages")) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 200
    assert js(chat, textarea, "this.value") == ""
    texts = demo_server.services.db.all(
        "SELECT text FROM conversation_messages WHERE text = 'Are you there?'"
    )
    assert len(texts) == 1
    assert errors == []
    context.close()


def test_escape_closes_the_chat_box_and_gives_the_focus_back(
    browser: Any, demo_server: LiveServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{demo_server.url}/demo/")
    page.wait_for_selector("[data-footage-chat]", state="attached", timeout=10_000)
    chat = ChatBox(page)
    launcher = chat.find("BUTTON", "launcher")
    x, y = chat.center(launcher)
    page.mouse.click(x, y)
    panel = chat.find("SECTION", "panel")
    wait_for(lambda: js(chat, panel, "!this.hidden"), timeout=5)
    page.keyboard.type("half a question")  # the message field has the focus
    page.keyboard.press("Escape")
    assert js(chat, panel, "this.hidden") is True
    assert js(chat, launcher, "this.getRootNode().activeElement === this") is True
    assert js(chat, launcher, "this.getAttribute('aria-expanded')") == "false"
    context.close()
