"""Agents: added with `footage accounts add-user --role agent`; they chat and watch
recordings, and every route that changes settings, the plan or erases visitors refuses them
with 403 and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from footage.cli import main
from footage.web.users import OWNER_ONLY
from tests.conftest import csrf_of, login
from tests.conversations.conftest import World

AGENT = "sam.agent@example.com"
AGENT_PASSWORD = "agent password 1"


@pytest.fixture
def agent(world: World, tmp_path: Path) -> str:
    settings = world.svc.settings
    args = ["accounts", "add-user", "alice@example.com", "--email", AGENT, "--password"]
    args += [AGENT_PASSWORD, "--role", "agent", "--data-dir", str(settings.data_path)]
    if not world.svc.db.is_sqlite:
        args += ["--database-url", settings.database_url]
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 0
    row = world.svc.db.one("SELECT account_id, role FROM users WHERE email = :e", {"e": AGENT})
    assert row == {"account_id": world.alice.account_id, "role": "agent"}
    return AGENT


def test_add_user_refuses_bad_input(
    world: World, agent: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = str(world.svc.settings.data_path)
    extra = [] if world.svc.db.is_sqlite else ["--database-url", world.svc.settings.database_url]
    for args, says in [
        (
            ["nobody@example.com", "--email", "x@example.com", "--password", "long enough"],
            "no account",
        ),
        (["alice@example.com", "--email", agent, "--password", "long enough"], "already exists"),
        (["alice@example.com", "--email", "new@example.com", "--password", "short"], "at least 8"),
    ]:
        with pytest.raises(SystemExit) as done:
            main(["accounts", "add-user", *args, "--data-dir", data_dir, *extra])
        assert done.value.code == 2
        assert says in capsys.readouterr().err


def test_agents_chat_and_watch_but_change_nothing(world: World, agent: str) -> None:
    recording_id, visitor_id = world.visit()
    world.svc.db.run("UPDATE sites SET chat_enabled = 1 WHERE id = :s", {"s": world.alice.site_id})
    started = world.chat(
        {"visitor_id": "vis-0123456789abcdef", "text": "Help!", "id": "msg-00000001"}
    ).json()
    conv = started["conversation_id"]
    with world.server.client() as http:
        csrf = login(http, agent, AGENT_PASSWORD)
        # What agents are for.
        assert http.get("/recordings").status_code == 200
        assert http.get(f"/recordings/{recording_id}").status_code == 200
        assert http.get("/conversations").status_code == 200
        page = http.get(f"/conversations/{conv}")
        assert page.status_code == 200 and "Help!" in page.text
        assert 'href="/settings"' not in page.text  # no Settings in their navigation
        r = http.post(f"/conversations/{conv}/messages", data={"csrf": csrf, "text": "On it."})
        assert r.status_code == 303
        assert http.get("/api/v1/conversations").status_code == 200  # reads with the login

        # What they may not do: dashboard pages and forms…
        refused = [
            http.get("/settings"),
            http.post(
                "/settings",
                data={"csrf": csrf, "site_id": world.alice.site_id, "chat_enabled": "on"},
            ),
            http.post("/usage", data={"csrf": csrf, "plan": "free"}),
            http.post("/visitors/erase", data={"csrf": csrf, "visitor_id": visitor_id}),
        ]
        for r in refused:
            assert r.status_code == 403, r.request.url
            assert "only the account owner can change settings or the plan" in r.text.lower()
        # …and the API with their login (owners use a token for these).
        api = [
            http.patch(
                f"/api/v1/sites/{world.alice.site_id}/settings", json={"chat_enabled": False}
            ),
            http.patch("/api/v1/account", json={"plan": "free"}),
            http.delete(f"/api/v1/visitors/{visitor_id}"),
            http.delete("/api/v1/visitors", params={"email": "a@example.com"}),
            http.post("/api/v1/conversations", json={"visitor_id": visitor_id, "messages": []}),
        ]
        for r in api:
            assert r.status_code == 403, r.request.url
            assert r.json()["error"] == {"code": "owner_only", "message": OWNER_ONLY}
        usage = http.get("/usage")
        assert usage.status_code == 200 and 'name="plan"' not in usage.text
    site = world.svc.db.one(
        "SELECT chat_enabled FROM sites WHERE id = :s", {"s": world.alice.site_id}
    )
    account = world.svc.db.one(
        "SELECT plan FROM accounts WHERE id = :a", {"a": world.alice.account_id}
    )
    assert site == {"chat_enabled": 1} and account == {"plan": "pro"}
    assert world.svc.db.one("SELECT COUNT(*) AS n FROM recordings") == {"n": 1}

    # The owner still can, and their login still needs a token for API writes.
    with world.server.client() as http:
        csrf = login(http, "alice@example.com")
        settings = http.get("/settings")
        assert settings.status_code == 200 and 'name="chat_enabled"' in settings.text
        r = http.patch(
            f"/api/v1/sites/{world.alice.site_id}/settings", json={"chat_enabled": False}
        )
        assert r.status_code == 401
        csrf = csrf_of(settings.text)
        saved = http.post(
            "/settings",
            data={
                "csrf": csrf,
                "site_id": world.alice.site_id,
                "recording_enabled": "on",
                "allowed_origins": "https://alice.example",
            },
        )
        assert saved.status_code == 303
    assert world.svc.db.one(
        "SELECT chat_enabled FROM sites WHERE id = :s", {"s": world.alice.site_id}
    ) == {"chat_enabled": 0}


def test_owners_add_agents_on_the_team_page(world: World) -> None:
    with world.server.client() as http:
        csrf = login(http, "alice@example.com")
        page = http.get("/team")
        assert page.status_code == 200 and "alice@example.com" in page.text
        form = {
            "csrf": csrf,
            "email": "Kim@Example.com",
            "password": "kim password",
            "role": "agent",
        }
        r = http.post("/team", data=form, follow_redirects=True)
        assert r.status_code == 200 and "kim@example.com can now log in." in r.text
        for bad, says in [
            ({"email": "kim@example.com"}, "already exists"),
            ({"email": "lee@example.com", "password": "short"}, "at least 8 characters"),
            ({"email": "not an address"}, "is not an e-mail address"),
            ({"email": "lee@example.com", "role": "admin"}, "Role must be"),
        ]:
            r = http.post("/team", data={**form, **bad})
            assert r.status_code == 400 and says in r.text, bad
        assert http.post("/team", data={**form, "csrf": "forged"}).status_code == 403
    with world.server.client() as http:
        csrf = login(http, "kim@example.com", "kim password")
        assert 'href="/team"' not in http.get("/conversations").text
        assert http.get("/team").status_code == 403
        r = http.post("/team", data={**form, "csrf": csrf, "email": "x@example.com"})
        assert r.status_code == 403
    roles = world.svc.db.all(
        "SELECT email, role FROM users WHERE account_id = :a ORDER BY email",
        {"a": world.alice.account_id},
    )
    assert roles == [
        {"email": "alice@example.com", "role": "owner"},
        {"email": "kim@example.com", "role": "agent"},
    ]
