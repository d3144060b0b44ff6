"""The visitor's side of the chat (footage-chat.js's endpoints) and the agent's side in the
dashboard: switched on per site, guarded by origin and by the conversation's secret, live
linking of the visit being recorded, and answers that arrive within 2 s by long-polling."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.conftest import login
from tests.conversations.conftest import World

VISITOR = "vis-0123456789abcdef"


def enable_chat(world: World) -> None:
    world.svc.db.run("UPDATE sites SET chat_enabled = 1 WHERE id = :s", {"s": world.alice.site_id})


def first_message(
    world: World, text: str = "Hello, is anyone there?", **extra: Any
) -> dict[str, Any]:
    r = world.chat({"visitor_id": VISITOR, "text": text, "id": "msg-00000001", **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_config_says_whether_the_chat_is_on(world: World) -> None:
    with world.server.client() as http:
        url = f"/api/v1/sites/{world.alice.site_key}/config"
        assert (
            http.get(url, headers={"Origin": "https://alice.example"}).json()["chat_enabled"]
            is False
        )
        enable_chat(world)
        assert (
            http.get(url, headers={"Origin": "https://alice.example"}).json()["chat_enabled"]
            is True
        )
        # Not from another site's pages.
        assert (
            http.get(url, headers={"Origin": "https://evil.example"}).json()["chat_enabled"]
            is False
        )
        # Chat does not depend on recording.
        world.svc.db.run(
            "UPDATE sites SET recording_enabled = 0 WHERE id = :s", {"s": world.alice.site_id}
        )
        body = http.get(url, headers={"Origin": "https://alice.example"}).json()
        assert body["enabled"] is False and body["chat_enabled"] is True
        script = http.get("/footage-chat.js")
        assert script.status_code == 200 and "set-cookie" not in script.headers
        assert "data-recording-block" in script.text


def test_chat_is_refused_when_off_or_from_elsewhere(world: World) -> None:
    r = world.chat({"visitor_id": VISITOR, "text": "Hi", "id": "msg-00000001"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "chat_disabled"
    enable_chat(world)
    r = world.chat(
        {"visitor_id": VISITOR, "text": "Hi", "id": "msg-00000001"}, origin="https://evil.example"
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    r = world.chat({"visitor_id": "short", "text": "Hi", "id": "msg-00000001"})
    assert r.status_code == 400 and "'visitor_id' must be" in r.json()["error"]["message"]
    r = world.chat({"visitor_id": VISITOR, "text": "  ", "id": "msg-00000001"})
    assert r.status_code == 400 and "'text'" in r.json()["error"]["message"]
    r = world.chat({"visitor_id": VISITOR, "text": "x" * 4001, "id": "msg-00000001"})
    assert r.status_code == 400 and "4,000" in r.json()["error"]["message"]
    with world.server.client() as http:
        r = http.post(
            "/api/v1/chat/messages",
            content=b"not json",
            headers={"Origin": "https://alice.example"},
        )
    assert r.status_code == 400
    assert world.svc.db.one("SELECT COUNT(*) AS n FROM conversations") == {"n": 0}


def test_only_the_conversations_secret_opens_it(world: World) -> None:
    enable_chat(world)
    started = first_message(world)
    assert (
        started["token"].startswith("fc_")
        and started["message"]["text"] == "Hello, is anyone there?"
    )
    conv = started["conversation_id"]
    # The secret is stored only as a hash.
    row = world.svc.db.one(
        "SELECT visitor_token_hash FROM conversations WHERE id = :c", {"c": conv}
    )
    assert row and started["token"] not in str(row)
    mine = {"conversation_id": conv, "token": started["token"], "after": 0, "wait": 0}
    r = world.chat(mine, "poll")
    assert [m["text"] for m in r.json()["messages"]] == ["Hello, is anyone there?"]
    # Knowing the conversation id (or the visitor id) is not enough.
    for token in ("", "fc_guess", None):
        r = world.chat({**mine, "token": token}, "poll")
        assert r.status_code == 404, token
        r = world.chat(
            {
                "visitor_id": VISITOR,
                "text": "x",
                "id": "msg-00000009",
                "conversation_id": conv,
                "token": token,
            }
        )
        assert r.status_code == 404, token
    # Another visitor's own conversation does not open this one either.
    other = world.chat(
        {"visitor_id": "vis-another-visitor", "text": "Me too", "id": "msg-00000002"}
    ).json()
    r = world.chat({**mine, "token": other["token"]}, "poll")
    assert r.status_code == 404
    # Sending the same message again (a retry) stores it once.
    again = world.chat(
        {
            "visitor_id": VISITOR,
            "text": "Hello, is anyone there?",
            "id": "msg-00000001",
            "conversation_id": conv,
            "token": started["token"],
        }
    )
    assert again.status_code == 200 and "token" not in again.json()
    assert world.svc.db.one(
        "SELECT message_count FROM conversations WHERE id = :c", {"c": conv}
    ) == {"message_count": 1}


def test_agent_reply_reaches_the_waiting_visitor_within_2_seconds(world: World) -> None:
    enable_chat(world)
    # The visitor is being recorded right now: the live recording joins the conversation.
    from tests.conftest import full_snapshot, meta, move
    from tests.sessions.test_finalizer import send

    t = world.clock.now_ms()
    ids = {"visitor_id": VISITOR, "session_id": "ses-0123456789ab", "page_id": "pag-0123456789ab"}
    live = send(
        world.svc, world.alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), move(t + 900)]
    )
    started = first_message(world)
    conv = started["conversation_id"]
    row = world.svc.db.one(
        "SELECT status, conversation_id FROM recordings WHERE id = :r", {"r": live.recording_id}
    )
    assert row == {"status": "live", "conversation_id": conv}

    waited: dict[str, Any] = {}

    def wait() -> None:
        began = time.monotonic()
        r = world.chat({"conversation_id": conv, "token": started["token"], "after": 1}, "poll")
        waited.update(body=r.json(), seconds=time.monotonic() - began, at=time.monotonic())

    poller = threading.Thread(target=wait)
    poller.start()
    time.sleep(1.0)  # the visitor's browser is waiting
    with world.server.client() as http:
        csrf = login(http, "alice@example.com")
        page = http.get("/conversations")
        assert page.status_code == 200 and "Hello, is anyone there?" in page.text
        assert "unread" in page.text
        badge = 'title="Conversations with messages nobody has read yet">1</span>'
        assert badge in page.text  # in the navigation of every page
        sent_at = time.monotonic()
        r = http.post(
            f"/conversations/{conv}/messages",
            data={"csrf": csrf, "text": "Hi! How can I help?"},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 200, r.text
        assert badge not in http.get("/recordings").text  # answered: read
    poller.join(timeout=25)
    latency = waited["at"] - sent_at
    assert [m["text"] for m in waited["body"]["messages"]] == ["Hi! How can I help?"]
    # The visitor sees the site, not the agent's login.
    assert waited["body"]["messages"][0]["author"] == "alice.example"
    assert "alice@example.com" not in str(waited["body"])
    assert latency < 2.0, latency
    print(f"reply reached the waiting visitor after {latency * 1000:.0f} ms")
    # Answering marks the conversation read.
    assert world.svc.db.one(
        "SELECT read_seq, message_count FROM conversations WHERE id = :c", {"c": conv}
    ) == {
        "read_seq": 2,
        "message_count": 2,
    }


def test_agent_page_long_poll_and_panel(world: World) -> None:
    enable_chat(world)
    from tests.conftest import full_snapshot, meta, move
    from tests.sessions.test_finalizer import send

    t = world.clock.now_ms()
    ids = {"visitor_id": VISITOR, "session_id": "ses-0123456789ab", "page_id": "pag-0123456789ab"}
    live = send(
        world.svc,
        world.alice.site_key,
        ids,
        0,
        [meta(t), full_snapshot(t + 1), move(t + 900)],
        url="https://alice.example/shoes",
        title="Trail shoes",
        visitor={
            "name": "Jane Quokka",
            "email": "jane@example.org",
            "variables": {"plan": {"label": "Plan", "value": "Gold"}},
        },
    )
    started = first_message(world)
    conv = started["conversation_id"]
    world.clock.advance(95)
    later = world.clock.now_ms()
    send(world.svc, world.alice.site_key, ids, 1, [move(later)], url="https://alice.example/shoes")
    with world.server.client() as http:
        login(http, "alice@example.com")
        page = http.get(f"/conversations/{conv}").text
        for shown in (
            "Jane Quokka",
            "jane@example.org",
            "Plan",
            "Gold",
            "Recording in progress",
            "1:35",
            "Trail shoes",
            "On the site, viewing",
            "Chrome",
            "Linux",
        ):
            assert shown in page, shown
        # Long-poll: nothing new → an empty answer after the wait; a new message → at once.
        world.chat(
            {
                "visitor_id": VISITOR,
                "text": "Second",
                "id": "msg-00000002",
                "conversation_id": conv,
                "token": started["token"],
            }
        )
        began = time.monotonic()
        r = http.get(f"/conversations/{conv}/messages.json", params={"after": 1, "seen": 1})
        assert time.monotonic() - began < 1.0
        assert [m["text"] for m in r.json()["messages"]] == ["Second"]
        # The visitor leaves; the finalized recording replaces "in progress".
        world.clock.advance(70)
        world.svc.finalizer.run_once()
        panel = http.get(f"/conversations/{conv}/visitor").text
        assert "Recording in progress" not in panel and "Play this visit" in panel
        assert f"/recordings/{live.recording_id}" in panel
        player = http.get(f"/recordings/{live.recording_id}").text
        assert f'href="/conversations/{conv}"' in player
        # Bob sees none of it.
    with world.server.client() as http:
        login(http, "bob@example.com")
        assert http.get(f"/conversations/{conv}").status_code == 404
        assert http.get(f"/conversations/{conv}/messages.json").status_code == 404
        assert http.get(f"/conversations/{conv}/visitor").status_code == 404
        assert "Jane" not in http.get("/conversations").text


def test_two_server_processes_share_the_conversation(world: World, tmp_path: Any) -> None:
    """The visitor waits on one server, the agent answers through another (the same
    database): the answer still arrives within 2 s, as behind a load balancer."""
    import json

    from tests.conftest import free_port, settings_for, start_server

    enable_chat(world)
    started = first_message(world)
    conv = started["conversation_id"]
    settings = world.svc.settings
    other = start_server(
        settings_for(
            tmp_path / "other",
            database_url=settings.database_url,
            data_dir=str(settings.data_path),
            port=free_port(),
        )
    )
    try:
        waited: dict[str, Any] = {}

        def wait() -> None:
            with other.client() as http:
                r = http.post(
                    "/api/v1/chat/poll",
                    content=json.dumps(
                        {
                            "site_key": world.alice.site_key,
                            "conversation_id": conv,
                            "token": started["token"],
                            "after": 1,
                        }
                    ),
                    headers={"Origin": "https://alice.example"},
                )
            waited.update(body=r.json(), at=time.monotonic())

        poller = threading.Thread(target=wait)
        poller.start()
        time.sleep(1.0)
        with world.server.client() as http:
            csrf = login(http, "alice@example.com")
            sent_at = time.monotonic()
            r = http.post(
                f"/conversations/{conv}/messages", data={"csrf": csrf, "text": "From server one"}
            )
            assert r.status_code == 303
        poller.join(timeout=25)
        assert [m["text"] for m in waited["body"]["messages"]] == ["From server one"]
        assert waited["at"] - sent_at < 2.0
    finally:
        other.stop()


def test_the_panel_says_when_the_visits_recording_was_deleted_with_time(world: World) -> None:
    """A conversation that goes on after the plan's retention: its visit's recording is gone,
    and the panel says so, rather than guessing that the visitor was never recorded."""
    enable_chat(world)
    from tests.conftest import full_snapshot, meta, move
    from tests.sessions.test_finalizer import send

    t = world.clock.now_ms()
    ids = {"visitor_id": VISITOR, "session_id": "ses-0123456789ab", "page_id": "pag-0123456789ab"}
    send(world.svc, world.alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), move(t + 900)])
    started = first_message(world)
    conv = started["conversation_id"]
    world.clock.advance(70)
    world.svc.finalizer.run_once()
    world.clock.advance(9 * 86_400)
    later = {"visitor_id": VISITOR, "conversation_id": conv, "token": started["token"]}
    world.chat({**later, "text": "Still there?", "id": "msg-00000002"})
    world.clock.advance(2 * 86_400)
    world.svc.retention.run_once(world.clock.now_ms())
    with world.server.client() as http:
        login(http, "alice@example.com")
        panel = http.get(f"/conversations/{conv}/visitor").text
    assert "Play this visit" not in panel
    assert "was deleted 10 days after it was made" in panel
    assert "may not have been recorded" not in panel


def test_alerts_count_visitors_messages_of_the_own_account_only(world: World) -> None:
    enable_chat(world)
    with world.server.client() as alice, world.server.client() as bob:
        login(alice, "alice@example.com")
        login(bob, "bob@example.com")
        before = alice.get("/conversations/alerts.json").json()
        assert (before["mark"], before["unread"], before["newest"]) == (0, 0, None)
        conv = first_message(world)["conversation_id"]
        after = alice.get("/conversations/alerts.json", params={"mark": 0}).json()
        assert (after["mark"], after["unread"]) == (1, 1)
        assert after["newest"] == {"id": conv, "visitor": "A visitor", "site": "alice.example"}
        assert bob.get("/conversations/alerts.json").json()["mark"] == 0
    with world.server.client() as nobody:
        assert nobody.get("/conversations/alerts.json").status_code in (401, 403)
