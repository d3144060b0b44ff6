"""The Heatmaps page in real Chromium: a visitor of the demo shop clicks a product's "Add to
cart" three times and the search box once; the owner opens the shop page's heatmap and sees
that element ranked first with exactly its clicks, heat drawn over it in the rebuilt page,
the recording that clicked it, and the player opening at that click; then the scroll map."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import log_in, start_demo
from tests.conftest import LiveServer, wait_for

pytestmark = pytest.mark.browser

ADD = ".product:not([hidden]) .add"


@pytest.fixture
def demo(tmp_path: Path, database_url: str) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """The demo shop, on both databases."""
    server, login = start_demo(tmp_path, database_url=database_url)
    yield server, login
    server.stop()


def visit_and_click(browser: Any, base: str) -> None:
    """Three clicks on the first product's "Add to cart" (over a second apart: no rage
    click), one on the search box, then the visitor leaves."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{base}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    page.mouse.move(300, 300)
    page.mouse.move(420, 360, steps=5)
    page.wait_for_timeout(800)
    for _ in range(3):
        page.locator(ADD).first.click()
        page.wait_for_timeout(1100)
    page.click("#search")
    page.wait_for_timeout(1100)
    page.close(run_before_unload=True)
    context.close()


HEAT_AT_ELEMENT = """(selector) => {
  const frame = document.querySelector('#heatmap iframe');
  const target = frame.contentDocument.querySelector(selector);
  const box = target.getBoundingClientRect();
  const canvas = document.querySelector('#heatmap canvas');
  const x = Math.round(box.left + box.width / 2), y = Math.round(box.top + box.height / 2);
  const pixels = canvas.getContext('2d').getImageData(x - 6, y - 6, 12, 12).data;
  let strongest = 0;
  for (let i = 3; i < pixels.length; i += 4) strongest = Math.max(strongest, pixels[i]);
  const far = canvas.getContext('2d').getImageData(5, canvas.height - 20, 10, 10).data;
  let far_alpha = 0;
  for (let i = 3; i < far.length; i += 4) far_alpha = Math.max(far_alpha, far[i]);
  return {strongest, far_alpha, frameWidth: frame.getBoundingClientRect().width,
          width: frame.offsetWidth, height: frame.offsetHeight,
          docHeight: frame.contentDocument.documentElement.scrollHeight,
          sandbox: frame.getAttribute('sandbox')};
}"""


def test_click_map_ranks_elements_draws_heat_and_opens_the_recording_at_the_click(
    browser: Any, demo: tuple[LiveServer, dict[str, str]], artifacts: Path
) -> None:
    server, login = demo
    visit_and_click(browser, server.url)
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    page_url = f"{server.url}/demo/"
    with server.client(headers=auth) as http:
        wait_for(
            lambda: http.get("/api/v1/heatmaps", params={"url": page_url}).json()["clicks"] >= 4,
            timeout=40,
        )

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, server.url, login)
    page.goto(f"{server.url}/heatmaps?url={quote(page_url)}")
    page.wait_for_selector("#heatmap[data-state=ready]", timeout=15_000)

    assert "4 clicks from 1 page view" in page.inner_text(".hm-totals")
    first = page.locator(".hm-element").first
    assert first.locator(".hm-text").inner_text() == "Add to cart"
    assert first.locator(".hm-clicks").inner_text() == "3"
    assert page.locator(".hm-element").nth(1).locator(".hm-clicks").inner_text() == "1"
    selector = first.get_attribute("data-selector")

    heat = page.evaluate(HEAT_AT_ELEMENT, selector)
    assert heat["sandbox"] == "allow-same-origin"
    assert heat["width"] == 1280  # the visitor's width, drawn 1:1 inside the scaled stage
    assert heat["height"] >= heat["docHeight"] - 1  # as tall as the page: no scrolling inside
    assert heat["frameWidth"] < 1280  # scaled down to the column
    assert heat["strongest"] > 100, heat
    assert heat["far_alpha"] == 0, heat  # nobody clicked the footer

    first.hover()
    assert page.locator(".hm-box").is_visible()
    first.click()
    panel = page.locator("[data-heatmap-recordings][data-state=ready]")
    panel.wait_for(timeout=10_000)
    page.screenshot(path=str(artifacts / "heatmap-clicks.png"), full_page=True)
    assert "3 clicks on “Add to cart” in 1 recording" in panel.locator("h2").inner_text()
    play = panel.locator("a.hm-play")
    assert play.count() == 1
    href = play.get_attribute("href") or ""
    assert "?t=" in href
    at_ms = int(href.split("?t=")[1])

    # a hot spot on the map lists the same recording
    box = page.evaluate(
        """(selector) => {
          const frame = document.querySelector('#heatmap iframe');
          const r = frame.contentDocument.querySelector(selector).getBoundingClientRect();
          const outer = frame.getBoundingClientRect(), scale = outer.width / frame.offsetWidth;
          return {x: outer.left + (r.left + r.width / 2) * scale,
                  y: outer.top + (r.top + r.height / 2) * scale};
        }""",
        selector,
    )
    page.mouse.click(box["x"], box["y"])
    page.wait_for_function(
        "() => document.querySelector('[data-heatmap-recordings] h2').textContent"
        ".includes('this spot')"
    )
    panel.wait_for(timeout=10_000)
    assert "in 1 recording" in panel.locator("h2").inner_text()

    first.click()
    panel.wait_for(timeout=10_000)
    panel.locator("a.hm-play").click()
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    assert int(page.get_attribute("#player", "data-start-ms") or 0) == at_ms
    # the player opens at the first click: a click marker sits at that moment
    clicks = page.evaluate(
        "() => window.footagePlayer.markers.filter((m) => m.kind === 'click').map((m) => m.time)"
    )
    assert len(clicks) == 4 and abs(clicks[0] - at_ms) <= 5, (clicks, at_ms)
    assert errors == []
    context.close()


def test_scroll_map_shows_how_far_visitors_saw(
    browser: Any, demo: tuple[LiveServer, dict[str, str]], artifacts: Path
) -> None:
    server, login = demo
    context = browser.new_context(viewport={"width": 1280, "height": 500})
    visitor = context.new_page()
    visitor.goto(f"{server.url}/demo/")
    visitor.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    visitor.mouse.move(300, 300, steps=3)
    visitor.wait_for_timeout(600)
    visitor.mouse.wheel(0, 400)
    visitor.wait_for_timeout(1200)
    visitor.close(run_before_unload=True)
    context.close()
    page_url = f"{server.url}/demo/"
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        wait_for(
            lambda: http.get("/api/v1/heatmaps", params={"url": page_url}).json()["page_views"],
            timeout=40,
        )

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, server.url, login)
    page.goto(f"{server.url}/heatmaps")
    assert page.locator(".hm-pages td.url").first.inner_text().endswith("/demo")
    page.locator(".hm-pages td.url a").first.click()  # the most viewed page
    page.wait_for_selector("#heatmap[data-state=ready]", timeout=15_000)
    page.click("a:has-text('Scroll map')")
    page.wait_for_selector("#heatmap[data-state=ready][data-map=scroll]", timeout=15_000)
    labels = page.locator(".hm-mark span").all_inner_texts()
    assert any(label.startswith("Average fold (500 px)") for label in labels), labels
    assert "Nobody scrolled this far" in labels
    assert "All visitors saw the first 900 px" in page.inner_text("[data-heatmap-reach]")
    page.screenshot(path=str(artifacts / "heatmap-scroll.png"), full_page=True)
    context.close()


PHONE = {
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "viewport": {"width": 390, "height": 664},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def add_to_cart_once(browser: Any, base: str, **context_options: Any) -> None:
    """One visitor: one "Add to cart" on the first product, then they leave."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.goto(f"{base}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    page.mouse.move(100, 100)
    page.wait_for_timeout(600)
    button = page.locator(ADD).first
    button.scroll_into_view_if_needed()
    if context_options.get("has_touch"):
        button.tap()
    else:
        button.click()
    page.wait_for_timeout(1100)
    page.close(run_before_unload=True)
    context.close()


def test_each_width_and_the_phone_get_their_own_drawing(
    browser: Any, demo: tuple[LiveServer, dict[str, str]], artifacts: Path
) -> None:
    """Two desktop windows of different widths and a phone click the same button: at either
    desktop width both clicks land on it (the demo's layout is centred); on the phone the
    page is drawn 390 px wide with its one tap on the button."""
    server, login = demo
    add_to_cart_once(browser, server.url, viewport={"width": 1280, "height": 800})
    add_to_cart_once(browser, server.url, viewport={"width": 1440, "height": 800})
    add_to_cart_once(browser, server.url, **PHONE)
    page_url = f"{server.url}/demo/"
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:

        def clicks(device: str) -> int:
            query = {"url": page_url, "device": device}
            return int(http.get("/api/v1/heatmaps", params=query).json()["clicks"])

        wait_for(lambda: clicks("desktop") >= 2 and clicks("mobile") >= 1, timeout=40)

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, server.url, login)
    page.goto(f"{server.url}/heatmaps?url={quote(page_url)}&device=desktop")
    page.wait_for_selector("#heatmap[data-state=ready]", timeout=15_000)
    widths = page.locator(".hm-widths a")
    assert widths.count() == 2
    for label in ("1280 px", "1440 px"):
        page.locator(".hm-widths a", has_text=label).click()
        page.wait_for_selector("#heatmap[data-state=ready]", timeout=15_000)
        selector = page.locator(".hm-element").first.get_attribute("data-selector")
        assert page.locator(".hm-element").first.locator(".hm-clicks").inner_text() == "2"
        heat = page.evaluate(HEAT_AT_ELEMENT, selector)
        assert heat["width"] == int(label.split()[0])
        assert heat["strongest"] > 100, (label, heat)

    page.goto(f"{server.url}/heatmaps?url={quote(page_url)}&device=mobile")
    page.wait_for_selector("#heatmap[data-state=ready]", timeout=15_000)
    assert "1 click from 1 page view" in page.inner_text(".hm-totals")
    first = page.locator(".hm-element").first
    assert first.locator(".hm-text").inner_text() == "Add to cart"
    heat = page.evaluate(HEAT_AT_ELEMENT, first.get_attribute("data-selector"))
    assert heat["width"] == 390
    assert heat["strongest"] > 100, heat
    page.screenshot(path=str(artifacts / "heatmap-phone.png"), full_page=True)
    context.close()
