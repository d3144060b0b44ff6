"""A small recorded shop page, and rrweb events to click, scroll and change it: the known
inputs of the heatmap and frustration-signal tests."""

from __future__ import annotations

from typing import Any

HOME = "https://alice.example/"
PRODUCT = "https://alice.example/products/espresso"
CART = "https://alice.example/cart"

# node ids of the page below
DOCUMENT, HTML, BODY = 1, 2, 3
HEADER, LOGO, NAV_LINK = 10, 11, 12
MAIN, TITLE, TITLE_TEXT, PICTURE = 20, 21, 22, 23
BUY, BUY_TEXT, ICON, ICON_PATH = 30, 31, 32, 33
EMAIL = 40
PRICE, PRICE_TEXT = 50, 51

SELECTORS = {
    BUY: "#buy",
    NAV_LINK: "body > header > nav > a",
    PICTURE: "body > main > img.hero",
    TITLE: "body > main > h1",
    EMAIL: "#email",
    PRICE: "body > main > p.price",
}


def _el(node_id: int, tag: str, attrs: dict[str, Any], *children: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": 2, "id": node_id, "tagName": tag, "attributes": attrs}
    node["childNodes"] = list(children)
    if tag in ("svg", "path"):
        node["isSVG"] = True
    return node


def _text(node_id: int, text: str) -> dict[str, Any]:
    return {"type": 3, "id": node_id, "textContent": text}


def page_snapshot(ts: int, top: int = 0) -> dict[str, Any]:
    """FullSnapshot of the product page, the window scrolled `top` px down."""
    body = _el(
        BODY,
        "body",
        {},
        _el(
            HEADER,
            "header",
            {},
            _el(LOGO, "nav", {}, _el(NAV_LINK, "a", {"href": "/"}, _text(13, "Home"))),
        ),
        _el(
            MAIN,
            "main",
            {},
            _el(TITLE, "h1", {}, _text(TITLE_TEXT, "Espresso machine")),
            _el(PICTURE, "img", {"class": "hero", "src": "/m.jpg", "alt": "The machine"}),
            _el(PRICE, "p", {"class": "price"}, _text(PRICE_TEXT, "€ 499")),
            _el(
                BUY,
                "button",
                {"id": "buy"},
                _text(BUY_TEXT, "Add to cart"),
                _el(ICON, "svg", {}, _el(ICON_PATH, "path", {"d": "M0 0"})),
            ),
            _el(EMAIL, "input", {"id": "email", "type": "email"}),
        ),
    )
    html = _el(HTML, "html", {}, _el(4, "head", {}), body)
    return {
        "type": 2,
        "data": {
            "node": {"type": 0, "id": DOCUMENT, "childNodes": [html]},
            "initialOffset": {"left": 0, "top": top},
        },
        "timestamp": ts,
    }


def meta(ts: int, href: str = PRODUCT, width: int = 1280, height: int = 720) -> dict[str, Any]:
    return {"type": 4, "data": {"href": href, "width": width, "height": height}, "timestamp": ts}


def tap(ts: int, node: int, x: float, y: float) -> dict[str, Any]:
    """A click (MouseInteraction type Click) on a node at a window position."""
    return {
        "type": 3,
        "data": {"source": 2, "type": 2, "id": node, "x": x, "y": y},
        "timestamp": ts,
    }


def scroll(ts: int, y: float, node: int = DOCUMENT) -> dict[str, Any]:
    return {"type": 3, "data": {"source": 3, "id": node, "x": 0, "y": y}, "timestamp": ts}


def move(ts: int) -> dict[str, Any]:
    positions = [{"x": 5, "y": 5, "id": BODY, "timeOffset": 0}]
    return {"type": 3, "data": {"source": 1, "positions": positions}, "timestamp": ts}


def change(ts: int) -> dict[str, Any]:
    """The page answering: the price text changes."""
    data = {"source": 0, "texts": [{"id": PRICE_TEXT, "value": "€ 449"}], "attributes": []}
    data.update(removes=[], adds=[])
    return {"type": 3, "data": data, "timestamp": ts}


def typing(ts: int, node: int = EMAIL) -> dict[str, Any]:
    return {
        "type": 3,
        "data": {"source": 5, "id": node, "text": "***", "isChecked": False},
        "timestamp": ts,
    }


def error(ts: int, message: str = "boom") -> dict[str, Any]:
    return {
        "type": 5,
        "data": {"tag": "footage.error", "payload": {"message": message}},
        "timestamp": ts,
    }


def page_view(
    ts: int, href: str = PRODUCT, width: int = 1280, top: int = 0
) -> list[dict[str, Any]]:
    return [meta(ts, href, width), page_snapshot(ts + 1, top)]
