"""Frustration signals and click places of one recording: each signal on a crafted case, and
not on its near miss."""

from __future__ import annotations

from typing import Any

from footage.heatmaps.analysis import Analysis, analyse, page_key
from tests.conftest import full_snapshot
from tests.heatmaps.shop import (
    BUY,
    BUY_TEXT,
    CART,
    EMAIL,
    HOME,
    ICON_PATH,
    NAV_LINK,
    PICTURE,
    PRODUCT,
    SELECTORS,
    change,
    error,
    meta,
    move,
    page_view,
    scroll,
    tap,
    typing,
)

T = 1_795_000_000_000


def one_page(*events: dict[str, Any], end: int | None = None) -> Analysis:
    """The product page from T, with these events, then (optionally) a move at `end`."""
    stream = page_view(T) + list(events)
    if end is not None:
        stream.append(move(T + end))
    stream.sort(key=lambda e: e["timestamp"])
    return analyse(stream, [(T, PRODUCT)])


def kinds(analysis: Analysis) -> list[tuple[str, int]]:
    return [(m.kind, m.at - T) for m in analysis.moments]


# --- where clicks land ---------------------------------------------------------------------


def test_a_click_is_placed_on_the_page_and_named_by_its_element() -> None:
    result = one_page(
        scroll(T + 100, 500),
        tap(T + 200, BUY_TEXT, 100, 200),  # on the button's text
        tap(T + 300, ICON_PATH, 110, 205),  # on the icon inside it
        tap(T + 400, NAV_LINK, 40, 20),
        end=5_000,
    )
    buy, icon, nav = result.clicks
    assert (buy.x, buy.y, buy.width) == (100, 700, 1280)  # 200 px into the window + 500 scrolled
    assert buy.selector == icon.selector == SELECTORS[BUY] == "#buy"
    assert buy.text == "Add to cart"
    assert nav.selector == SELECTORS[NAV_LINK] and nav.text == "Home"
    assert result.pages[0].clicks == 3


def test_the_deepest_point_seen_is_scroll_plus_window_height() -> None:
    result = one_page(scroll(T + 100, 900), scroll(T + 200, 1500), scroll(T + 300, 200))
    assert result.pages[0].max_depth == 1500 + 720
    assert one_page().pages[0].max_depth == 720  # never scrolled: the first screen


def test_page_keys_drop_scheme_query_fragment_and_trailing_slash() -> None:
    assert page_key("https://Shop.example/products/?id=1#top") == "shop.example/products"
    assert page_key("http://shop.example/products") == "shop.example/products"
    assert page_key("https://shop.example") == "shop.example/"
    assert page_key("https://shop.example:8443/a//b/") == "shop.example:8443/a/b"
    assert page_key("https://shop.example:443/a") == "shop.example/a"
    assert page_key("shop.example/products/*") == "shop.example/products/*"


# --- rage clicks ---------------------------------------------------------------------------


def test_rage_click_three_clicks_within_a_second_and_30_px() -> None:
    result = one_page(
        tap(T + 1000, BUY, 100, 100), tap(T + 1300, BUY, 110, 100), tap(T + 1900, BUY, 100, 125)
    )
    assert [c.rage for c in result.clicks] == [True, True, True]
    assert result.pages[0].rage_clicks == 1


def test_a_rage_burst_is_named_by_the_element_it_hit_at_its_third_click() -> None:
    result = one_page(
        tap(T + 1000, PICTURE, 300, 300),  # the picture: no text but its alt
        tap(T + 1200, PICTURE, 301, 300),
        tap(T + 1400, PICTURE, 302, 300),
        tap(T + 1600, PICTURE, 303, 300),
        end=4_000,
    )
    (rage,) = result.rage_names
    assert (rage.kind, rage.at - T, rage.name) == ("rage_click", 1400, "The machine")
    assert rage.detail == {"selector": SELECTORS[PICTURE], "url": PRODUCT}


def test_no_rage_click_when_the_third_is_late_or_far() -> None:
    late = one_page(
        tap(T + 1000, BUY, 100, 100), tap(T + 1300, BUY, 110, 100), tap(T + 2001, BUY, 100, 100)
    )
    far = one_page(
        tap(T + 1000, BUY, 100, 100), tap(T + 1300, BUY, 110, 100), tap(T + 1600, BUY, 100, 131)
    )
    for result in (late, far):
        assert not any(c.rage for c in result.clicks)
        assert result.pages[0].rage_clicks == 0


def test_a_rage_burst_on_a_dead_element_is_one_rage_click_not_also_dead_clicks() -> None:
    burst = [tap(T + 1000 + 150 * i, PICTURE, 300 + i, 300) for i in range(6)]
    result = one_page(*burst, end=4_000)
    assert [c.rage for c in result.clicks] == [True] * 6
    assert [c.dead for c in result.clicks] == [False] * 6
    assert result.pages[0].rage_clicks == 1 and result.pages[0].dead_clicks == 0
    assert result.count("dead_click") == 0
    # The same element clicked once, on its own, is still a dead click.
    alone = one_page(tap(T + 1000, PICTURE, 300, 300), end=2_500)
    assert alone.pages[0].dead_clicks == 1


# --- dead clicks ---------------------------------------------------------------------------


def test_dead_click_nothing_changes_while_the_page_lives_on() -> None:
    result = one_page(tap(T + 1000, PICTURE, 300, 300), end=2_500)
    assert [c.dead for c in result.clicks] == [True]
    assert kinds(result) == [("dead_click", 1000)]
    [moment] = result.moments
    assert moment.name == "The machine"  # the image's alt text
    assert moment.detail == {"selector": SELECTORS[PICTURE], "url": PRODUCT}
    assert result.count("dead_click") == 1


def test_no_dead_click_when_the_page_answers_within_a_second() -> None:
    answered = [
        one_page(tap(T + 1000, PICTURE, 300, 300), change(T + 1900), end=2_500),
        one_page(tap(T + 1000, PICTURE, 300, 300), scroll(T + 1500, 300), end=2_500),
        one_page(tap(T + 1000, PICTURE, 300, 300), change(T + 2000), end=2_500),  # 1 s exactly
    ]
    for result in answered:
        assert [c.dead for c in result.clicks] == [False]
        assert result.count("dead_click") == 0
    # ... but an answer after more than a second is too late
    late = one_page(tap(T + 1000, PICTURE, 300, 300), change(T + 2001), end=2_500)
    assert [c.dead for c in late.clicks] == [True]


def test_no_dead_click_when_the_page_was_left_within_the_second() -> None:
    stream = page_view(T) + [tap(T + 1000, PICTURE, 300, 300), move(T + 1500)]
    stream += page_view(T + 1800, CART) + [move(T + 5000)]
    result = analyse(stream, [(T, PRODUCT), (T + 1800, CART)])
    assert [c.dead for c in result.clicks] == [False]  # navigation
    # the recording ends right after the click: the visitor left
    assert [c.dead for c in one_page(tap(T + 1000, PICTURE, 300, 300)).clicks] == [False]


def test_clicks_into_text_fields_and_on_the_background_are_never_dead() -> None:
    result = one_page(
        tap(T + 1000, EMAIL, 50, 600),
        tap(T + 3000, 3, 900, 650),
        end=6_000,  # 3: <body>
    )
    assert [c.dead for c in result.clicks] == [False, False]
    typed = one_page(tap(T + 1000, PICTURE, 300, 300), typing(T + 1500), end=4_000)
    assert [c.dead for c in typed.clicks] == [False]  # input is an answer too


# --- error clicks --------------------------------------------------------------------------


def test_error_click_an_error_within_a_second_after_the_click() -> None:
    result = one_page(tap(T + 1000, BUY, 100, 100), error(T + 2000), change(T + 1100), end=3_000)
    assert [c.error for c in result.clicks] == [True]
    assert kinds(result) == [("error_click", 1000)]
    assert result.moments[0].name == "Add to cart"


def test_no_error_click_when_the_error_comes_later_or_before() -> None:
    later = one_page(tap(T + 1000, BUY, 100, 100), change(T + 1100), error(T + 2001), end=3_000)
    before = one_page(error(T + 900), tap(T + 1000, BUY, 100, 100), change(T + 1100), end=3_000)
    for result in (later, before):
        assert [c.error for c in result.clicks] == [False]
        assert result.count("error_click") == 0


# --- quick backs ---------------------------------------------------------------------------


def visit(*pages: tuple[int, str]) -> Analysis:
    stream: list[dict[str, Any]] = []
    for at, url in pages:
        stream += page_view(T + at, url) + [move(T + at + 200)]
    return analyse(stream, [(T + at, url) for at, url in pages])


def test_quick_back_a_page_left_within_5_s_for_the_page_before() -> None:
    result = visit((0, HOME), (10_000, PRODUCT), (15_000, HOME))
    assert [p.quick_back for p in result.pages] == [False, True, False]
    assert kinds(result) == [("quick_back", 15_000)]
    assert result.moments[0].name == PRODUCT
    # the previous page with another query string is the same page
    assert visit((0, HOME), (10_000, PRODUCT), (14_000, HOME + "?ref=x")).count("quick_back") == 1


def test_no_quick_back_when_slower_or_onwards() -> None:
    assert visit((0, HOME), (10_000, PRODUCT), (15_001, HOME)).count("quick_back") == 0
    assert visit((0, HOME), (10_000, PRODUCT), (12_000, CART)).count("quick_back") == 0
    assert visit((0, HOME), (10_000, HOME), (12_000, HOME)).count("quick_back") == 0  # reloads


# --- excessive scrolling -------------------------------------------------------------------


def scrolls(*positions: tuple[int, int]) -> Analysis:
    return one_page(*(scroll(T + at, y) for at, y in positions), end=20_000)


def test_excessive_scrolling_three_turns_of_300_px_within_10_s() -> None:
    result = scrolls((1000, 400), (2000, 50), (3000, 450), (4000, 100))
    assert kinds(result) == [("excessive_scroll", 4000)]
    assert result.pages[0].excessive_scrolls == 1
    assert result.moments[0].name == PRODUCT


def test_no_excessive_scrolling_on_near_misses() -> None:
    two_turns = scrolls((1000, 400), (2000, 50), (3000, 450))
    short_legs = scrolls((1000, 299), (2000, 0), (3000, 299), (4000, 0))
    too_slow = scrolls((1000, 400), (2000, 50), (6000, 450), (12_001, 100))
    reading_down = scrolls(*((1000 * i, 350 * i) for i in range(1, 10)))
    for result in (two_turns, short_legs, too_slow, reading_down):
        assert result.count("excessive_scroll") == 0


def test_each_signal_has_one_moment_per_occurrence_in_time_order() -> None:
    result = one_page(
        tap(T + 1000, PICTURE, 300, 300),  # dead
        tap(T + 3000, BUY, 100, 100),
        error(T + 3500),  # error click
        move(T + 5000),
        *(scroll(T + at, y) for at, y in ((6000, 400), (7000, 0), (8000, 400), (9000, 0))),
        end=20_000,
    )
    assert kinds(result) == [
        ("dead_click", 1000),
        ("dead_click", 3000),  # the error is no answer on the page
        ("error_click", 3000),
        ("excessive_scroll", 9000),
    ]


# --- two tabs at once ----------------------------------------------------------------------


def test_pages_open_in_two_tabs_keep_their_own_events() -> None:
    """The product page in one tab, the cart opened in another 2 s later; then a click back
    in the first tab. By time alone it would land in the cart's page (whose DOM has no such
    node); with each event's page view it is the product page's "Add to cart"."""
    product = page_view(T) + [move(T + 500)]
    cart = [meta(T + 2000, CART), full_snapshot(T + 2001)] + [move(T + 2500)]
    later = [tap(T + 3000, BUY, 100, 200), change(T + 3100), move(T + 6000)]
    events = sorted(product + cart + later, key=lambda e: e["timestamp"])
    pages = [0 if e in product or e in later else 1 for e in events]
    starts = [(T, PRODUCT), (T + 2000, CART)]
    by_tab = analyse(events, starts, pages)
    [click] = by_tab.clicks
    assert (click.page, click.selector, click.text) == (0, "#buy", "Add to cart")
    assert [p.clicks for p in by_tab.pages] == [1, 0]
    by_time = analyse(events, starts)
    assert by_time.clicks[0].page == 1 and by_time.clicks[0].selector == ""
