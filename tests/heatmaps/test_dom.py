"""The page mirror: rrweb snapshots and mutations in, clicked elements and selectors out."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from footage.heatmaps.dom import PageDom, css_escape

_ids = itertools.count(1)


def el(tag: str, attrs: dict[str, Any] | None = None, *children: dict[str, Any]) -> dict[str, Any]:
    """A serialized element (rrweb node type 2) with a fresh id."""
    node: dict[str, Any] = {"type": 2, "id": next(_ids), "tagName": tag}
    node["attributes"] = attrs or {}
    node["childNodes"] = list(children)
    if tag in ("svg", "path", "g", "use"):
        node["isSVG"] = True
    return node


def tx(text: str) -> dict[str, Any]:
    return {"type": 3, "id": next(_ids), "textContent": text}


def page(*body: dict[str, Any]) -> tuple[PageDom, dict[str, Any]]:
    """A mirror of <!DOCTYPE html><html><head></head><body>…body…</body></html>."""
    document = {
        "type": 0,
        "id": next(_ids),
        "childNodes": [
            {"type": 1, "id": next(_ids), "name": "html", "publicId": "", "systemId": ""},
            el("html", {}, el("head"), el("body", {}, *body)),
        ],
    }
    dom = PageDom()
    dom.load(document)
    return dom, document


def body_of(document: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = document["childNodes"][1]["childNodes"][1]
    return node


def add(parent: dict[str, Any] | int, node: dict[str, Any], next_id: int | None = None) -> dict:
    parent_id = parent if isinstance(parent, int) else parent["id"]
    return {"parentId": parent_id, "nextId": next_id, "node": node}


def mutation(**parts: Any) -> dict[str, Any]:
    return {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": [], **parts}


def child_tags(dom: PageDom, node: dict[str, Any]) -> list[str | None]:
    return [dom.tag(i) for i in dom._nodes[node["id"]].children]


# --- selectors ------------------------------------------------------------------------------


def test_a_stable_unique_id_is_the_selector() -> None:
    button = el("button", {"id": "checkout"}, tx("Pay"))
    dom, _ = page(el("div", {}, button))
    assert dom.selector(button["id"]) == "#checkout"


@pytest.mark.parametrize(
    "value",
    [
        "item-12345",
        "ember42",
        "react-select-2-input",
        ":r0:",
        "«r1»",
        "radix-:r3:-trigger",
        "headlessui-menu-button-1",
        "mui-7",
        "f3a9c0de77",
        "0b6c1f5e-2d1a-4a7e-9b1f-3c2d1e0f9a8b",
    ],
)
def test_generated_ids_are_not_used(value: str) -> None:
    button = el("button", {"id": value})
    dom, _ = page(el("div", {}, button))
    assert dom.selector(button["id"]) == "body > div > button"


def test_a_duplicated_id_is_not_used_until_it_is_unique_again() -> None:
    first, second = el("a", {"id": "help", "href": "/h"}), el("a", {"id": "help", "href": "/h2"})
    dom, _ = page(first, second)
    assert dom.selector(first["id"]) == "body > a:nth-of-type(1)"
    dom.apply(mutation(removes=[{"parentId": 0, "id": second["id"]}]))
    assert dom.selector(first["id"]) == "#help"


@pytest.mark.parametrize(
    ("value", "escaped"),
    [("1st", "#\\31 st"), ("a:b.c", "#a\\:b\\.c"), ("-2x", "#-\\32 x"), ("é-ok", "#é-ok")],
)
def test_ids_are_escaped_for_css(value: str, escaped: str) -> None:
    node = el("span", {"id": value})
    dom, _ = page(node)
    assert dom.selector(node["id"]) == escaped
    assert css_escape("-") == "\\-"


def test_test_attributes_when_unique() -> None:
    save = el("button", {"data-testid": 'save "draft"'})
    cy = el("button", {"data-cy": "cancel"})
    twin_a, twin_b = el("button", {"data-testid": "row"}), el("button", {"data-testid": "row"})
    dom, _ = page(el("form", {}, save, cy, twin_a, twin_b))
    assert dom.selector(save["id"]) == '[data-testid="save \\"draft\\""]'
    assert dom.selector(cy["id"]) == '[data-cy="cancel"]'
    assert dom.selector(twin_b["id"]) == "body > form > button:nth-of-type(4)"


def test_only_stable_classes_are_kept_two_at_most() -> None:
    classes = "css-1x2y3z active is-open sc-bdVaJa btn Button_root__a1B2c w-1/2 item4567"
    classes += " primary big"
    button = el("button", {"class": classes})
    dom, _ = page(button)
    assert dom.selector(button["id"]) == "body > button.btn.primary"


def test_nth_of_type_counts_same_tag_element_siblings_only() -> None:
    items = [el("li", {}, tx(f"item {n}")) for n in range(3)]
    lone = el("p")
    dom, _ = page(el("ul", {}, tx("\n"), items[0], lone, tx(" "), items[1], items[2]))
    assert dom.selector(items[1]["id"]) == "body > ul > li:nth-of-type(2)"
    assert dom.selector(lone["id"]) == "body > ul > p"


def test_the_chain_stops_at_an_anchored_ancestor_or_body() -> None:
    link = el("a", {"href": "/b"}, tx("B"))
    menu = el("ul", {"id": "menu"}, el("li", {}, el("a", {"href": "/a"})), el("li", {}, link))
    card = el("section", {"data-footage": "promo"}, el("div", {"class": "inner"}, el("h2")))
    dom, document = page(el("nav", {}, menu), card)
    assert dom.selector(link["id"]) == "#menu > li:nth-of-type(2) > a"
    h2 = card["childNodes"][0]["childNodes"][0]
    assert dom.selector(h2["id"]) == '[data-footage="promo"] > div.inner > h2'
    assert dom.selector(body_of(document)["id"]) == "body"
    assert dom.selector(document["childNodes"][1]["id"]) == "html"
    assert dom.selector(999_999) == ""


def test_a_selector_for_a_text_node_names_its_element() -> None:
    words = tx("hello")
    para = el("p", {}, words)
    dom, _ = page(para)
    assert dom.selector(words["id"]) == "body > p"


# --- targets --------------------------------------------------------------------------------


def test_a_click_on_text_or_an_icon_means_the_button() -> None:
    label = tx("Add to cart")
    path = el("path", {"d": "M0 0"})
    button = el("button", {"class": "add"}, el("svg", {}, el("g", {}, path)), el("span", {}, label))
    dom, _ = page(button)
    assert dom.target(label["id"]) == button["id"]
    assert dom.target(path["id"]) == button["id"]
    assert dom.selector(dom.target(path["id"]) or 0) == "body > button.add"


def test_svg_inside_a_plain_div_means_the_div() -> None:
    path = el("path")
    holder = el("div", {"class": "logo"}, el("svg", {}, path))
    dom, _ = page(holder)
    assert dom.target(path["id"]) == holder["id"]


@pytest.mark.parametrize(
    ("attrs", "interactive"),
    [
        ({"href": "/x"}, True),
        ({}, False),
        ({"role": "button"}, True),
        ({"role": "Tab"}, True),
        ({"role": "presentation"}, False),
        ({"onclick": "go()"}, True),
        ({"tabindex": "0"}, True),
    ],
)
def test_interactive_ancestors(attrs: dict[str, str], interactive: bool) -> None:
    inner = el("span")
    outer = el("a", attrs, el("div", {}, inner))
    dom, _ = page(outer)
    assert dom.target(inner["id"]) == (outer["id"] if interactive else inner["id"])


def test_interactive_ancestors_are_looked_for_six_levels_up() -> None:
    deep = el("i")
    node = deep
    for _ in range(5):
        node = el("div", {}, node)
    near = el("button", {}, node)  # 6 levels above `deep`
    dom, _ = page(el("div", {}, near))
    assert dom.target(deep["id"]) == near["id"]
    deeper = el("i")
    node = el("div", {}, deeper)
    for _ in range(5):
        node = el("div", {}, node)
    dom, _ = page(el("button", {}, node))  # 7 levels above
    assert dom.target(deeper["id"]) == deeper["id"]


def test_unknown_and_non_element_targets() -> None:
    dom, document = page()
    assert dom.target(12_345) is None
    assert dom.target(document["id"]) is None
    assert dom.root_id == document["id"]


# --- mutations ------------------------------------------------------------------------------


def test_adds_respect_next_id_and_append() -> None:
    a, c = el("li", {"id": "a"}), el("li", {"id": "c"})
    ul = el("ul", {}, a, c)
    dom, _ = page(ul)
    b, d = el("li", {"id": "b"}), el("li", {"id": "d"})
    dom.apply(mutation(adds=[add(ul, b, c["id"]), add(ul, d)]))
    assert [dom.attr(i, "id") for i in dom._nodes[ul["id"]].children] == ["a", "b", "c", "d"]
    assert dom.selector(c["id"]) == "#c"


def test_next_id_added_later_in_the_same_batch() -> None:
    ul = el("ul")
    dom, _ = page(ul)
    one, two, three = el("li", {"id": "one"}), el("li", {"id": "two"}), el("li", {"id": "three"})
    # rrweb sends the tail first: "one" names "two", which comes later, which names "three".
    dom.apply(mutation(adds=[add(ul, one, two["id"]), add(ul, two, three["id"]), add(ul, three)]))
    assert [dom.attr(i, "id") for i in dom._nodes[ul["id"]].children] == ["one", "two", "three"]


def test_a_next_id_that_never_comes_appends_and_a_missing_parent_drops() -> None:
    ul = el("ul", {}, el("li", {"id": "first"}))
    dom, _ = page(ul)
    late, orphan = el("li", {"id": "late"}), el("li", {"id": "orphan"})
    dom.apply(mutation(adds=[add(ul, late, 777_777), add(888_888, orphan)]))
    assert [dom.attr(i, "id") for i in dom._nodes[ul["id"]].children] == ["first", "late"]
    assert not dom.has(orphan["id"])


def test_a_parent_added_later_in_the_batch_and_nested_child_nodes() -> None:
    dom, document = page()
    body = body_of(document)
    card = el("div", {"class": "card"})
    link = el("a", {"href": "/x"}, tx("Open"))
    title = el("h3", {}, link)
    dom.apply(mutation(adds=[add(card, title), add(body, card)]))
    assert dom.selector(link["id"]) == "body > div.card > h3 > a"
    assert dom.text(link["id"]) == "Open"


def test_removes_take_the_whole_subtree() -> None:
    leaf = tx("deep")
    inner = el("span", {"id": "inner"}, leaf)
    box = el("div", {}, el("p", {}, inner))
    dom, document = page(box)
    dom.apply(mutation(removes=[{"parentId": body_of(document)["id"], "id": box["id"]}]))
    assert not dom.has(box["id"]) and not dom.has(inner["id"]) and not dom.has(leaf["id"])
    assert dom._nodes[body_of(document)["id"]].children == []
    again = el("span", {"id": "inner"})
    dom.apply(mutation(adds=[add(body_of(document), again)]))
    assert dom.selector(again["id"]) == "#inner"  # the removed twin no longer counts


def test_an_attribute_change_can_make_an_id_appear_or_go() -> None:
    button = el("button", {"class": "go"})
    dom, _ = page(button)
    assert dom.selector(button["id"]) == "body > button.go"
    dom.apply(mutation(attributes=[{"id": button["id"], "attributes": {"id": "buy"}}]))
    assert dom.selector(button["id"]) == "#buy"
    dom.apply(mutation(attributes=[{"id": button["id"], "attributes": {"id": None}}]))
    assert dom.attr(button["id"], "id") is None
    assert dom.selector(button["id"]) == "body > button.go"


def test_text_changes_and_a_moved_node() -> None:
    words = tx("Old")
    button = el("button", {}, words)
    left, right = el("div", {"id": "left"}, button), el("div", {"id": "right"})
    dom, _ = page(left, right)
    dom.apply(mutation(texts=[{"id": words["id"], "value": "New"}]))
    assert dom.text(button["id"]) == "New"
    # The same id added elsewhere without a remove: it moves.
    dom.apply(mutation(adds=[add(right, {**button, "childNodes": [tx("Moved")]})]))
    assert dom.selector(button["id"]) == "#right > button"
    assert dom._nodes[left["id"]].children == []
    assert dom.text(button["id"]) == "Moved"


def test_unknown_ids_are_ignored() -> None:
    dom, _ = page(el("div"))
    dom.apply(
        mutation(
            removes=[{"parentId": 1, "id": 555_555}],
            texts=[{"id": 555_556, "value": "x"}],
            attributes=[{"id": 555_557, "attributes": {"id": "x"}}],
        )
    )
    assert not dom.has(555_555)


def test_load_starts_over() -> None:
    dom, _ = page(el("div", {"id": "old"}))
    fresh = el("div", {"id": "old"})
    _, other = page(fresh)
    dom.load(other)
    assert dom.selector(fresh["id"]) == "#old"
    assert dom.root_id == other["id"]


# --- text -----------------------------------------------------------------------------------


def test_text_prefers_labels_then_content() -> None:
    labelled = el("button", {"aria-label": "  Close  dialog ", "title": "x"}, tx("×"))
    image = el("img", {"alt": "Logo", "src": "/l.png"})
    submit = el("input", {"type": "submit", "value": "Send"})
    titled = el("a", {"href": "/", "title": "Home"})
    plain = el(
        "div",
        {},
        el("div", {}, tx("Sign")),
        el("div", {}, tx("in")),
        el("script", {}, tx("var x")),
        el("style", {}, tx(".a{}")),
        el("noscript", {}, tx("enable js")),
        el("b", {}, tx("  now\n\t!")),
    )
    linked_logo = el("a", {"href": "/"}, el("img", {"alt": "Acme"}))
    dom, _ = page(labelled, image, submit, titled, plain, linked_logo)
    assert dom.text(labelled["id"]) == "Close dialog"
    assert dom.text(image["id"]) == "Logo"
    assert dom.text(submit["id"]) == "Send"
    assert dom.text(titled["id"]) == "Home"
    assert dom.text(plain["id"]) == "Sign in now !"
    assert dom.text(linked_logo["id"]) == "Acme"
    assert dom.text(424_242) == ""


def test_text_is_cut_with_an_ellipsis() -> None:
    para = el("p", {}, tx("word " * 1000))
    dom, _ = page(para)
    cut = dom.text(para["id"], limit=12)
    assert cut == "word word w…"
    assert len(dom.text(para["id"])) <= 80
    assert dom.text(para["id"], limit=0) == ""


# --- text fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "attrs", "expected"),
    [
        ("input", {}, True),
        ("input", {"type": "email"}, True),
        ("input", {"type": "PASSWORD"}, True),
        ("input", {"type": "date"}, True),
        ("input", {"type": "weird"}, True),
        ("input", {"type": "submit"}, False),
        ("input", {"type": "checkbox"}, False),
        ("input", {"type": "hidden"}, False),
        ("input", {"type": "range"}, False),
        ("textarea", {}, True),
        ("select", {}, True),
        ("div", {"contenteditable": ""}, True),
        ("div", {"contenteditable": "true"}, True),
        ("div", {"contenteditable": "false"}, False),
        ("button", {}, False),
    ],
)
def test_is_text_field(tag: str, attrs: dict[str, str], expected: bool) -> None:
    node = el(tag, attrs)
    dom, _ = page(node)
    assert dom.is_text_field(node["id"]) is expected


def test_contenteditable_is_inherited() -> None:
    words = tx("draft")
    para = el("p", {}, words)
    frozen = el("span", {"contenteditable": "false"})
    dom, _ = page(el("div", {"contenteditable": "true"}, para, frozen))
    assert dom.is_text_field(para["id"]) and dom.is_text_field(words["id"])
    assert not dom.is_text_field(frozen["id"])
    assert not dom.is_text_field(31_337)


# --- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "snapshot",
    [
        None,
        {},
        [],
        "html",
        {"type": 0, "id": "1"},
        {"type": 0, "id": 9_000_001, "childNodes": "nope"},
        {"type": 0, "id": 9_000_002, "childNodes": [None, 3, {"id": 9_000_003}, {"type": 2}]},
        {"type": 2, "id": 9_000_004, "tagName": 5, "attributes": ["x"]},
    ],
)
def test_malformed_snapshots_do_not_raise(snapshot: Any) -> None:
    dom = PageDom()
    dom.load(snapshot)
    for node_id in (9_000_001, 9_000_004, 1):
        dom.target(node_id), dom.selector(node_id), dom.text(node_id)
        dom.is_text_field(node_id), dom.tag(node_id), dom.attr(node_id, "id")


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"source": 0, "adds": "x", "removes": {"id": 1}, "texts": None, "attributes": 5},
        {"adds": [None, {}, {"parentId": "1", "node": {}}, {"parentId": 1, "node": "div"}]},
        {"adds": [{"parentId": 1, "nextId": "x", "node": {"type": 2, "id": True}}]},
        {"removes": [None, {"id": None}, {"id": "3"}]},
        {"texts": [None, {"id": 1}, {"id": 2, "value": 7}]},
        {"attributes": [{"id": 2, "attributes": None}, {"id": 2, "attributes": {3: "x"}}]},
        {"attributes": [{"id": 2, "attributes": {"style": {"color": "red"}, "class": ["x"]}}]},
        {"source": 2, "adds": [{"parentId": 1, "node": {"type": 2, "id": 8, "tagName": "p"}}]},
    ],
)
def test_malformed_mutations_do_not_raise(data: Any) -> None:
    div = el("div")
    dom, _ = page(div)
    dom.apply(data)
    assert dom.selector(div["id"]) == "body > div"
