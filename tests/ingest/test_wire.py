"""Decoding and validating batches: every bad body gets a clear 4xx, never a crash."""

import gc
import gzip
import json

import pytest

from footage.errors import BadRequest, PayloadTooLarge
from footage.ingest import asgi
from footage.ingest.wire import VisitorInfo, decode_body, gzip_size_hint, parse_batch
from tests.conftest import batch, click, full_snapshot, meta, new_ids
from tests.ingest.fuzzing import members

LIMIT = 20_000_000


def good() -> dict:
    return batch("s_key", new_ids(), 0, [meta(1_000), full_snapshot(1_001), click(1_500)])


def test_gzip_and_plain_json_decode_to_the_same_batch():
    body = good()
    assert decode_body(gzip.compress(json.dumps(body).encode()), LIMIT) == body
    assert decode_body(json.dumps(body).encode(), LIMIT) == body
    parsed = parse_batch(body)
    assert parsed.seq == 0 and len(parsed.events) == 3 and parsed.url == "https://alice.example/"


def test_zip_bomb_stops_at_the_inflated_limit():
    bomb = gzip.compress(b"{" + b" " * 50_000_000 + b"}")
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLarge, match="after decompression"):
        decode_body(bomb, LIMIT)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (gzip.compress(b'{"a": 1}', mtime=0)[:-10], "truncated"),
        (b"\x1f\x8b" + b"garbage" * 10, "not valid gzip"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "neither gzip nor UTF-8"),
        (b"[1, 2]", "must be a JSON object"),
        (b"", "empty"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_bodies_are_400_with_a_message(body, message):
    with pytest.raises(BadRequest, match=message):
        decode_body(body, LIMIT)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seq": -1}, "'seq'"),
        ({"seq": "1"}, "'seq'"),
        ({"session_id": "x"}, "'session_id'"),
        ({"page_id": "../../etc/passwd"}, "'page_id'"),
        ({"events": {}}, "'events'"),
        ({"events": [1]}, r"events\[0\] must be an object"),
        ({"events": [{"type": 9, "timestamp": 1}]}, "rrweb event type"),
        ({"events": [{"type": 3, "timestamp": "x"}]}, "timestamp"),
        ({"site_key": None}, "site_key"),
        ({"left": "yes"}, "'left'"),
        ({"v": 2}, "version"),
        ({"screen": {"width": "big"}}, "screen"),
    ],
)
def test_wrong_fields_are_named_in_the_error(change, message):
    body = {**good(), **change}
    with pytest.raises(BadRequest, match=message):
        parse_batch(body)


def test_bytes_after_the_gzip_stream_are_ignored():
    data = gzip.compress(json.dumps(good()).encode()) + b"tail"
    assert decode_body(data, LIMIT)["seq"] == 0


def test_a_body_of_several_gzip_members_is_their_text_joined():
    body = good()
    text = json.dumps(body).encode()
    head = text.index(b'"events"') + len(b'"events": [')
    assert decode_body(members(text, [head]), LIMIT) == body
    assert decode_body(members(text, [5, head, len(text) - 2]), LIMIT)["seq"] == 0
    assert decode_body(members(text, [head]) + b"tail", LIMIT)["seq"] == 0


def test_members_are_bounded_in_number_size_and_form():
    text = json.dumps(good()).encode()
    with pytest.raises(BadRequest, match="more than 4 gzip members"):
        decode_body(members(text, [1, 2, 3, 4]), LIMIT)
    # The limit counts what every member inflates to, together.
    bomb = members(b"{" + b" " * 30_000_000 + b"}", [15_000_000])
    with pytest.raises(PayloadTooLarge, match="after decompression"):
        decode_body(bomb, LIMIT)
    whole = members(text, [10])
    with pytest.raises(BadRequest, match="truncated"):
        decode_body(whole[:-6], LIMIT)  # the second member cut short
    with pytest.raises(BadRequest, match="not valid gzip"):
        decode_body(gzip.compress(text[:10]) + b"\x1f\x8bbroken member", LIMIT)


T = 1_767_000_000_000  # 2025-12-29


def large_page(elements: int) -> dict:
    """A batch whose snapshot has `elements` elements, each with a child list and a text."""
    page = [
        {"type": 2, "tagName": "li", "attributes": {"class": "item"}, "id": 10 + i,
         "childNodes": [{"type": 3, "textContent": f"Item {i}", "id": 100_000 + i}]}
        for i in range(elements)
    ]  # fmt: skip
    snapshot = full_snapshot(T + 1)
    snapshot["data"]["node"]["childNodes"][0]["childNodes"][0]["childNodes"] = page
    return batch("s_key", new_ids(), 0, [meta(T), snapshot])


def test_a_large_snapshot_is_parsed_without_running_the_cycle_collector(collections):
    # ~60,000 dicts and lists: parsed with the collector on, they would run dozens of
    # collections (one each 700 new objects), some over every object of the server.
    body = gzip.compress(json.dumps(large_page(20_000)).encode())
    gc.collect()
    collections.clear()
    parsed = decode_body(body, LIMIT)
    # At most the one young collection that follows, over what was parsed.
    assert collections in ([], [0]) and gc.isenabled()
    body_node = parsed["events"][1]["data"]["node"]["childNodes"][0]["childNodes"][0]
    assert len(body_node["childNodes"]) == 20_000


def test_the_cycle_collector_is_left_as_it_was(collections):
    with pytest.raises(BadRequest, match="not valid JSON"):
        decode_body(b'{"events": [' + b"{}," * 10_000 + b"}", LIMIT)
    assert gc.isenabled()  # given back on an error too
    gc.disable()
    try:
        decode_body(json.dumps(good()).encode(), LIMIT)
        assert not gc.isenabled()  # off stays off: the caller turned it off
    finally:
        gc.enable()


def test_a_gzip_body_says_what_it_inflates_to():
    data = json.dumps(good()).encode()
    assert gzip_size_hint(gzip.compress(data)) == len(data)
    assert gzip_size_hint(data) == 0
    assert gzip_size_hint(b"\x1f\x8b") == 0  # too short to say anything


def test_a_body_that_inflates_past_the_light_lane_goes_to_the_heavy_one_uninflated(monkeypatch):
    inflated: list[int] = []
    real = asgi.inflate
    monkeypatch.setattr(asgi, "inflate", lambda b, limit: inflated.append(limit) or real(b, limit))
    light = 100_000
    big = gzip.compress(json.dumps(large_page(2_000)).encode())
    assert len(big) < light < gzip_size_hint(big)
    with pytest.raises(asgi._Heavy):
        asgi.decode_light(big, light, T)
    assert inflated == []  # not inflated, then inflated again in the heavy lane
    batch_, size = asgi.decode_batch(big, LIMIT, T)
    assert size == gzip_size_hint(big) and len(batch_.events) == 2
    inflated.clear()
    # A body that says less than it holds is still stopped at the light lane's bound.
    lying = big[:-4] + (100).to_bytes(4, "little")
    with pytest.raises(asgi._Heavy):
        asgi.decode_light(lying, light, T)
    assert inflated == [light]
    with pytest.raises(BadRequest, match="not valid gzip"):
        asgi.decode_batch(lying, LIMIT, T)  # and zlib refuses the wrong size


# --- the optional `visitor` field (footage('identify' | 'name' | 'email' | 'variables')) ---


def test_visitor_is_parsed_with_only_the_fields_sent():
    body = {
        **good(),
        "visitor": {
            "id": "customer-123",
            "name": "  Jane Doe ",
            "email": "Jane@Example.com",
            "variables": {
                "plan": {"label": "Plan", "value": "Gold"},
                "orders": {"label": "Orders", "value": 12},
                "vip": {"value": True},
            },
            "avatar": "https://…",  # unknown sub-fields are ignored
        },
    }
    who = parse_batch(body).visitor
    assert who == VisitorInfo(
        external_id="customer-123",
        name="Jane Doe",
        email="Jane@Example.com",  # as given: compared without regard to case elsewhere
        variables={
            "plan": {"label": "Plan", "value": "Gold"},
            "orders": {"label": "Orders", "value": 12},
            "vip": {"label": "vip", "value": True},  # the key labels a variable without one
        },
    )
    assert parse_batch({**good(), "visitor": {"name": "Ann"}}).visitor == VisitorInfo(name="Ann")
    assert parse_batch({**good(), "visitor": {"id": 42}}).visitor == VisitorInfo(external_id="42")


@pytest.mark.parametrize("visitor", [None, {}, {"name": "  "}, {"avatar": "x"}, {"variables": {}}])
def test_a_visitor_that_says_nothing_is_none(visitor):
    assert parse_batch({**good(), "visitor": visitor}).visitor is None
    assert parse_batch(good()).visitor is None


@pytest.mark.parametrize(
    ("visitor", "message"),
    [
        ("Jane", r"'visitor' must be an object"),
        ({"name": 7}, r"'visitor.name' must be a string of at most 200"),
        ({"email": "a" * 201}, r"'visitor.email' must be a string of at most 200"),
        ({"id": True}, r"'visitor.id' must be a string or a whole number"),
        ({"id": "x" * 201}, r"'visitor.id'"),
        ({"variables": []}, r"'visitor.variables' must be an object"),
        ({"variables": {f"k{i}": {"value": i} for i in range(51)}}, r"at most 50 variables"),
        ({"variables": {"": {"value": 1}}}, r"keys of 'visitor.variables'"),
        ({"variables": {"plan": "Gold"}}, r"'visitor.variables.plan' must be an object"),
        ({"variables": {"plan": {"value": None}}}, r"'visitor.variables.plan.value' must be"),
        ({"variables": {"plan": {"value": [1]}}}, r"'visitor.variables.plan.value' must be"),
        ({"variables": {"plan": {"value": "x" * 501}}}, r"at most 500 characters"),
        ({"variables": {"plan": {"label": 3, "value": 1}}}, r"'visitor.variables.plan.label'"),
        ({"variables": {"p": {"label": "x" * 101, "value": 1}}}, r"at most 100 characters"),
    ],
)
def test_a_wrong_visitor_field_is_named_in_the_error(visitor, message):
    with pytest.raises(BadRequest, match=message) as err:
        parse_batch({**good(), "visitor": visitor})
    assert err.value.code == "bad_field"


def test_visitor_values_lose_nul_characters():
    who = parse_batch(
        {**good(), "visitor": {"name": "Ja\x00ne", "variables": {"a": {"value": "x\x00y"}}}}
    ).visitor
    assert who is not None and who.name == "Jane" and who.variables["a"]["value"] == "xy"
