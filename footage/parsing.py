"""JSON parsed with Python's cycle collector held off: recorder batches and stored events.

A large page's snapshot parses into about 100,000 dicts and lists, a long recording into
millions, and each counts toward the collector's thresholds: parsing one snapshot ran dozens
of collections, some over every object of the server (its framework, its database layer, the
other batches in flight). In `footage serve` that made a 650 KB snapshot take 16 ms to parse
instead of 3 (bench/snapshot_ingest.py). Parsed JSON holds no cycle, so those collections
have nothing to find in it. The collector's state is given back as it was, also when the
JSON is refused; a caller that turned it off keeps it off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import Any

import orjson


def parse_json(raw: bytes | str) -> Any:
    """orjson.loads with the cycle collector held off while it runs."""
    if not gc.isenabled():
        return orjson.loads(raw)
    gc.disable()
    try:
        return orjson.loads(raw)
    finally:
        gc.enable()


def parse_lines(lines: Iterable[bytes]) -> list[Any]:
    """Each line parsed as one JSON value (a chunk's events), the collector held off once
    for them all."""
    if not gc.isenabled():
        return [orjson.loads(line) for line in lines]
    gc.disable()
    try:
        return [orjson.loads(line) for line in lines]
    finally:
        gc.enable()
