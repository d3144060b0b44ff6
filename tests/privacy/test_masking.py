"""The masks (footage/privacy/masking.py): each rule on rrweb-shaped events, and properties.

Pure: no database, no server. The property tests put generated e-mail addresses and digit
strings, inside random text, into every place an rrweb event can carry text, and check that
nothing of them survives in the stored JSON — and that nothing changes when everything is
recorded.
"""

from __future__ import annotations

import copy
import re
import sys
import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footage.privacy import masking
from footage.privacy.masking import (
    MaskRules,
    PageMaskState,
    mask_all,
    mask_text,
    mask_value,
    scrub_events,
    scrub_url,
)

# Most tests here mask every digit (`mask_all_numbers`): what they check is where masking
# reaches, which every digit shows best. The default's own rule for page text (only the
# numbers that identify people) is tested in test_numbers.py.
DEFAULT = MaskRules(all_numbers=True)
EVERYTHING = MaskRules(forms=True, numbers=True, emails=True)
FORMS = MaskRules(forms=True, all_numbers=True)

# ---- rrweb-shaped builders --------------------------------------------------------------------


def el(
    node_id: int,
    tag: str,
    attributes: dict[str, Any] | None = None,
    children: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "type": 2,
        "id": node_id,
        "tagName": tag,
        "attributes": attributes or {},
        "childNodes": children or [],
    }


def txt(node_id: int, content: str, **extra: Any) -> dict[str, Any]:
    return {"type": 3, "id": node_id, "textContent": content, **extra}


def snapshot(*body: dict[str, Any], head: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    document = {
        "type": 0,
        "id": 1,
        "childNodes": [
            {"type": 1, "id": 2, "name": "html", "publicId": "", "systemId": ""},
            el(
                3,
                "html",
                {"lang": "en"},
                [el(4, "head", {}, head or []), el(12, "body", {}, list(body))],
            ),
        ],
    }
    return {
        "type": 2,
        "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
        "timestamp": 1,
    }


def mutation(
    adds: list[dict[str, Any]] | None = None,
    texts: list[dict[str, Any]] | None = None,
    attributes: list[dict[str, Any]] | None = None,
    removes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    data = {"source": 0, "adds": adds or [], "texts": texts or [], "attributes": attributes or []}
    data["removes"] = removes or []
    return {"type": 3, "data": data, "timestamp": 2}


def typed(node_id: int, text: str) -> dict[str, Any]:
    return {
        "type": 3,
        "data": {"source": 5, "id": node_id, "text": text, "isChecked": False},
        "timestamp": 3,
    }


def meta(href: str) -> dict[str, Any]:
    return {"type": 4, "data": {"href": href, "width": 800, "height": 600}, "timestamp": 1}


def find(root: Any, node_id: int) -> dict[str, Any]:
    """The serialized node with ``node_id`` inside an event (or node)."""
    if isinstance(root, dict) and root.get("type") == 2 and "data" in root:
        root = root["data"]["node"]
    stack = [root]
    while stack:
        node = stack.pop()
        if node.get("id") == node_id:
            return node  # type: ignore[no-any-return]
        stack.extend(node.get("childNodes", []))
    raise AssertionError(f"no node {node_id}")


def signup_page() -> dict[str, Any]:
    """A sign-up page: page text, a form with every kind of field, editable and ignored areas."""
    head = [
        el(5, "title", {}, [txt(6, "Sign up – Shop 2024")]),
        el(7, "meta", {"name": "description", "content": "Write to help@shop.example, 0800 123"}),
        el(
            8,
            "style",
            {"_cssText": ".a { width: 10px } /* admin@shop.example */"},
            [txt(9, ".b { height: 20px }", isStyle=True)],
        ),
        el(10, "script", {}, [txt(11, "var answer = 42;")]),
    ]
    form = el(
        17,
        "form",
        {"action": "/signup?ref=987", "class": "form-2 wide"},
        [
            el(
                20,
                "input",
                {
                    "type": "text",
                    "name": "name",
                    "value": "Ada Lovelace",
                    "placeholder": "Your name 1",
                },
            ),
            el(21, "input", {"type": "email", "value": "ada@example.com"}),
            el(22, "input", {"type": "tel", "value": "+44 20 7946 0958"}),
            el(23, "input", {"type": "password", "value": "hunter2", "placeholder": "Password"}),
            el(
                24,
                "input",
                {"type": "text", "autocomplete": "cc-number", "value": "4111 1111 1111 1111"},
            ),
            el(25, "textarea", {"value": "Call me at 555 0100"}, [txt(26, "Call me at 555 0100")]),
            el(27, "input", {"type": "hidden", "value": "csrf-token-42"}),
            el(
                28,
                "select",
                {"value": "de"},
                [
                    el(29, "option", {"value": "fr"}, [txt(30, "France")]),
                    el(31, "option", {"value": "de", "selected": True}, [txt(32, "Germany")]),
                ],
            ),
            el(33, "input", {"type": "checkbox", "value": "yes", "checked": True}),
            el(34, "input", {"type": "submit", "value": "Sign up"}),
        ],
    )
    return snapshot(
        el(13, "h1", {}, [txt(14, "Welcome back, ada@example.com")]),
        el(15, "p", {}, [txt(16, "Order 12345 ships today")]),
        form,
        el(40, "div", {"contenteditable": "true"}, [txt(41, "Dear diary, Ada")]),
        el(
            42,
            "div",
            {"data-recording-ignore": "mask", "title": "Notes"},
            [
                txt(43, "Secret note"),
                el(44, "input", {"type": "text", "value": "ignored value"}),
            ],
        ),
        el(45, "a", {"href": "mailto:ada@example.com"}, [txt(46, "Mail us")]),
        el(
            47,
            "img",
            {
                "src": "https://cdn.shop.example/p/123/photo.jpg?w=300",
                "srcset": "https://cdn.example/1.jpg?w=300 300w, https://cdn.example/p/2.jpg 2x",
                "alt": "Ada, 1815",
                "class": "photo-1 rounded",
                "width": 300,
            },
        ),
        {"type": 5, "id": 48, "textContent": "build 42 by dev@shop.example"},
        el(
            49,
            "div",
            {"data-user": "ada@example.com", "style": "width: 10px", "title": "Since 2019"},
        ),
        el(50, "canvas", {"rr_dataURL": "data:image/png;base64,iVBORw0KGgo123"}),
        head=head,
    )


def attrs(event: dict[str, Any], node_id: int) -> dict[str, Any]:
    return find(event, node_id)["attributes"]  # type: ignore[no-any-return]


def text_of(event: dict[str, Any], node_id: int) -> str:
    return find(event, node_id)["textContent"]  # type: ignore[no-any-return]


# ---- the string masks -------------------------------------------------------------------------


def test_mask_all_keeps_the_length_whitespace_too() -> None:
    assert mask_all("a b\n1") == "*****"
    assert mask_all("") == ""
    assert mask_all("😀x") == "**"  # one per code point


def test_mask_text_masks_emails_then_digits_by_the_rules() -> None:
    s = "Mail ada.lovelace+shop@mail.example.co.uk or call 0176 1234"
    assert mask_text(s, DEFAULT) == "Mail " + "*" * 36 + " or call **** ****"
    assert mask_text(s, MaskRules(numbers=True)) == "Mail " + "*" * 36 + " or call 0176 1234"
    assert mask_text(s, MaskRules(emails=True, all_numbers=True)) == s.replace(
        "0176 1234", "**** ****"
    )
    assert mask_text(s, EVERYTHING) == s


def test_percent_encoded_at_sign_and_unicode_digits() -> None:
    assert mask_text("to ada%40example.com!", MaskRules(numbers=True)) == "to " + "*" * 17 + "!"
    assert mask_text("٣٤ ۵ 𝟘", DEFAULT) == "** * *"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a@b.c@d.e", "*********"),  # overlapping addresses: all of it
        ("x@intranet", "x@intranet"),  # one label is no domain
        ("@example.com", "@example.com"),  # no local part
        ("CSS @media screen and (min-width: 5em) {}", "CSS @media screen and (min-width: 5em) {}"),
        ("}@font-face{font-family:x}", "}@font-face{font-family:x}"),
        ("(ada@example.com)", "(" + "*" * 15 + ")"),
        ("ada@example.com.", "*" * 15 + "."),
        ("<ada@ex-ample.com>", "<" + "*" * 16 + ">"),
    ],
)
def test_email_edges(text: str, expected: str) -> None:
    assert mask_text(text, MaskRules(numbers=True)) == expected


def test_email_mask_is_linear_on_long_runs_before_an_at_sign() -> None:
    # A plain regular expression backtracks quadratically here (minutes, not milliseconds).
    text = "A" * 200_000 + "@media x" + "%40" * 50_000
    started = time.perf_counter()
    assert mask_text(text, MaskRules(numbers=True)) == text
    assert time.perf_counter() - started < 1.0


def test_digit_table_covers_every_decimal_digit_python_knows() -> None:
    decimals = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isdecimal()]
    assert all(masking._DIGITS.fullmatch(c) for c in decimals)
    assert mask_text("".join(decimals), MaskRules(emails=True, all_numbers=True)) == "*" * len(
        decimals
    )
    assert not masking._DIGITS.search("x½²Ⅻ")  # numerals that are not decimal digits stay


def test_mask_value() -> None:
    assert mask_value("Ada 1", DEFAULT, sensitive=False) == "*****"
    assert mask_value("Ada 1", FORMS, sensitive=False) == "Ada *"
    assert mask_value("Ada 1", EVERYTHING, sensitive=False) == "Ada 1"
    assert mask_value("Ada 1", EVERYTHING, sensitive=True) == "*****"


def test_scrub_url() -> None:
    url = "https://shop.example/p/123/shoe?size=42&ref=abc#review-7"
    assert scrub_url(url, DEFAULT) == "https://shop.example/p/123/shoe?size=**&ref=abc#review-*"
    assert scrub_url(url, MaskRules(numbers=True)) == url
    assert scrub_url("https://x.example/a#b?c=1", DEFAULT) == "https://x.example/a#b?c=*"
    mailto = "mailto:ada@example.com"
    assert scrub_url(mailto, DEFAULT) == "mailto:" + "*" * 15
    # The address swallows the '?' (local-part characters); the query's digits go all the same.
    masked = scrub_url("https://x.example/u?e=ada%40ex.com&n=5", DEFAULT)
    assert "ada" not in masked and "5" not in masked and masked.startswith("https:")
    assert scrub_url("", DEFAULT) == ""


@settings(max_examples=200, deadline=None)
@given(st.text(), st.booleans(), st.booleans())
def test_scrub_url_takes_any_string(url: str, numbers: bool, emails: bool) -> None:
    result = scrub_url(url, MaskRules(numbers=numbers, emails=emails))
    assert len(result) == len(url)


# ---- the full snapshot ------------------------------------------------------------------------


def test_snapshot_of_a_signup_form_with_the_default_rules() -> None:
    page = signup_page()
    [out] = scrub_events([page], DEFAULT)
    assert out is page  # in place
    # page text: e-mails and digits
    assert text_of(out, 6) == "Sign up – Shop ****"
    assert text_of(out, 14) == "Welcome back, " + "*" * 15
    assert text_of(out, 16) == "Order ***** ships today"
    assert attrs(out, 7)["content"] == "Write to " + "*" * 17 + ", **** ***"
    # stylesheets keep their digits, scripts are left alone
    assert attrs(out, 8)["_cssText"] == ".a { width: 10px } /* " + "*" * 18 + " */"
    assert text_of(out, 9) == ".b { height: 20px }"
    assert text_of(out, 11) == "var answer = 42;"
    # every typed value, whatever the field
    for node_id, value in [
        (20, "Ada Lovelace"),
        (21, "ada@example.com"),
        (22, "+44 20 7946 0958"),
        (23, "hunter2"),
        (24, "4111 1111 1111 1111"),
        (25, "Call me at 555 0100"),
        (27, "csrf-token-42"),
        (28, "de"),
    ]:
        assert attrs(out, node_id)["value"] == "*" * len(value), node_id
    assert text_of(out, 26) == "*" * 19  # the textarea's text is typed text
    assert "selected" not in attrs(out, 31)  # the select's choice
    assert text_of(out, 32) == "Germany"
    assert attrs(out, 31)["value"] == "de"  # the site's own option values
    assert attrs(out, 33) == {"type": "checkbox", "value": "yes", "checked": True}
    assert attrs(out, 34)["value"] == "Sign up"
    assert attrs(out, 20)["placeholder"] == "Your name *"
    assert attrs(out, 17) == {"action": "/signup?ref=***", "class": "form-2 wide"}
    # editable and ignored areas
    assert text_of(out, 41) == "*" * 15
    assert text_of(out, 43) == "*" * 11
    assert attrs(out, 42) == {"data-recording-ignore": "mask", "title": "*****"}
    assert attrs(out, 44)["value"] == "*" * 13
    # links, images, comments, data attributes
    assert attrs(out, 45)["href"] == "mailto:" + "*" * 15
    image = attrs(out, 47)
    # Image addresses keep their digits (sizes, versions): masking them breaks the replay.
    assert image["src"] == "https://cdn.shop.example/p/123/photo.jpg?w=300"
    assert image["srcset"] == (
        "https://cdn.example/1.jpg?w=300 300w, https://cdn.example/p/2.jpg 2x"
    )
    assert image["alt"] == "Ada, ****"
    assert image["class"] == "photo-1 rounded"
    assert image["width"] == 300
    assert find(out, 48)["textContent"] == "build ** by " + "*" * 16
    assert attrs(out, 49) == {"data-user": "*" * 15, "style": "width: 10px", "title": "Since ****"}
    assert attrs(out, 50)["rr_dataURL"] == "data:image/png;base64,iVBORw0KGgo123"


def test_with_forms_on_the_name_survives_but_the_password_does_not() -> None:
    page = signup_page()
    scrub_events([page], FORMS)
    assert attrs(page, 20)["value"] == "Ada Lovelace"
    assert attrs(page, 22)["value"] == "+** ** **** ****"  # numbers are still masked
    assert attrs(page, 21)["value"] == "*" * 15  # e-mails too
    assert attrs(page, 23)["value"] == "*******"
    assert attrs(page, 44)["value"] == "*" * 13  # ignored areas too
    assert text_of(page, 41) == "Dear diary, Ada"
    assert attrs(page, 31)["selected"] is True


def test_everything_recorded_still_masks_passwords_and_ignored_areas() -> None:
    page = signup_page()
    before = copy.deepcopy(page)
    scrub_events([page], EVERYTHING)
    assert attrs(page, 23)["value"] == "*******"
    assert attrs(page, 44)["value"] == "*" * 13
    assert text_of(page, 43) == "*" * 11
    # and nothing else changed
    attrs(before, 23)["value"] = "*******"
    attrs(before, 44)["value"] = "*" * 13
    attrs(before, 42)["title"] = "*****"
    find(before, 43)["textContent"] = "*" * 11
    assert page == before


def test_a_password_typed_in_a_later_batch_is_masked_with_the_same_state() -> None:
    state = PageMaskState()
    scrub_events([signup_page()], FORMS, state)
    later = [typed(20, "Ada"), typed(23, "hunter2"), typed(44, "ignored"), typed(21, "a@b.example")]
    scrub_events(later, FORMS, state)
    assert [e["data"]["text"] for e in later] == ["Ada", "*******", "*******", "*" * 11]
    # Without the page's state the server cannot tell (the browser masked it already).
    alone = [typed(23, "hunter two")]
    scrub_events(alone, FORMS, PageMaskState())
    assert alone[0]["data"]["text"] == "hunter two"


def test_rrweb_marks_a_password_field_shown_as_text() -> None:
    state = PageMaskState()
    field = el(60, "input", {"type": "text", "data-rr-is-password": "true", "value": "hunter2"})
    page = snapshot(field)
    later = typed(60, "hunter2")
    scrub_events([page, later], EVERYTHING, state)
    assert attrs(page, 60)["value"] == "*******"
    assert later["data"]["text"] == "*******"
    assert state.is_sensitive(60)


def test_input_events() -> None:
    events = [
        typed(20, "Ada 1815"),
        {"type": 3, "data": {"source": 5, "id": 33, "isChecked": True}},
    ]
    scrub_events(events, DEFAULT)
    assert events[0]["data"]["text"] == "********"
    assert events[1]["data"] == {"source": 5, "id": 33, "isChecked": True}
    events = [typed(20, "Ada 1815 ada@example.com")]
    scrub_events(events, FORMS)
    assert events[0]["data"]["text"] == "Ada **** " + "*" * 15


# ---- mutations --------------------------------------------------------------------------------


def test_mutations_follow_what_the_state_knows() -> None:
    state = PageMaskState()
    scrub_events([signup_page()], FORMS, state)
    change = mutation(
        adds=[
            {"parentId": 40, "nextId": None, "node": el(70, "p", {}, [])},
            {
                "parentId": 70,
                "nextId": None,
                "node": txt(71, "typed 7"),
            },  # inside the editable area
            {"parentId": 42, "nextId": None, "node": txt(72, "also secret")},  # inside ignore=mask
            {"parentId": 8, "nextId": None, "node": txt(73, ".c { top: 1px }")},  # a stylesheet
            {"parentId": 12, "nextId": None, "node": txt(74, "Total: 99 EUR")},
        ],
        texts=[
            {"id": 26, "value": "new text 5"},  # the textarea's text
            {"id": 43, "value": "ignored"},
            {"id": 16, "value": "Order 777"},
            {"id": 9, "value": ".b { height: 30px }"},
        ],
        attributes=[
            {"id": 23, "attributes": {"value": "hunter2"}},  # a known password
            {
                "id": 20,
                "attributes": {"value": "Ada 2", "title": "call 555", "class": "x@y.example"},
            },
            {
                "id": 15,
                "attributes": {
                    "style": {
                        "color": "red",
                        "content": ["a@b.example", "important"],
                        "width": False,
                    }
                },
            },
        ],
    )
    scrub_events([change], FORMS, state)
    data = change["data"]
    assert [a["node"].get("textContent") for a in data["adds"]] == [
        None,
        "typed *",
        "***********",
        ".c { top: 1px }",
        "Total: ** EUR",
    ]
    assert [t["value"] for t in data["texts"]] == [
        "new text *",
        "*******",
        "Order ***",
        ".b { height: 30px }",
    ]
    assert data["attributes"][0]["attributes"] == {"value": "*******"}
    assert data["attributes"][1]["attributes"] == {
        "value": "Ada *",
        "title": "call ***",
        "class": "*" * 11,
    }
    assert data["attributes"][2]["attributes"]["style"] == {
        "color": "red",
        "content": ["*" * 11, "important"],
        "width": False,
    }


def test_mutation_value_of_an_unknown_node_is_masked_as_typed_text() -> None:
    change = mutation(
        attributes=[{"id": 999, "attributes": {"value": "Ada", "data-x": "1", "id": "n1"}}]
    )
    scrub_events([change], DEFAULT)
    assert change["data"]["attributes"][0]["attributes"] == {
        "value": "***",
        "data-x": "*",
        "id": "n1",
    }


def test_a_field_that_becomes_a_password_or_ignored_later_is_masked_from_then_on() -> None:
    state = PageMaskState()
    scrub_events([signup_page()], EVERYTHING, state)
    scrub_events(
        [
            mutation(
                attributes=[
                    {"id": 20, "attributes": {"type": "password", "value": "hunter2"}},
                    {"id": 15, "attributes": {"data-recording-ignore": "mask"}},
                    {"id": 16, "attributes": {"contenteditable": "true"}},
                ]
            )
        ],
        EVERYTHING,
        state,
    )
    later = [typed(20, "hunter3"), typed(22, "0176")]
    added = mutation(adds=[{"parentId": 15, "nextId": None, "node": txt(80, "secret")}])
    scrub_events([*later, added], EVERYTHING, state)
    assert [e["data"]["text"] for e in later] == ["*******", "0176"]
    assert added["data"]["adds"][0]["node"]["textContent"] == "******"


def test_removed_nodes_are_forgotten_and_a_full_snapshot_starts_afresh() -> None:
    state = PageMaskState()
    scrub_events([signup_page()], FORMS, state)
    assert state.is_sensitive(23)
    scrub_events([mutation(removes=[{"parentId": 17, "id": 23}])], FORMS, state)
    assert not state.is_sensitive(23)
    scrub_events([signup_page()], FORMS, state)
    assert state.is_sensitive(23)
    scrub_events([snapshot(el(23, "p"))], FORMS, state)  # rrweb numbers the nodes anew
    assert not state.is_sensitive(23)


def test_a_full_state_treats_every_unknown_id_as_sensitive() -> None:
    state = PageMaskState(max_ids=3)
    editable = el(90, "div", {"contenteditable": ""}, [txt(91, "a"), txt(92, "b"), txt(93, "c")])
    scrub_events([snapshot(editable)], FORMS, state)
    assert len(state) == 3 and state.saturated
    events = [typed(20, "Ada"), typed(92, "Ada")]
    scrub_events(events, FORMS, state)
    assert [e["data"]["text"] for e in events] == ["***", "Ada"]


# ---- other events -----------------------------------------------------------------------------


def test_meta_custom_and_plugin_events() -> None:
    events = [
        meta("https://shop.example/order/123?email=ada%40example.com&step=2"),
        {
            "type": 5,
            "data": {
                "tag": "footage.error",
                "payload": {
                    "message": "Cannot read 'x' of order 123 for ada@example.com",
                    "source": "https://shop.example/app.4f2.js?v=3",
                    "line": 12,
                    "column": 7,
                    "ada@example.com": [{"url": "https://x.example/p/7?q=8", "note": "n 9"}],
                },
            },
        },
        {
            "type": 6,
            "data": {
                "plugin": "rrweb/console@1",
                "payload": {"level": "log", "payload": ['"id 42"']},
            },
        },
        {
            "type": 3,
            "data": {"source": 1, "positions": [{"x": 10, "y": 20, "id": 5, "timeOffset": 0}]},
        },
        {
            "type": 3,
            "data": {
                "source": 8,
                "id": 3,
                "adds": [{"rule": ".a{top:1px} /* a@b.example */", "index": 0}],
            },
        },
        {"type": 0, "data": {}},
        {"type": 99, "data": {"note": "call 555"}},
    ]
    expected_mouse = copy.deepcopy(events[3])
    scrub_events(events, DEFAULT)
    assert events[0]["data"]["href"] == (
        "https://shop.example/order/123?email=" + "*" * 17 + "&step=*"
    )  # path digits are product and order ids of the site; the query is masked
    assert events[0]["data"]["width"] == 800
    payload = events[1]["data"]["payload"]
    assert events[1]["data"]["tag"] == "footage.error"
    assert payload["message"] == "Cannot read 'x' of order *** for " + "*" * 15
    assert payload["source"] == "https://shop.example/app.4f2.js?v=*"
    assert (payload["line"], payload["column"]) == (12, 7)
    assert payload["*" * 15] == [{"url": "https://x.example/p/7?q=*", "note": "n *"}]
    assert events[2]["data"] == {
        "plugin": "rrweb/console@1",
        "payload": {"level": "log", "payload": ['"id **"']},
    }
    assert events[3] == expected_mouse
    assert events[4]["data"]["adds"][0]["rule"] == ".a{top:1px} /* " + "*" * 11 + " */"
    assert events[6]["data"] == {"note": "call ***"}


def site_events(s: str) -> list[dict[str, Any]]:
    """footage('event', …) as the recorder sends it, and events that only look like it."""
    return [
        {
            "type": 5,
            "data": {
                "tag": "footage.event",
                "payload": {
                    "name": "checkout " + s,
                    "props": {"email": s, "order": 4711, "url": "https://x.example/?q=" + s},
                },
            },
            "timestamp": 1,
        },
        # Only the exact tag is the site's own event.
        {"type": 5, "data": {"tag": "footage.events", "payload": {"name": s}}, "timestamp": 2},
        {"type": 5, "data": {"tag": "Footage.Event", "payload": {"name": s}}, "timestamp": 3},
        {"type": 6, "data": {"plugin": "footage.event", "payload": {"name": s}}, "timestamp": 4},
        {"type": 99, "data": {"tag": "footage.event", "payload": {"name": s}}, "timestamp": 5},
    ]


@pytest.mark.parametrize("rules", [DEFAULT, FORMS, MaskRules(numbers=True)])
def test_the_sites_own_custom_events_are_not_masked(rules: MaskRules) -> None:
    secret = "ada@example.com 555 0142"
    events = site_events(secret)
    expected = copy.deepcopy(events[0])
    scrub_events(events, rules, PageMaskState())
    # The site chose to send these values (docs/privacy.md): no mask applies to them.
    assert events[0] == expected
    # Every look-alike is masked as before.
    for other in events[1:]:
        assert secret not in orjson.dumps(other).decode()
    assert events[1]["data"]["payload"]["name"] == mask_text(secret, rules)


def test_the_site_event_exemption_is_the_same_in_the_browser(tmp_path: Any) -> None:
    """The twin in web/src/masking.ts keeps footage.event as it is too (byte-identical)."""
    import subprocess

    from tests.node import bundle_for_node
    from tests.privacy.test_masking_parity import RUNNER, python_side

    node, bundle = bundle_for_node("masking.ts", tmp_path)
    (tmp_path / "run.cjs").write_text(RUNNER)
    cases = [
        {
            "rules": {"forms": forms, "numbers": False, "emails": emails},
            "batches": [site_events(s)],
            "strings": [s],
        }
        for s in ("ada@example.com 42", "", "call 555 0142")
        for forms in (False, True)
        for emails in (False, True)
    ]
    js = subprocess.run(
        [node, str(tmp_path / "run.cjs"), str(bundle)],
        input=orjson.dumps(cases),
        capture_output=True,
        check=True,
    ).stdout
    py = [orjson.dumps(python_side(case)).decode() for case in cases]
    assert orjson.loads(js) == py


def test_malformed_events_are_left_alone() -> None:
    events: list[Any] = [
        None,
        "x",
        {},
        {"type": 2},
        {"type": 2, "data": {"node": {"type": 2, "attributes": "no", "childNodes": {"a": 1}}}},
        {"type": 3, "data": {"source": 0, "adds": [None, {"node": 5}], "texts": [{"id": "x"}]}},
        {"type": 3, "data": {"source": 5, "text": 42}},
        {"type": 4, "data": {"href": None}},
        {"type": 5, "data": "just a string 1"},
        {"type": True, "data": {"a": "b 1"}},
    ]
    expected = copy.deepcopy(events)
    expected[9]["data"]["a"] = "b *"  # `true` is no event type rrweb knows: its text is masked
    assert scrub_events(events, DEFAULT) == expected
    assert scrub_events("not a list", DEFAULT) == "not a list"  # type: ignore[arg-type]


def test_deep_nesting_does_not_recurse() -> None:
    node: dict[str, Any] = txt(100_000, "deep 1")
    for depth in range(5000):
        node = el(depth + 100, "div", {}, [node])
    payload: Any = "deep 2"
    for _ in range(5000):
        payload = {"a": [payload]}
    events = [snapshot(node), {"type": 5, "data": {"tag": "t", "payload": payload}}]
    scrub_events(events, DEFAULT)
    assert text_of(events[0], 100_000) == "deep *"
    inner = events[1]["data"]["payload"]
    while isinstance(inner, dict):
        inner = inner["a"][0]
    assert inner == "deep *"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 10)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "data",
                    "source",
                    "node",
                    "id",
                    "tagName",
                    "attributes",
                    "childNodes",
                    "textContent",
                    "adds",
                    "texts",
                    "removes",
                    "parentId",
                    "text",
                    "href",
                    "payload",
                    "value",
                    "isStyle",
                    "style",
                ]
            )
            | st.text(max_size=4),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=5), st.booleans(), st.booleans(), st.booleans())
def test_any_json_is_walked_without_an_exception(
    events: list[Any], forms: bool, numbers: bool, emails: bool
) -> None:
    # The internal walk, without scrub_events' fail-closed net: it must not need it.
    walker = masking._Masker(MaskRules(forms, numbers, emails, all_numbers=True), PageMaskState())
    for event in events:
        if isinstance(event, dict):
            walker.event(event)


# ---- properties: nothing survives, and nothing is over-masked -----------------------------------

surrounding = st.text(max_size=12)
digit_strings = st.text(st.characters(categories=["Nd"]), min_size=6, max_size=12)


def everywhere(s: str, *, with_digit_keepers: bool) -> list[dict[str, Any]]:
    """A batch with ``s`` in every place an rrweb event can carry text.

    ``with_digit_keepers`` adds the places where digits are kept on purpose (stylesheets,
    classes, URL paths, srcset tokens, style diffs): only e-mails are masked there.
    """
    query = "https://shop.example/p?q=" + s
    keepers: dict[str, Any] = {}
    if with_digit_keepers:
        keepers = {
            "class": s,
            "style": s,
            "id": s,
            "_cssText": s,
            "srcset": s,
            "src": query,
            "poster": query,
            "href": "https://x/" + s,
        }
    page = snapshot(
        el(
            13,
            "h1",
            {
                "title": s,
                "alt": s,
                "aria-label": s,
                "aria-description": s,
                "aria-valuetext": s,
                "label": s,
                "summary": s,
                "placeholder": s,
                "data-x": s,
                "value": s,
                "action": query,
                "cite": query,
                "formaction": query,
                "xlink:href": query,
                **keepers,
            },
            [txt(14, s)],
        ),
        el(20, "input", {"type": "text", "value": s}),
        el(21, "input", {"type": "submit", "value": s}),
        el(23, "input", {"type": "password", "value": s}),
        el(25, "textarea", {"value": s}, [txt(26, s)]),
        el(28, "select", {"value": s}, [el(29, "option", {"value": s, "label": s}, [txt(30, s)])]),
        el(40, "div", {"contenteditable": "true"}, [txt(41, s)]),
        el(42, "div", {"data-recording-ignore": "mask"}, [txt(43, s)]),
        {"type": 5, "id": 48, "textContent": s},
        {"type": 4, "id": 49, "textContent": s},
        el(50, "li", {"value": s}),
        head=[el(5, "title", {}, [txt(6, s)]), el(7, "meta", {"content": s, "name": "x"})]
        + ([el(8, "style", {}, [txt(9, s, isStyle=True)])] if with_digit_keepers else []),
    )
    change_attributes: dict[str, Any] = {
        "value": s,
        "title": s,
        "data-y": s,
        "content": s,
        "href": query,
    }
    if with_digit_keepers:
        change_attributes.update({"class": s, "style": {"color": s, "font": [s, "important"]}})
    change = mutation(
        adds=[
            {"parentId": 12, "nextId": None, "node": el(60, "p", {"title": s}, [txt(61, s)])},
            {"parentId": 40, "nextId": None, "node": txt(62, s)},
            {"parentId": 999, "nextId": None, "node": txt(63, s)},
        ],
        texts=[{"id": 14, "value": s}, {"id": 26, "value": s}, {"id": 999, "value": s}],
        attributes=[
            {"id": 13, "attributes": change_attributes},
            {"id": 999, "attributes": {"value": s}},
        ],
    )
    return [
        meta(query),
        page,
        change,
        typed(20, s),
        typed(23, s),
        typed(999, s),
        {
            "type": 5,
            "data": {
                "tag": "footage.error",
                "payload": {
                    "message": s,
                    "source": "https://shop.example/app.js?v=" + s,
                    "url": query,
                    "href": query,
                    "nested": [{"deep": s}],
                    s: "key",
                },
            },
        },
        {
            "type": 6,
            "data": {
                "plugin": "rrweb/console@1",
                "payload": {"level": "log", "payload": [s], s: 1},
            },
        },
    ] + (
        [  # canvas text: e-mails only, its digits are mostly coordinates
            {
                "type": 3,
                "data": {
                    "source": 9,
                    "id": 5,
                    "commands": [{"property": "fillText", "args": [s, 1, 2]}],
                },
            },
        ]
        if with_digit_keepers
        else []
    )


@settings(max_examples=60, deadline=None)
@given(st.emails(), surrounding, surrounding)
def test_no_email_survives_anywhere(email: str, before: str, after: str) -> None:
    events = scrub_events(everywhere(before + email + after, with_digit_keepers=True), DEFAULT)
    assert email.encode() not in orjson.dumps(events)


@settings(max_examples=60, deadline=None)
@given(digit_strings, surrounding, surrounding)
def test_no_digit_string_survives_anywhere(digits: str, before: str, after: str) -> None:
    events = scrub_events(everywhere(before + digits + after, with_digit_keepers=False), DEFAULT)
    assert digits.encode() not in orjson.dumps(events)


@settings(max_examples=60, deadline=None)
@given(st.emails(), digit_strings, surrounding)
def test_with_forms_on_emails_and_digits_are_still_masked(
    email: str, digits: str, around: str
) -> None:
    events = scrub_events(
        everywhere(around + email + " " + digits, with_digit_keepers=False), FORMS
    )
    dumped = orjson.dumps(events)
    assert email.encode() not in dumped and digits.encode() not in dumped


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.text(max_size=30), st.emails().map(lambda e: "mail " + e + " 123")))
def test_with_everything_recorded_only_passwords_and_ignored_areas_change(s: str) -> None:
    events = everywhere(s, with_digit_keepers=True)
    expected = copy.deepcopy(events)
    scrub_events(events, EVERYTHING)
    masked = mask_all(s)
    attrs(expected[1], 23)["value"] = masked  # the password field
    find(expected[1], 43)["textContent"] = masked  # the ignored area
    expected[4]["data"]["text"] = masked  # typed into the password field
    assert events == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab.-@%40 x_", max_size=16))
def test_the_email_mask_is_every_span_the_pattern_matches(s: str) -> None:
    local = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
    label = r"[A-Za-z0-9-]+"
    pattern = re.compile(local + r"(?:@|%40)" + label + r"(?:\." + label + ")+")
    covered: set[int] = set()
    for i in range(len(s)):
        for j in range(i + 1, len(s) + 1):
            if pattern.fullmatch(s, i, j):
                covered.update(range(i, j))
    masked = mask_text(s, MaskRules(numbers=True))
    assert {i for i, c in enumerate(masked) if c != s[i]} == {i for i in covered if s[i] != "*"}


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.booleans(), st.booleans())
def test_masks_keep_the_length_and_are_idempotent(s: str, numbers: bool, emails: bool) -> None:
    rules = MaskRules(numbers=numbers, emails=emails, all_numbers=True)
    once = mask_text(s, rules)
    assert len(once) == len(s)
    assert mask_text(once, rules) == once
    events = everywhere(s, with_digit_keepers=True)
    scrub_events(events, rules)
    again = copy.deepcopy(events)
    scrub_events(again, rules)
    assert again == events


def test_campaign_parameters_keep_their_digits() -> None:
    url = "https://shop.example/?utm_campaign=black-friday-2026&UTM_Content=v2&order=4711#step=3"
    assert scrub_url(url, DEFAULT) == (
        "https://shop.example/?utm_campaign=black-friday-2026&UTM_Content=v2&order=****#step=*"
    )
