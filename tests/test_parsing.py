"""JSON parsed with the cycle collector held off (footage/parsing.py)."""

import gc

import orjson
import pytest

from footage.parsing import parse_json, parse_lines


def event_lines(n: int) -> list[bytes]:
    """n stored events, each a few dicts and lists (a DOM change)."""
    return [
        orjson.dumps(
            {"type": 3, "timestamp": 1_767_000_000_000 + i,
             "data": {"source": 0, "texts": [], "removes": [],
                      "attributes": [{"id": i, "attributes": {"class": "open"}}],
                      "adds": [{"parentId": 5, "nextId": None,
                                "node": {"type": 2, "tagName": "li", "attributes": {},
                                         "childNodes": [], "id": 100_000 + i}}]}}
        )
        for i in range(n)
    ]  # fmt: skip


def test_many_lines_are_parsed_without_running_the_cycle_collector(collections):
    lines = event_lines(20_000)  # ~160,000 dicts and lists: hundreds of young collections
    gc.collect()
    collections.clear()
    events = parse_lines(lines)
    # At most the one young collection that follows, over what was parsed.
    assert collections in ([], [0]) and gc.isenabled()
    assert len(events) == 20_000 and events[-1]["data"]["adds"][0]["node"]["id"] == 119_999


def test_the_cycle_collector_is_left_as_it_was(collections):
    with pytest.raises(orjson.JSONDecodeError):
        parse_lines([b'{"type": 3}', b'{"type": '])
    with pytest.raises(orjson.JSONDecodeError):
        parse_json(b"[" * 2_000 + b"]" * 2_000)  # deeper than orjson reads
    assert gc.isenabled()  # given back on an error too
    gc.disable()
    try:
        assert parse_lines([b"[1]", b'{"a": 2}']) == [[1], {"a": 2}]
        assert parse_json(b'{"a": [1, 2]}') == {"a": [1, 2]}
        assert not gc.isenabled()  # off stays off: the caller turned it off
    finally:
        gc.enable()


def test_values_read_as_they_were_written():
    value = {"text": "Žluťoučký kůň 🐎", "n": -1.5e-7, "big": 2**63 - 1, "none": None}
    assert parse_lines([orjson.dumps(value)] * 2) == [value, value]
    assert parse_json(orjson.dumps(value).decode()) == value
