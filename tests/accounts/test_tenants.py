"""Tenant isolation: every route that takes an id, asked by another account for Alice's
object, answers 404 and changes nothing.

The routes are read from the app (`app.routes`): a new route with a path parameter fails
`test_every_route_with_an_id_is_in_the_matrix` until it is given a case here. Bob asks with
his API token (API routes; reads also with his dashboard login) and with his dashboard login
and a valid CSRF token (dashboard routes); after each request every row of the database is
compared with before (Bob's own audit entries aside).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from footage.clock import iso
from tests.accounts.conftest import Tenants, app_routes, database_state
from tests.share.conftest import IDENTITY

# Path parameters that are not an account's object: public by design, tested elsewhere.
NOT_AN_ACCOUNTS_ID = {
    ("OPTIONS", "/api/v1/{path:path}"): "CORS preflight of the recorder's endpoints",
    ("GET", "/api/v1/sites/{site_key}/config"): "the recorder's config, by the public site key",
    ("GET", "/demo/product/{slug}"): "the demo shop's products",
    ("GET", "/share/{token}"): "a share link's public page (tests/share/test_page.py)",
    ("GET", "/share/{token}/events.json"): "a share link's events (tests/share/test_page.py)",
    ("GET", "/share/{token}/pieces"): "a share link's pieces (tests/share/test_pieces.py)",
    ("GET", "/share/{token}/pieces/{n}"): "a share link's pieces (tests/share/test_pieces.py)",
    ("GET", "/footage.{version}.js"): "the recorder, pinned by its digest (public)",
    ("GET", "/footage-chat.{version}.js"): "the chat box, pinned by its digest (public)",
    ("GET", "/site-assets/{site_key}/{digest}"): "a kept copy, by content hash (tests/assets)",
    ("HEAD", "/site-assets/{site_key}/{digest}"): "a kept copy, by content hash (tests/assets)",
}
# What a request sends besides the id, so that only the owner check can refuse it.
JSON_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/recordings/{recording_id}/share-links"): {"expires_in": "24h"},
    ("PATCH", "/api/v1/segments/{segment_id}"): {"name": "Bob's now"},
    ("PATCH", "/api/v1/sites/{site_id}/settings"): {"recording_enabled": False},
}
FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/recordings/{recording_id}/share-links"): {"expires_in": "24h"},
    ("POST", "/segments/{segment_id}/rename"): {"name": "Bob's now"},
    ("POST", "/conversations/{conversation_id}/messages"): {"text": "Hello from Bob"},
}
FORMATS = ["format=html", "format=json", "format=mp4"]
QUERIES: dict[tuple[str, str], list[str]] = {
    ("GET", "/api/v1/recordings/{recording_id}/download"): FORMATS,
    ("GET", "/recordings/{recording_id}/download"): FORMATS,
}
# Documented answers other than 404: erasing an unknown visitor gives zero counts (the call
# may be repeated safely, docs/api.md), so another account's visitor is simply unknown.
ANSWERS = {("DELETE", "/api/v1/visitors/{visitor_id}"): 200}


def id_routes(t: Tenants) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in app_routes(t.server)
        if "{" in path and (method, path) not in NOT_AN_ACCOUNTS_ID
    ]


def params_of(path: str) -> list[str]:
    return re.findall(r"{(\w+)", path)


def send(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    json: Any = None,
    form: dict[str, str] | None = None,
    csrf: str = "",
) -> httpx.Response:
    if method == "GET":
        return http.get(url)
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if form is not None:
        return http.request(method, url, data={"csrf": csrf, **form}, headers=headers)
    return http.request(method, url, json=json, headers=headers)


def refused_to_bob(
    t: Tenants,
    method: str,
    url: str,
    expected: int = 404,
    json: Any = None,
    form: dict[str, str] | None = None,
) -> list[str]:
    """Bob asks for `url` in every way that applies; returns the ways that were checked."""
    asked = []
    if url.startswith("/api/"):
        ways: list[tuple[str, httpx.Client, dict[str, Any]]] = [
            ("API token", t.api(t.bob), {"json": json})
        ]
        if method == "GET":  # the API reads with a dashboard login too
            ways.append(("dashboard login", t.bob_web.http, {}))
    else:
        ways = [("dashboard login", t.bob_web.http, {"form": form or {}, "csrf": t.bob_web.csrf})]
    for way, http, kwargs in ways:
        before = database_state(t.db, ignore_audit_of=t.bob.account_id)
        response = send(http, method, url, **kwargs)
        who = f"{method} {url} by Bob's {way}"
        assert response.status_code == expected, f"{who}: {response.status_code} {response.text}"
        asked_with = f"{url} {json} {form}"  # what Bob sent may be echoed back
        for secret in IDENTITY:
            if secret not in asked_with:
                assert secret not in response.text, f"{who} showed Alice's visitor: {secret}"
        after = database_state(t.db, ignore_audit_of=t.bob.account_id)
        changed = [name for name in before if before[name] != after[name]]
        assert not changed, f"{who} changed {changed}"
        asked.append(way)
    return asked


def warm_up(t: Tenants) -> None:
    """Bob's token notes its first use once a minute (the clock stands still): do it now."""
    with t.api(t.bob) as http:
        assert http.get("/api/v1/account").status_code == 200


def test_every_route_with_an_id_is_in_the_matrix(tenants: Tenants) -> None:
    routes = id_routes(tenants)
    unknown = {
        (method, path, name)
        for method, path in routes
        for name in params_of(path)
        if name not in tenants.ids
    }
    assert not unknown, f"routes with an id the matrix cannot fill yet: {sorted(unknown)}"
    # Alice reaches her own objects through the same ids (so Bob's 404s are not typos).
    for method, path in routes:
        if method != "GET":
            continue
        url = path.format(**tenants.ids)
        for query in QUERIES.get((method, path), [""]):
            full = f"{url}?{query}" if query else url
            if path.endswith("/stream"):  # Server-Sent Events: open is all a GET shows
                with tenants.alice_web.http.stream("GET", full) as stream:
                    assert stream.status_code == 200, f"Alice: GET {full}"
                continue
            if url.startswith("/api/"):
                with tenants.api(tenants.alice) as http:
                    response = http.get(full)
            else:
                response = tenants.alice_web.http.get(full)
            # An MP4 not rendered yet is 409 video_not_ready (a GET never starts a render).
            ok = (200, 202, 409) if query == "format=mp4" else (200, 202)
            assert response.status_code in ok, f"Alice: GET {full}: {response.text}"
    assert len(routes) >= 29  # 29 when this was written; the matrix walks every one


def test_another_account_gets_404_on_every_route_with_an_id(tenants: Tenants) -> None:
    warm_up(tenants)
    covered = set()
    for method, path in id_routes(tenants):
        key = (method, path)
        url = path.format(**tenants.ids)
        for query in QUERIES.get(key, [""]):
            refused_to_bob(
                tenants,
                method,
                f"{url}?{query}" if query else url,
                ANSWERS.get(key, 404),
                json=JSON_BODIES.get(key, {}),
                form=FORMS.get(key),
            )
        covered.add(key)
    assert covered == set(id_routes(tenants))
    # Alice's objects are all still there and hers.
    with tenants.api(tenants.alice) as http:
        segment = http.get(f"/api/v1/segments/{tenants.ids['segment_id']}").json()
        assert segment["name"] == "Rage"
        links = http.get(f"/api/v1/recordings/{tenants.ids['recording_id']}/share-links")
        assert [link["id"] for link in links.json()["items"]] == [tenants.ids["link_id"]]
        settings = http.get(f"/api/v1/sites/{tenants.alice.site_id}/settings").json()
        assert settings["recording_enabled"] is True


def test_ids_in_forms_bodies_and_queries_are_scoped_too(tenants: Tenants) -> None:
    """Routes that take Alice's id in a form field, a JSON body or a query string."""
    warm_up(tenants)
    ids, t = tenants.ids, tenants
    message = {"from": "visitor", "text": "Mine?", "at": iso(t.clock.now_ms())}
    refused_to_bob(t, "POST", "/settings", form={"site_id": ids["site_id"]})
    refused_to_bob(t, "POST", "/segments", form={"name": "x", "site_id": ids["site_id"]})
    refused_to_bob(t, "POST", "/api/v1/segments", json={"name": "x", "site_id": ids["site_id"]})
    refused_to_bob(
        t, "POST", "/visitors/erase", form={"site_id": ids["site_id"], "visitor_id": "v"}
    )
    refused_to_bob(
        t,
        "POST",
        "/api/v1/conversations",
        json={"visitor_id": "v", "conversation_id": ids["conversation_id"], "messages": [message]},
    )
    refused_to_bob(
        t,
        "POST",
        "/api/v1/conversations",
        json={"visitor_id": ids["visitor_id"], "site_id": ids["site_id"], "messages": [message]},
    )
    # Erasing Alice's visitor by id or e-mail erases nothing: to Bob they are unknown (200
    # with zero counts, as for any unknown visitor).
    refused_to_bob(t, "POST", "/visitors/erase", 200, form={"visitor_id": ids["visitor_id"]})
    refused_to_bob(t, "POST", "/visitors/erase", 200, form={"email": ids["visitor_email"]})
    refused_to_bob(t, "DELETE", f"/api/v1/visitors?email={ids['visitor_email']}", 200)
    # Lists filtered by Alice's ids list nothing of hers.
    for url in (
        f"/api/v1/segments?site_id={ids['site_id']}",
        f"/api/v1/conversations?visitor_id={ids['visitor_id']}",
        f"/api/v1/recordings?site_id={ids['site_id']}",
    ):
        with t.api(t.bob) as http:
            response = http.get(url)
        assert response.status_code in (200, 400, 404), response.text
        if response.status_code == 200:
            assert response.json()["items"] == [], url
    with t.api(t.bob) as http:
        tokens = http.get("/api/v1/tokens").text
    assert ids["token_id"] not in tokens
    settings_page = t.bob_web.http.get(f"/settings?site={ids['site_id']}")
    assert settings_page.status_code == 200 and ids["site_id"] not in settings_page.text
    assert t.alice.site_key not in settings_page.text
