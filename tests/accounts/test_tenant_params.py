"""Tenant isolation of every parameter, not only of path ids: every parameter of every
operation in the OpenAPI schema (`/api/openapi.json`) is classified here, and Bob sends
Alice's value for each one that can name or find something of hers.

- OBJECT: names one of the account's objects; Alice's answers 404 like an unknown id, and
  no query runs against her data (a query that ran would tell by its time what she has).
- FILTER: narrows a list of the caller's own things (a visitor id, a page position); Alice's
  value answers exactly as an unknown one: 200 with nothing of hers.
- VALUE: not an id at all (a date, a device, a page address, a size), with the reason.

Path ids are walked by tests/accounts/test_tenants.py's matrix. A parameter added later fails
`test_every_parameter_is_classified` until it is given a line here; an operation that takes
a JSON body fails until its id-like fields are listed in BODIES.
"""

from __future__ import annotations

from typing import Any

import httpx

from footage.conversations import store as conversations
from footage.recordings.queries import encode_cursor as keyset_cursor
from footage.recordings.search import encode_cursor
from tests.accounts import test_tenants as matrix
from tests.accounts.conftest import Tenants, database_state
from tests.share.conftest import IDENTITY

OBJECT, FILTER, VALUE = "object", "filter", "value"
ANY = "*"  # any operation

# (method, path or ANY, parameter) → (kind, which of Alice's values, or why it is a value)
PARAMETERS: dict[tuple[str, str, str], tuple[str, str]] = {
    # Recordings list: the site is an object; the rest filter Bob's own recordings.
    ("GET", "/api/v1/recordings", "site_id"): (OBJECT, "site_id"),
    ("GET", "/api/v1/recordings", "visitor_id"): (FILTER, "visitor_id"),
    ("GET", "/api/v1/recordings", "visitor_name"): (FILTER, "visitor_name"),
    ("GET", "/api/v1/recordings", "visitor_email"): (FILTER, "visitor_email"),
    ("GET", "/api/v1/recordings", "visitor_ip"): (FILTER, "visitor_ip"),
    ("GET", "/api/v1/recordings", "cursor"): (FILTER, "recordings_cursor"),
    ("GET", "/api/v1/recordings", "url"): (FILTER, "page_url"),
    ("GET", "/api/v1/recordings", "entry_url"): (FILTER, "page_url"),
    ("GET", "/api/v1/recordings", "exit_url"): (FILTER, "page_url"),
    ("GET", "/api/v1/segments", "site_id"): (OBJECT, "site_id"),
    ("GET", "/api/v1/conversations", "visitor_id"): (FILTER, "visitor_id"),
    ("GET", "/api/v1/conversations", "cursor"): (FILTER, "conversations_cursor"),
    ("DELETE", "/api/v1/visitors", "email"): (FILTER, "visitor_email"),
    # Heatmaps and the Pages report: one site's aggregates.
    ("GET", "/api/v1/heatmaps", "site_id"): (OBJECT, "site_id"),
    ("GET", "/api/v1/heatmaps/snapshot", "site_id"): (OBJECT, "site_id"),
    ("GET", "/api/v1/heatmaps/recordings", "site_id"): (OBJECT, "site_id"),
    ("GET", "/api/v1/pages", "site_id"): (OBJECT, "site_id"),
    ("GET", "/api/v1/heatmaps", "url"): (FILTER, "page_url"),
    ("GET", "/api/v1/heatmaps/snapshot", "url"): (FILTER, "page_url"),
    ("GET", "/api/v1/heatmaps/recordings", "url"): (FILTER, "page_url"),
    ("GET", "/api/v1/heatmaps/recordings", "selector"): (VALUE, "a CSS selector on the page"),
    # A copy given by the visitor's browser: public by design, like ingest; the page view is
    # looked up only within the site of the key sent (tests/assets/test_copies.py).
    ("POST", "/api/v1/assets/copies", "site_key"): (VALUE, "public by design, the recorder's"),
    ("POST", "/api/v1/assets/copies", "page_id"): (VALUE, "a page view of the key's own site"),
    ("POST", "/api/v1/assets/copies", "url"): (VALUE, "an address the page view's recording uses"),
}
# Values: what they are says why they cannot name anything of another account's.
VALUES = {
    "from": "a date",
    "to": "a date",
    "min_duration_ms": "a number",
    "max_duration_ms": "a number",
    "min_active_ms": "a number",
    "max_active_ms": "a number",
    "min_duration": "a duration",
    "max_duration": "a duration",
    "min_active": "a duration",
    "max_active": "a duration",
    "min_pages": "a number",
    "max_pages": "a number",
    "min_clicks": "a number",
    "url_match": "how `url` matches",
    "device": "a device type",
    "browser": "a browser family",
    "os": "an operating system",
    "screen": "a screen size class",
    "country": "country codes",
    "referrer": "a referring address, matched in the caller's recordings",
    "utm_source": "a campaign tag, matched in the caller's recordings",
    "utm_medium": "a campaign tag, matched in the caller's recordings",
    "utm_campaign": "a campaign tag, matched in the caller's recordings",
    "has_rage_clicks": "yes or no",
    "has_errors": "yes or no",
    "has_dead_clicks": "yes or no",
    "has_error_clicks": "yes or no",
    "has_quick_backs": "yes or no",
    "has_excessive_scrolling": "yes or no",
    "has_conversation": "yes or no",
    "visitor_type": "new or returning",
    "event": "a custom event's name, matched in the caller's recordings",
    "event_property": "a property name",
    "event_value": "a property value",
    "sort": "an order",
    "limit": "a number",
    "width": "a size in pixels",
    "x": "a place on the page",
    "y": "a place on the page",
    "radius": "a size in pixels",
    "format": "a file format",
    "skip_inactivity": "yes or no",
}
# Operations with a JSON body → its fields that name or find something (tested below, or in
# test_tenants.py's test_ids_in_forms_bodies_and_queries_are_scoped_too).
BODIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/api/v1/ingest"): ("site_key: public by design, the recorder's",),
    ("POST", "/api/v1/heartbeat"): ("site_key: public by design, the recorder's",),
    ("POST", "/api/v1/segments"): ("site_id", "query.site_id"),
    ("PATCH", "/api/v1/segments/{segment_id}"): ("query.site_id",),
    ("PATCH", "/api/v1/sites/{site_id}/settings"): (),
    ("PATCH", "/api/v1/account"): (),
    ("POST", "/api/v1/recordings/{recording_id}/share-links"): (),
    ("POST", "/api/v1/conversations"): ("site_id", "visitor_id", "conversation_id"),
    ("POST", "/api/v1/tokens"): (),
}
# What a request needs besides the parameter under test.
REQUIRED = {
    "/api/v1/heatmaps": {"url": "https://alice.example/"},
    "/api/v1/heatmaps/snapshot": {"url": "https://alice.example/"},
    "/api/v1/heatmaps/recordings": {"url": "https://alice.example/", "selector": "button"},
}


def operations(t: Tenants) -> list[tuple[str, str, dict[str, Any]]]:
    with t.api(t.alice) as http:
        schema = http.get("/api/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and method != "parameters"
    ]


def classify(method: str, path: str, param: dict[str, Any]) -> tuple[str, str] | None:
    name = param["name"]
    if param["in"] == "path":
        return ("path", "test_tenants.py")
    for key in ((method, path, name), (ANY, ANY, name)):
        if key in PARAMETERS:
            return PARAMETERS[key]
    if name in VALUES:
        return (VALUE, VALUES[name])
    return None


def alices_values(t: Tenants) -> dict[str, str]:
    db = t.db
    rec = db.one("SELECT * FROM recordings WHERE id = :r", {"r": t.ids["recording_id"]})
    page = db.one(
        "SELECT url FROM recording_pages WHERE recording_id = :r", {"r": t.ids["recording_id"]}
    )
    conversation = conversations.get(db, t.alice.account_id, t.ids["conversation_id"])
    assert rec is not None and page is not None and conversation is not None
    return {
        **t.ids,
        "visitor_name": IDENTITY[1],
        "visitor_ip": rec["ip"] or "203.0.113.9",
        "page_url": page["url"],
        "recordings_cursor": encode_cursor("newest", rec["started_at"] + 1, "r_zzzz"),
        "conversations_cursor": keyset_cursor(conversation["last_message_at"] + 1, "c_zzzz"),
    }


# The control: a value of the same shape that names nothing at all.
UNKNOWN = {
    "visitor_ip": "192.0.2.250",
    "visitor_email": "nobody@example.net",
    "page_url": "https://alice.example/nobody",
    "recordings_cursor": encode_cursor("newest", 1, "r_x"),
    "conversations_cursor": keyset_cursor(1, "c_x"),
}


def ask(http: httpx.Client, method: str, url: str, params: dict[str, str]) -> httpx.Response:
    return http.request(method, url, params=params)


def test_every_parameter_is_classified(tenants: Tenants) -> None:
    unclassified, bodies = [], set()
    for method, path, op in operations(tenants):
        for param in op.get("parameters", []):
            if classify(method, path, param) is None:
                unclassified.append((method, path, param["name"]))
            elif param["in"] == "path":
                known = param["name"] in tenants.ids or (
                    (method, path) in matrix.NOT_AN_ACCOUNTS_ID or param["name"] == "site_key"
                )
                assert known, f"{method} {path}: the tenant matrix cannot fill {param['name']}"
        if "requestBody" in op:
            bodies.add((method, path))
    assert not unclassified, f"classify these parameters in this file: {unclassified}"
    assert bodies <= set(BODIES), f"list the id fields of these bodies: {bodies - set(BODIES)}"


def test_alices_values_in_every_parameter_find_nothing_of_hers(tenants: Tenants) -> None:
    t = tenants
    matrix.warm_up(t)
    alice = alices_values(t)
    asked = []
    for method, path, op in operations(t):
        if "{" in path:
            continue  # path ids: the matrix; their query values are VALUEs
        for param in op.get("parameters", []):
            kind, which = classify(method, path, param) or ("?", "")
            if kind not in (OBJECT, FILTER):
                continue
            base = {k: v for k, v in REQUIRED.get(path, {}).items() if k != param["name"]}
            theirs = {**base, param["name"]: alice[which]}
            unknown = {**base, param["name"]: UNKNOWN.get(which, f"{alice[which]}-nobody")}
            who = f"{method} {path}?{param['name']}=Alice's {which}"
            with t.api(t.bob) as http:
                before = database_state(t.db, ignore_audit_of=t.bob.account_id)
                response = ask(http, method, path, theirs)
                control = ask(http, method, path, unknown)
                after = database_state(t.db, ignore_audit_of=t.bob.account_id)
            assert [n for n in before if before[n] != after[n]] == [], f"{who} changed data"
            for secret in (*IDENTITY, t.ids["recording_id"], t.ids["conversation_id"]):
                if secret not in str(theirs):
                    assert secret not in response.text, f"{who} showed {secret}"
            if kind == OBJECT:
                assert response.status_code == 404, f"{who}: {response.status_code}"
                assert control.status_code == 404, f"{who} (unknown): {control.status_code}"
                assert response.json()["error"] == control.json()["error"], who
            else:
                assert response.status_code == control.status_code, f"{who}: {response.text}"
                if response.status_code != 200:  # e.g. no page view of that page: as unknown
                    assert response.json()["error"] == control.json()["error"], who
                elif "items" in response.json():
                    assert response.json()["items"] == [], who
            asked.append(who)
    # What this walks when it was written: grows with the API, never silently shrinks.
    assert len(asked) >= 20, asked


def test_ids_inside_segment_bodies_are_scoped(tenants: Tenants) -> None:
    t = tenants
    matrix.warm_up(t)
    site = t.ids["site_id"]
    for body in (
        {"name": "x", "query": f"site_id={site}"},
        {"name": "x", "query": {"site_id": site}},
        {"name": "x", "site_id": site},
    ):
        matrix.refused_to_bob(t, "POST", "/api/v1/segments", json=body)
    with t.api(t.bob) as http:
        mine = http.post("/api/v1/segments", json={"name": "Mine", "query": "device=mobile"})
    assert mine.status_code == 201, mine.text
    matrix.refused_to_bob(
        t, "PATCH", f"/api/v1/segments/{mine.json()['id']}", json={"query": f"site_id={site}"}
    )
    # The dashboard's list and segment form refuse Alice's site the same way.
    matrix.refused_to_bob(t, "GET", f"/recordings?site_id={site}")
    matrix.refused_to_bob(t, "POST", "/segments", form={"name": "x", "query": f"site_id={site}"})
