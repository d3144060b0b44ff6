"""Decoding and validating batches: every bad body gets a clear 4xx, never a crash."""

import gzip
import json

import pytest

from footage.errors import BadRequest, PayloadTooLarge
from footage.ingest.wire import decode_body, parse_batch
from tests.conftest import batch, click, full_snapshot, meta, new_ids

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
        (gzip.compress(b'{"a": 1}')[:-10], "truncated"),
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
