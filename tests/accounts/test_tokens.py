"""API tokens: stored as hashes, listed without the secret, created once, revoked at once —
through the REST API and the Team page."""

from __future__ import annotations

import hashlib
import json

from footage.accounts import audit
from footage.accounts.service import add_user
from footage.clock import iso
from tests.accounts.conftest import Tenants, browser, database_state
from tests.conftest import PASSWORD


def test_create_list_use_and_revoke_through_the_api(tenants: Tenants) -> None:
    t, db = tenants, tenants.db
    with t.api(t.alice) as http:
        created = http.post("/api/v1/tokens", json={"name": "CRM export"})
        assert created.status_code == 201, created.text
        item = created.json()
        token = item.pop("token")
        assert token.startswith("ft_") and len(token) > 40
        assert item == {
            "id": item["id"],
            "name": "CRM export",
            "created_at": iso(t.clock.now_ms()),
            "last_used_at": None,
        }
        listed = http.get("/api/v1/tokens")
        assert listed.status_code == 200
        assert [i["name"] for i in listed.json()["items"]] == ["default", "CRM export"]
        assert token not in listed.text and t.alice.api_token not in listed.text
        assert set(listed.json()["items"][1]) == {"id", "name", "created_at", "last_used_at"}

    # Only a hash is stored: the token is in no row of the database.
    row = db.one("SELECT * FROM api_tokens WHERE id = :t", {"t": item["id"]})
    assert row is not None and row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    everything = json.dumps(database_state(db))
    assert token not in everything and t.alice.api_token not in everything

    # The new token works, and its use is noted.
    t.clock.advance(120)
    with t.server.client(headers={"Authorization": f"Bearer {token}"}) as mine:
        assert mine.get("/api/v1/recordings").status_code == 200
        with t.api(t.alice) as http:
            [_, used] = http.get("/api/v1/tokens").json()["items"]
            assert used["last_used_at"] == iso(t.clock.now_ms())
            assert http.delete(f"/api/v1/tokens/{item['id']}").status_code == 204
            # Revoked: 401 from the very next request.
            refused = mine.get("/api/v1/recordings")
            assert refused.status_code == 401
            assert "revoked" in refused.json()["error"]["message"]
            assert [i["name"] for i in http.get("/api/v1/tokens").json()["items"]] == ["default"]
            # Revoking again is harmless; an unknown id is 404.
            assert http.delete(f"/api/v1/tokens/{item['id']}").status_code == 204
            missing = http.delete("/api/v1/tokens/tok_nothing")
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "token_not_found"
    entries = [e for e in audit.entries(db, t.alice.account_id) if "token" in e["action"]]
    assert [e["action"] for e in entries] == ["api_token.revoked", "api_token.created"]
    assert all(e["detail"] == {"token": item["id"]} for e in entries)
    assert entries[0]["actor"] == entries[1]["actor"] == f"token:{t.ids['token_id']}"


def test_a_token_can_revoke_itself_and_names_are_checked(tenants: Tenants) -> None:
    t = tenants
    with t.api(t.alice) as http:
        for bad in ({}, {"name": ""}, {"name": "   "}, {"name": 7}, {"name": "x" * 101}, []):
            response = http.post("/api/v1/tokens", json=bad)
            assert response.status_code == 400, (bad, response.text)
            assert response.json()["error"]["code"] == "bad_token_name"
        own = t.ids["token_id"]
        assert http.delete(f"/api/v1/tokens/{own}").status_code == 204
        assert http.get("/api/v1/tokens").status_code == 401
        assert http.get(f"/api/v1/recordings/{t.ids['recording_id']}").status_code == 401


def test_only_owners_and_tokens_manage_tokens(tenants: Tenants) -> None:
    t = tenants
    svc = t.server.services
    add_user(
        svc.db,
        svc.clock,
        t.alice.account_id,
        email="agent@alice.example",
        password=PASSWORD,
        role="agent",
    )
    agent = browser(t.server, "agent@alice.example")
    try:
        refused = agent.http.get("/api/v1/tokens")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "owner_only"
        assert agent.http.get("/team").status_code == 403
        before = database_state(t.db)
        form = agent.http.post("/team/tokens", data={"csrf": agent.csrf, "name": "agent's"})
        assert form.status_code == 403
        revoke = agent.http.post(
            f"/team/tokens/{t.ids['token_id']}/revoke", data={"csrf": agent.csrf}
        )
        assert revoke.status_code == 403
        assert database_state(t.db) == before
    finally:
        agent.http.close()
    # An owner's login lists them; writes through the API need a token (no CSRF there).
    owner = t.alice_web.http
    assert owner.get("/api/v1/tokens").status_code == 200
    assert owner.post("/api/v1/tokens", json={"name": "x"}).status_code == 401
    assert owner.delete(f"/api/v1/tokens/{t.ids['token_id']}").status_code == 401


def test_the_team_page_creates_shows_once_and_revokes(tenants: Tenants) -> None:
    t = tenants
    web = t.alice_web
    page = web.http.get("/team")
    assert page.status_code == 200 and "API tokens" in page.text and "default" in page.text
    created = web.http.post("/team/tokens", data={"csrf": web.csrf, "name": "Zapier"})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    [token] = [
        w for w in created.text.replace("<", " ").replace(">", " ").split() if w.startswith("ft_")
    ]
    assert "not be shown again" in created.text
    again = web.http.get("/team")
    assert "Zapier" in again.text and token not in again.text  # shown once only
    with t.server.client(headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.get("/api/v1/recordings").status_code == 200
        token_id = t.db.one("SELECT id FROM api_tokens WHERE name = 'Zapier'", {})["id"]
        assert f"/team/tokens/{token_id}/revoke" in again.text
        revoked = web.http.post(
            f"/team/tokens/{token_id}/revoke", data={"csrf": web.csrf}, follow_redirects=False
        )
        assert revoked.status_code == 303
        assert http.get("/api/v1/recordings").status_code == 401
    assert "Zapier" not in web.http.get("/team").text
    empty = web.http.post("/team/tokens", data={"csrf": web.csrf, "name": ""})
    assert empty.status_code == 400 and "Give the token a name" in empty.text


def test_openapi_lists_the_token_endpoints(tenants: Tenants) -> None:
    with tenants.server.client() as http:
        paths = http.get("/api/openapi.json").json()["paths"]
    assert set(paths["/api/v1/tokens"]) == {"get", "post"}
    assert set(paths["/api/v1/tokens/{token_id}"]) == {"delete"}
    assert "/team/tokens" not in paths and "/password" not in paths
