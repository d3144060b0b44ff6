"""Recordings in, heatmaps out: clicks of known recordings at known places give exact counts
per element and density peaks where they were; deleting recordings takes exactly their share
out again; recordings stored before heatmaps are analysed in the background."""

from __future__ import annotations

import json
from typing import Any

from footage.accounts.service import NewAccount
from footage.app import Services
from footage.clock import FrozenClock
from footage.heatmaps import backfill, queries, store
from footage.heatmaps.analysis import ANALYSIS_VERSION
from footage.heatmaps.queries import Scope
from footage.privacy.erase import erase_visitor
from tests.conftest import full_snapshot, new_ids
from tests.heatmaps.shop import (
    BUY,
    BUY_TEXT,
    CART,
    NAV_LINK,
    PICTURE,
    PRODUCT,
    change,
    move,
    page_view,
    scroll,
    tap,
)
from tests.heatmaps.shop import meta as shop_meta
from tests.sessions.test_finalizer import send

MOMENTS = (
    "SELECT recording_id, kind, at, name, detail FROM recording_moments "
    "ORDER BY recording_id, at, kind"
)
TABLES = ("heatmap_cells", "heatmap_elements", "heatmap_depths", "heatmap_widths", "page_stats")


def record(
    svc: Services,
    alice: NewAccount,
    clock: FrozenClock,
    events: list[dict[str, Any]],
    width: int = 1280,
    then_cart: bool = False,
) -> tuple[str, str]:
    """One finalized visit of the product page (and the cart); returns (recording, visitor)."""
    ids, t = new_ids(), clock.now_ms()
    stream = page_view(t, width=width) + [{**e, "timestamp": t + e["timestamp"]} for e in events]
    rec = send(svc, alice.site_key, ids, 0, stream, url=PRODUCT, left=True)
    if then_cart:
        cart = {**ids, "page_id": ids["page_id"] + "-cart"}
        at = stream[-1]["timestamp"] + 500
        send(svc, alice.site_key, cart, 0, page_view(at, CART), url=CART, left=True)
    clock.advance(30)
    assert svc.finalizer.run_once() == 1
    assert rec.recording_id is not None
    return rec.recording_id, ids["visitor_id"]


def scope_of(svc: Services, alice: NewAccount) -> Scope:
    return queries.scope_of(
        svc.db, alice.account_id, svc.clock.now_ms(), None, None, None, "desktop"
    )


def product_heatmap(svc: Services, alice: NewAccount, width: int | None = None) -> dict[str, Any]:
    scope = scope_of(svc, alice)
    return queries.heatmap(svc.db, scope, queries.pages_matching(svc.db, scope, PRODUCT), width)


def aggregates(svc: Services) -> dict[str, list[dict[str, Any]]]:
    return {t: sorted(svc.db.all(f"SELECT * FROM {t}"), key=str) for t in TABLES}


def assert_aggregates_are_the_sum_of_the_rows(svc: Services) -> None:
    """Every aggregate row is exactly what the kept recordings' rows add up to."""
    pages = svc.db.all(f"SELECT {', '.join(store.PAGE_COLUMNS)} FROM page_view_stats")
    clicks = svc.db.all(f"SELECT {', '.join(store.CLICK_COLUMNS)} FROM recording_clicks")
    expected = store.totals(pages, clicks)
    for table, rows in aggregates(svc).items():
        extra, counted = store.AGGREGATES[table]
        keys = (*store.KEY, *extra)
        found = {tuple(r[k] for k in keys): [r[c] for c in counted] for r in rows}
        wanted = {k: [int(n) for n in v[: len(counted)]] for k, v in expected[table].items()}
        assert found == wanted, table


def three_visits(svc: Services, alice: NewAccount, clock: FrozenClock) -> list[tuple[str, str]]:
    return [
        # two clicks on "Add to cart" 5 px apart, and one on the page's link home
        record(
            svc,
            alice,
            clock,
            [tap(1000, BUY_TEXT, 100, 200), change(1100), tap(3000, BUY, 105, 205)]
            + [change(3100), tap(5000, NAV_LINK, 40, 20), change(5200), move(9000)],
        ),
        # scrolled 500 px down, then "Add to cart" again: lower on the page
        record(
            svc,
            alice,
            clock,
            [scroll(500, 500), tap(1000, BUY, 100, 200), change(1200), move(4000)],
            then_cart=True,
        ),
        # a wider window: the centred layout puts the button 80 px further right
        record(
            svc,
            alice,
            clock,
            [tap(1000, BUY, 180, 200), change(1200), tap(2000, PICTURE, 700, 300), move(6000)],
            width=1440,
        ),
    ]


def test_counts_per_element_and_density_peaks_are_exact(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    three_visits(svc, alice, clock)
    heat = product_heatmap(svc, alice)
    assert heat["width"] == 1280  # two of the three page views
    assert heat["widths"] == [
        {"width": 1280, "page_views": 2},
        {"width": 1440, "page_views": 1},
    ]
    assert (heat["page_views"], heat["clicks"]) == (3, 6)
    assert [(e["selector"], e["text"], e["clicks"]) for e in heat["elements"]] == [
        ("#buy", "Add to cart", 4),
        ("body > header > nav > a", "Home", 1),
        ("body > main > img.hero", "The machine", 1),
    ]
    assert heat["elements"][0]["share"] == round(4 / 6, 4)
    # 10 px cells, centres at the drawn width; x from the middle of the window
    cells = {(x, y): n for x, y, n in heat["cells"]}
    assert cells == {
        (105, 205): 3,  # (100, 200), (105, 205) at 1280 and (180, 200) at 1440
        (105, 705): 1,  # 200 px into a window scrolled 500 px
        (45, 25): 1,
        (625, 305): 1,  # 700 px at 1440 is 60 px past the middle
    }
    peak = max(heat["cells"], key=lambda c: c[2])
    assert peak == [105, 205, 3]
    # drawn at 1440 instead, every cell moves 80 px right
    wide = product_heatmap(svc, alice, width=1440)
    assert {(x, y): n for x, y, n in wide["cells"]}[(185, 205)] == 3
    # the dead click on the picture (nothing answered, the page went on)
    assert heat["elements"][2]["dead_clicks"] == 1
    assert heat["signals"]["dead_clicks"] == 1
    assert heat["signals"]["exits"] == 2  # the second visit went on to the cart
    assert_aggregates_are_the_sum_of_the_rows(svc)


def test_scroll_map_is_the_share_of_page_views_reaching_each_depth(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    three_visits(svc, alice, clock)
    reach = dict((int(d), s) for d, s in product_heatmap(svc, alice)["scroll"])
    # windows 720 px high: two views saw 0–720, one scrolled to 500 → 1220
    assert reach[0] == 1.0
    assert reach[700] == 1.0  # 720 is in the 700–749 step
    assert reach[750] == round(1 / 3, 4)
    assert reach[1200] == round(1 / 3, 4)
    assert max(reach) == 1200


def test_recordings_behind_an_element_or_a_place_open_at_their_click(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    (first, _), (second, _), (third, _) = three_visits(svc, alice, clock)
    scope = scope_of(svc, alice)
    keys = queries.pages_matching(svc.db, scope, PRODUCT)
    found = queries.recordings_at(svc.db, scope, keys, 1280, selector="#buy")
    assert found["clicks"] == 4
    # newest first, each with the offset of its first click there (the page view starts at 0)
    assert [(r["id"], r["at_ms"], r["clicks"]) for r in found["recordings"]] == [
        (third, 1000, 1),
        (second, 1000, 1),
        (first, 1000, 2),
    ]
    assert found["recordings"][0]["player_url"] == f"/recordings/{third}?t=1000"
    near = queries.recordings_at(svc.db, scope, keys, 1280, place=(105, 205, 10))
    assert {r["id"] for r in near["recordings"]} == {first, third}
    assert near["clicks"] == 3


def test_a_pattern_sums_pages_and_the_pages_report_ranks_them(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    three_visits(svc, alice, clock)
    scope = scope_of(svc, alice)
    assert queries.pages_matching(svc.db, scope, "alice.example/*") == [
        "alice.example/cart",
        "alice.example/products/espresso",
    ]
    assert queries.pages_matching(svc.db, scope, "ALICE.example/products/*") == [
        "alice.example/products/espresso"
    ]
    report = queries.pages_report(svc.db, scope, "dead_clicks")["pages"]
    assert [(p["page"], p["views"], p["exits"], p["dead_clicks"]) for p in report] == [
        ("alice.example/products/espresso", 3, 2, 1),
        ("alice.example/cart", 1, 1, 0),
    ]
    assert report[0]["exit_rate"] == round(2 / 3, 4)


def test_erasing_a_visitor_and_retention_take_their_share_out(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    (_, visitor), _, _ = three_visits(svc, alice, clock)
    erase_visitor(
        svc.db, svc.blobs, svc.clock, alice.account_id, visitor, "test", on_delete=svc.on_delete
    )
    heat = product_heatmap(svc, alice)
    assert [(e["selector"], e["clicks"]) for e in heat["elements"]] == [
        ("#buy", 2),
        ("body > main > img.hero", 1),
    ]
    assert (heat["page_views"], heat["clicks"]) == (2, 3)
    assert_aggregates_are_the_sum_of_the_rows(svc)
    clock.advance(11 * 86_400)  # past the Pro plan's 10 days
    svc.retention.run_once(clock.now_ms())
    assert all(rows == [] for rows in aggregates(svc).values())
    assert svc.db.all("SELECT * FROM recording_clicks") == []
    assert svc.db.all("SELECT * FROM page_view_stats") == []


def test_recordings_from_before_heatmaps_are_analysed_in_the_background(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    visits = three_visits(svc, alice, clock)
    before = aggregates(svc)
    moments = svc.db.all(MOMENTS)
    # as if stored before this feature: no rows, no signal moments, not analysed
    with svc.db.write() as conn:
        store.forget(conn, [r for r, _ in visits], delete_rows=True)
    svc.db.run(
        "DELETE FROM recording_moments WHERE kind IN "
        "('dead_click', 'error_click', 'quick_back', 'excessive_scroll')"
    )
    svc.db.run("UPDATE recordings SET analysed = 0, dead_click_count = 0")
    assert all(rows == [] for rows in aggregates(svc).values())
    assert backfill.run_once(svc.db, svc.blobs) == 3
    assert aggregates(svc) == before
    assert svc.db.all(MOMENTS) == moments
    counts = svc.db.all("SELECT analysed, dead_click_count FROM recordings ORDER BY started_at")
    assert counts == [{"analysed": ANALYSIS_VERSION, "dead_click_count": n} for n in (0, 0, 1)]
    assert backfill.run_once(svc.db, svc.blobs) == 0  # nothing left to do


def test_a_rage_click_is_named_by_its_element_when_ready_and_by_the_background_analysis(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    burst = [tap(1000 + 150 * i, PICTURE, 300 + i, 300) for i in range(4)]
    recording, _ = record(svc, alice, clock, [*burst, move(4000)])
    rage = "SELECT at, name, detail FROM recording_moments WHERE kind = 'rage_click'"
    (row,) = svc.db.all(rage)
    assert row["name"] == "The machine"
    assert json.loads(row["detail"]) == {"selector": "body > main > img.hero", "url": PRODUCT}
    # Stored by an older version: unnamed; the background analysis names it.
    svc.db.run("UPDATE recording_moments SET name = NULL, detail = NULL WHERE kind = 'rage_click'")
    svc.db.run("UPDATE recordings SET analysed = 2")
    assert backfill.run_once(svc.db, svc.blobs) == 1
    assert svc.db.all(rage) == [row]


def test_two_tabs_at_once_keep_their_own_clicks(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    """The finalizer knows each batch's page view: a click in the first tab after the second
    opened is the first page's, with its element."""
    ids, t = new_ids(), clock.now_ms()
    cart = {**ids, "page_id": ids["page_id"] + "-tab"}
    send(svc, alice.site_key, ids, 0, page_view(t) + [move(t + 500)], url=PRODUCT)
    tab = [shop_meta(t + 2000, CART), full_snapshot(t + 2001), move(t + 2500)]
    send(svc, alice.site_key, cart, 0, tab, url=CART, left=True)
    later = [tap(t + 3000, BUY, 100, 200), change(t + 3100), move(t + 6000)]
    send(svc, alice.site_key, ids, 1, later, url=PRODUCT, left=True)
    clock.advance(30)
    assert svc.finalizer.run_once() == 1
    rows = svc.db.all("SELECT page_key, selector, text FROM recording_clicks")
    assert rows == [
        {"page_key": "alice.example/products/espresso", "selector": "#buy", "text": "Add to cart"}
    ]
