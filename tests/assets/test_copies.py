"""Copies given by the visitor's browser (POST /api/v1/assets/offer and /copies), tried as a
hostile visitor and another tenant would. A served process, both databases."""

from __future__ import annotations

import hashlib

from footage.assets import store
from tests.assets.site import png, visit_site
from tests.conftest import make_account, new_ids

SHOP = "https://shop.example"
PNG = png(3, 3, (10, 20, 30))
HASH = hashlib.sha256(PNG).hexdigest()


def upload(http, key: str, page_id: str, url: str, body: bytes = PNG, kind: str = "image/png"):
    return http.post(
        "/api/v1/assets/copies",
        params={"site_key": key, "page_id": page_id, "url": url},
        content=body,
        headers={"Content-Type": kind, "Origin": SHOP},
    )


def offer(http, key: str, page_id: str, assets: list[dict]) -> dict:
    r = http.post(
        "/api/v1/assets/offer",
        json={"site_key": key, "page_id": page_id, "assets": assets},
        headers={"Origin": SHOP},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_a_copy_is_offered_uploaded_once_and_used_by_its_own_recording_only(served):
    alice = make_account(served.services, "Alice")
    db = served.services.db
    first, second = new_ids(), new_ids()
    rec1 = visit_site(served, alice, SHOP, "/a.png", ids=first)
    rec2 = visit_site(served, alice, SHOP, "/a.png", ids=second)
    a_png = f"{SHOP}/a.png"
    with served.client() as http:
        # First by address: which does the recording lack? (The server has no copy of it.)
        lacking = offer(http, alice.site_key, first["page_id"], [{"url": a_png}])
        assert lacking == {"missing": [a_png], "wanted": []}
        asked = offer(http, alice.site_key, first["page_id"], [{"url": a_png, "sha256": HASH}])
        assert asked == {"missing": [], "wanted": [HASH]}
        r = upload(http, alice.site_key, first["page_id"], f"{SHOP}/a.png")
        assert r.status_code == 200 and r.json() == {"sha256": HASH}
        # The second visitor has the same bytes: nothing to upload, the copy is theirs at once.
        again = offer(
            http, alice.site_key, second["page_id"], [{"url": f"{SHOP}/a.png", "sha256": HASH}]
        )
        assert again == {"missing": [], "wanted": []}
        # Once the recording has its copy, the address is no longer missing.
        assert offer(http, alice.site_key, first["page_id"], [{"url": a_png}])["missing"] == []
    assert store.for_recording(db, rec1)[f"{SHOP}/a.png"].endswith(HASH)
    assert store.for_recording(db, rec2)[f"{SHOP}/a.png"].endswith(HASH)
    # Never the site's copy of the address for recordings to come.
    row = db.one("SELECT state, hash FROM site_assets WHERE url = :u", {"u": f"{SHOP}/a.png"})
    assert row["hash"] != HASH


def test_a_hostile_visitor_gets_clear_refusals(served):
    alice = make_account(served.services, "Alice")
    ids = new_ids()
    visit_site(served, alice, SHOP, "/a.png", ids=ids)
    page = ids["page_id"]
    with served.client() as http:
        not_used = upload(http, alice.site_key, page, f"{SHOP}/other.png")
        other_origin = upload(http, alice.site_key, page, "https://evil.example/a.png")
        html = upload(http, alice.site_key, page, f"{SHOP}/a.png", b"<script>", "text/html")
        css = upload(http, alice.site_key, page, f"{SHOP}/a.png", b"body{}", "text/css")
        huge = upload(http, alice.site_key, page, f"{SHOP}/a.png", b"x" * 6_000_000)
        empty = upload(http, alice.site_key, page, f"{SHOP}/a.png", b"")
        no_page = upload(http, alice.site_key, "pag-nobody", f"{SHOP}/a.png")
        # An unclosed bracket in the host: urlsplit refuses it (it was a 500).
        bracket = upload(http, alice.site_key, page, "https://[shop.example/a.png")
        bad = http.post("/api/v1/assets/offer", content=b"{", headers={"Origin": SHOP})
        ignored = offer(
            http,
            alice.site_key,
            page,
            [
                {"url": f"{SHOP}/other.png", "sha256": HASH},
                {"url": f"{SHOP}/a.png", "sha256": "x"},
                {"url": "https://[shop.example/a.png", "sha256": HASH},
            ],
        )
    assert (not_used.status_code, not_used.json()["error"]["code"]) == (400, "not_recorded")
    assert other_origin.status_code == 400
    assert (html.status_code, css.status_code) == (415, 415)
    assert "image or a font" in html.json()["error"]["message"]
    assert huge.status_code == 413 and "at most" in huge.json()["error"]["message"]
    assert empty.status_code == 400
    assert (no_page.status_code, no_page.json()["error"]["code"]) == (409, "no_live_page")
    assert (bracket.status_code, bracket.json()["error"]["code"]) == (400, "not_recorded")
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]["message"]
    assert ignored == {"missing": [], "wanted": []}
    assert store.bytes_of(served.services.db, alice.site_id)["copies"] == 0


def test_another_tenant_cannot_give_copies_to_a_recording_of_another_site(served):
    alice, bob = make_account(served.services, "Alice"), make_account(served.services, "Bob")
    ids = new_ids()
    rec = visit_site(served, alice, SHOP, "/a.png", ids=ids)
    visit_site(served, bob, SHOP, "/b.png")  # Bob's site records the same origin
    with served.client() as http:
        r = upload(http, bob.site_key, ids["page_id"], f"{SHOP}/a.png")
        o = http.post(
            "/api/v1/assets/offer",
            json={"site_key": bob.site_key, "page_id": ids["page_id"], "assets": []},
            headers={"Origin": SHOP},
        )
    assert r.status_code == 409 and o.status_code == 409
    assert store.for_recording(served.services.db, rec) == {}


def test_uploads_from_one_address_are_limited(served):
    alice = make_account(served.services, "Alice")
    ids = new_ids()
    visit_site(served, alice, SHOP, "/a.png", ids=ids)
    with served.client() as http:
        codes = [
            upload(http, alice.site_key, ids["page_id"], f"{SHOP}/a.png").status_code
            for _ in range(70)
        ]
    assert codes[:60] == [200] * 60
    assert 429 in codes[60:]
