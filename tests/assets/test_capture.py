"""Kept assets end to end on a served process: a batch asks for copies, the capture takes them
from the site (a real HTTP server on loopback), the player's address serves them, and they go
when no recording shows them any more. Both databases."""

from __future__ import annotations

import dataclasses
from typing import Any

from footage.assets import store
from footage.assets.capture import AssetCapture
from footage.ingest.wire import parse_batch
from footage.ingest.writer import Visit
from footage.store.deletion import delete_recordings
from tests.assets.site import page_using, png, serve_site, visit_site
from tests.conftest import LiveServer, batch, login, make_account, new_ids

CSS = b"body { background: url(/tile.png) } @font-face { font-family: X; src: url('/x.woff2') }"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def pending(db: Any, site_id: str) -> int:
    """How many of the site's addresses wait for the server to fetch them."""
    row = db.one(
        "SELECT COUNT(*) AS n FROM site_assets WHERE site_id = :s AND state = 'pending'",
        {"s": site_id},
    )
    return int(row["n"])


def capture(server: LiveServer, **settings: Any) -> None:
    svc = server.services
    AssetCapture(
        svc.db, svc.blobs, svc.clock, dataclasses.replace(svc.settings, **settings)
    ).run_once()
    store.settle(svc.db)


def test_a_stylesheet_and_its_images_are_copied_and_served_from_footage(served):
    alice = make_account(served.services, "Alice")
    files = {"/shop.css": ("text/css", CSS), "/tile.png": ("image/png", png(4, 4, (1, 2, 3)))}
    with serve_site(files) as origin:
        rec = visit_site(served, alice, origin, "/shop.css", "/tile.png")
        capture(served)
    copies = store.for_recording(served.services.db, rec)
    assert set(copies) == {f"{origin}/shop.css", f"{origin}/tile.png"}
    with served.client() as http:
        sheet = http.get(copies[f"{origin}/shop.css"])
        tile = http.get(copies[f"{origin}/tile.png"])
        head = http.head(copies[f"{origin}/tile.png"])
        again = http.get(
            copies[f"{origin}/tile.png"], headers={"If-None-Match": tile.headers["etag"]}
        )
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(files["/tile.png"][1]))
    assert again.status_code == 304
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")
    # The stylesheet's image points at its copy, next to it; the missing font at the site.
    tile_hash = copies[f"{origin}/tile.png"].rsplit("/", 1)[1]
    assert f'url("{tile_hash}")' in sheet.text
    assert f'url("{origin}/x.woff2")' in sheet.text
    assert tile.content == files["/tile.png"][1]
    for answer in (sheet, tile):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-security-policy"].startswith("sandbox")
        assert "immutable" in answer.headers["cache-control"]


def test_a_stylesheet_with_a_reference_no_browser_could_load_is_still_copied(served):
    # An unclosed [ in a host: urljoin raises, and the whole stylesheet's copy used to fail.
    sheet = (
        b"body { background: url(/tile.png) } .a { background: url(http://[broken/a.png) }"
        b' @import "//[broken/b.css";'
    )
    alice = make_account(served.services, "Alice")
    files = {"/shop.css": ("text/css", sheet), "/tile.png": ("image/png", png(4, 4, (1, 2, 3)))}
    with serve_site(files) as origin:
        rec = visit_site(served, alice, origin, "/shop.css")
        capture(served)
    copies = store.for_recording(served.services.db, rec)
    assert set(copies) == {f"{origin}/shop.css"}
    with served.client() as http:
        text = http.get(copies[f"{origin}/shop.css"]).text
    tile = store.copy_of(served.services.db, alice.site_id, f"{origin}/tile.png")
    assert tile is not None and f'url("{tile["hash"]}")' in text
    # What cannot be an address stays as the site wrote it.
    assert "url(http://[broken/a.png)" in text and '@import "//[broken/b.css"' in text


def test_many_visits_keep_one_copy_asked_of_the_site_once(served):
    alice = make_account(served.services, "Alice")
    hits: list[str] = []
    with serve_site({"/logo.png": ("image/png", png(8, 8, (9, 9, 9)))}, hits) as origin:
        recordings = [visit_site(served, alice, origin, "/logo.png") for _ in range(20)]
        capture(served)
        recordings.append(visit_site(served, alice, origin, "/logo.png"))  # copy still fresh
        capture(served)
    assert hits == ["/logo.png"]
    db = served.services.db
    assert len({tuple(store.for_recording(db, r).values()) for r in recordings}) == 1
    assert store.bytes_of(db, alice.site_id)["copies"] == 1
    with served.client(headers={"Authorization": f"Bearer {alice.api_token}"}) as http:
        usage = http.get("/api/v1/usage").json()
    assert usage["kept_assets"] == {"copies": 1, "bytes": len(png(8, 8, (9, 9, 9)))}
    with served.client() as http:  # the owner's Usage page says it too
        login(http, "alice@example.com")
        page = http.get("/usage").text
    assert "1 copy of your sites' stylesheets, images and fonts" in page


def test_nothing_is_copied_from_loopback_unless_allowed_nor_from_another_origin(served):
    alice = make_account(served.services, "Alice")
    with serve_site({"/a.png": ("image/png", png(2, 2, (0, 0, 0)))}) as origin:
        rec = visit_site(served, alice, origin, "/a.png")
        capture(served, asset_private_addresses=False)
        why = "SELECT reason FROM site_assets WHERE url = :u AND state = 'refused'"
        assert "loopback" in served.services.db.one(why, {"u": f"{origin}/a.png"})["reason"]
        with serve_site({"/b.png": ("image/png", png(2, 2, (0, 0, 0)))}) as other:
            rec2 = visit_site(served, alice, origin, "/a.png")
            # An address on another origin than the site's allowed ones, in the same page.
            served.services.db.run(
                "UPDATE site_assets SET state = 'pending' WHERE url = :u", {"u": f"{origin}/a.png"}
            )
            events = page_using(other, served.services.clock.now_ms(), "/b.png")
            visit = Visit(origin=origin, server_origin=served.url, ip="198.51.100.7", user_agent="")
            served.services.ingest.accept(
                parse_batch(batch(alice.site_key, new_ids(), 0, events, url=origin + "/")), visit
            )
            capture(served)
    db = served.services.db
    assert "not an allowed origin" in db.one(why, {"u": f"{other}/b.png"})["reason"]
    assert store.for_recording(db, rec) == {}  # refused while private addresses were off
    assert list(store.for_recording(db, rec2)) == [f"{origin}/a.png"]


def test_another_site_cannot_read_a_copy_and_a_copy_goes_with_its_last_recording(served):
    svc = served.services
    alice, bob = make_account(svc, "Alice"), make_account(svc, "Bob")
    with serve_site(
        {"/a.svg": ("image/svg+xml", SVG), "/b.png": ("image/png", png(2, 2, (5, 5, 5)))}
    ) as origin:
        first = visit_site(served, alice, origin, "/a.svg", "/b.png")
        second = visit_site(served, alice, origin, "/b.png")
        capture(served)
    copies = store.for_recording(svc.db, first)
    svg = copies[f"{origin}/a.svg"]
    with served.client() as http:
        own = http.get(svg)
        other = http.get(svg.replace(alice.site_key, bob.site_key))
    assert own.status_code == 200 and own.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in own.headers["content-security-policy"]  # its script never runs here
    assert other.status_code == 404
    with svc.db.write() as conn:
        delete_recordings(conn, [first], svc.clock.now_ms(), on_delete=[])
    # Within the grace period, the address's latest copy stays (another visit may want it).
    assert store.sweep(svc.db, svc.blobs, svc.clock.now_ms(), grace_ms=3_600_000) == 0
    # Later, the SVG no recording shows goes, with its address; the PNG another one shows stays.
    assert store.sweep(svc.db, svc.blobs, svc.clock.now_ms() + 1, grace_ms=0) == 1
    assert list(store.for_recording(svc.db, second)) == [f"{origin}/b.png"]
    with served.client() as http:
        assert http.get(svg).status_code == 404
        assert http.get(store.for_recording(svc.db, second)[f"{origin}/b.png"]).status_code == 200


def test_a_visitor_inventing_addresses_cannot_queue_unbounded_fetches(served):
    """Addresses are the visitor's to write: a hostile one sends thousands on the site's own
    origin. One recording keeps at most MAX_ADDRESSES_PER_RECORDING of them, and the site at
    most MAX_WAITING_PER_SITE waiting for the server; the others still replay from the site,
    and once the queue drains a real visitor's addresses are queued again."""
    alice = make_account(served.services, "Alice")
    db = served.services.db
    hits: list[str] = []
    with serve_site({"/logo.png": ("image/png", png(8, 8, (9, 9, 9)))}, hits) as origin:
        ids = new_ids()
        invented = [f"/junk/{i}.png" for i in range(store.MAX_ADDRESSES_PER_RECORDING + 300)]
        # In batches of 250 (a batch's own cap is 300), all of one visitor's recording.
        hostiles = {
            visit_site(
                served,
                alice,
                origin,
                *invented[start : start + 250],
                ids={**ids, "page_id": f"{ids['page_id'][:-3]}{n:03d}"},
            )
            for n, start in enumerate(range(0, len(invented), 250))
        }
        assert len(hostiles) == 1
        hostile = hostiles.pop()
        asked = db.one(
            "SELECT COUNT(*) AS n FROM recording_assets WHERE recording_id = :r", {"r": hostile}
        )
        assert asked["n"] == store.MAX_ADDRESSES_PER_RECORDING
        assert pending(db, alice.site_id) == store.MAX_WAITING_PER_SITE
        # A real visitor meanwhile: the address is the recording's, waiting for a copy.
        real = visit_site(served, alice, origin, "/logo.png")
        assert db.one(
            "SELECT state FROM recording_assets WHERE recording_id = :r", {"r": real}
        ) == {"state": "pending"}
        # The queue drains (each invented address answers 404); the real one is queued again
        # by the next visitor who uses it, and both real recordings get its copy.
        for _ in range(200):
            if not pending(db, alice.site_id):
                break
            capture(served)
        assert pending(db, alice.site_id) == 0
        assert len(hits) == store.MAX_WAITING_PER_SITE  # never more requests than the cap
        again = visit_site(served, alice, origin, "/logo.png")
        capture(served)
    assert len(hits) == store.MAX_WAITING_PER_SITE + 1
    assert set(store.for_recording(db, real)) == {f"{origin}/logo.png"}
    assert set(store.for_recording(db, again)) == {f"{origin}/logo.png"}
