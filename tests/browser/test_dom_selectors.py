"""The mirror's selectors, checked in real Chromium: rrweb records a page and its mutations,
the mirror is built from those events, and every selector must find exactly its element."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from footage.heatmaps.dom import PageDom

pytestmark = pytest.mark.browser

RRWEB = Path(__file__).resolve().parents[2] / "web/node_modules/rrweb/dist/rrweb.umd.cjs"

PAGE = """<!doctype html><html><head><title>Shop</title></head><body>
<header><nav><ul id="menu">
  <li><a href="/a" data-k="menu-a">A</a></li><li><a href="/b" data-k="menu-b">B</a></li>
</ul></nav></header>
<main>
  <button id="1st" data-k="digit-id">First</button>
  <button id="a:b.c" data-k="colon-id">Colon</button>
  <button id="item-12345" class="btn primary css-1x2y3z active" data-k="unstable-id">Go</button>
  <div id="dup"><span data-k="dup-1">one</span></div>
  <div id="dup" class="second"><span data-k="dup-2">two</span></div>
  <form data-testid='save "draft"'>
    <input name="q" data-k="query">
    <button class="btn" type="button" data-k="save">
      <svg width="40" height="40"><path data-k="icon" d="M0 0h40v40H0z"/></svg> Save
    </button>
  </form>
  <ul class="list"><li class="item">1</li><li class="item" data-k="li-2">2</li></ul>
  <table><tr><td>x</td><td data-k="cell">y</td></tr></table>
</main>
</body></html>"""

MUTATE = """async () => {
  const list = document.querySelector("ul.list");
  const li = document.createElement("li");
  li.className = "item";
  li.setAttribute("data-k", "li-new");
  list.insertBefore(li, document.querySelector("[data-k=li-2]"));
  list.insertAdjacentHTML("afterbegin", '<li data-k="li-a">a</li><li data-k="li-b">b</li>');
  const box = document.createElement("div");
  box.innerHTML = '<p>Read <a href="#more" data-k="deep-link">more</a></p><p>tail</p>';
  document.querySelector("main").appendChild(box);
  document.querySelectorAll("div#dup")[1].remove();
  document.querySelector("main").setAttribute("id", "content");
  await new Promise((resolve) => setTimeout(resolve, 50));
}"""

START = "() => { window.events = []; rrweb.record({emit: (e) => events.push(e)}); }"

CHECK = """(pairs) => pairs.filter(([selector, key]) => {
  const found = document.querySelectorAll(selector);
  return !(found.length === 1 && found[0].getAttribute("data-k") === key);
})"""


def mirror_from(events: list[dict[str, Any]]) -> tuple[PageDom, list[int]]:
    dom, clicks = PageDom(), []
    for event in events:
        data = event.get("data", {})
        if event.get("type") == 2:
            dom.load(data["node"])
        elif event.get("type") == 3 and data.get("source") == 0:
            dom.apply(data)
        elif event.get("type") == 3 and data.get("source") == 2 and data.get("type") == 2:
            clicks.append(data["id"])
    return dom, clicks


def test_selectors_find_exactly_their_element_in_chromium(browser: Any) -> None:
    if not RRWEB.exists():
        pytest.fail(f"{RRWEB} is missing: run scripts/install, which installs web/node_modules")
    # The suite's one Chromium (Playwright's sync API runs one per thread).
    page = browser.new_page()
    try:
        page.set_content(PAGE)
        page.add_script_tag(path=str(RRWEB))
        # An arrow function: a bare expression returning rrweb's stop function would be
        # called by Playwright, and recording would stop at once.
        page.evaluate(START)
        page.evaluate(MUTATE)
        page.click("[data-k=icon]")
        page.wait_for_timeout(50)
        events = page.evaluate("events")
        ids: dict[str, int] = page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll("[data-k]")]
                .map((el) => [el.getAttribute("data-k"), rrweb.record.mirror.getId(el)]))"""
        )
        dom, clicks = mirror_from(events)
        pairs = [[dom.selector(node_id), key] for key, node_id in ids.items()]
        assert all(selector for selector, _ in pairs)
        assert page.evaluate(CHECK, pairs) == []
    finally:
        page.close()

    selectors = {key: selector for selector, key in pairs}
    assert selectors["digit-id"] == "#\\31 st"
    assert selectors["colon-id"] == "#a\\:b\\.c"
    assert selectors["unstable-id"] == "#content > button.btn.primary:nth-of-type(3)"
    assert selectors["dup-1"] == "#dup > span"
    assert selectors["query"] == '[data-testid="save \\"draft\\""] > input'
    assert selectors["li-new"] == "#content > ul.list > li.item:nth-of-type(4)"
    assert selectors["cell"] == "#content > table > tbody > tr > td:nth-of-type(2)"
    assert len(ids) == 15 and all(dom.has(node_id) for node_id in ids.values())
    assert len(clicks) == 1 and dom.target(clicks[0]) == ids["save"]
    assert dom.text(ids["save"]) == "Save"
    assert dom.is_text_field(ids["query"]) and not dom.is_text_field(ids["save"])
