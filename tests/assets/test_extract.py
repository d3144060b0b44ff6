"""The assets' addresses read from a batch: whatever a client puts where rrweb puts a list is
skipped, never a failed batch."""

import pytest

from footage.assets.extract import asset_urls
from footage.rrweb import (
    ADOPTED_STYLE_SHEET,
    FULL_SNAPSHOT,
    INCREMENTAL,
    MUTATION,
    STYLE_SHEET_RULE,
)

IMAGE = "https://alice.example/shoe.png"


def mutation(**data):
    return {"type": INCREMENTAL, "timestamp": 1, "data": {"source": MUTATION, **data}}


@pytest.mark.parametrize("wrong", [1.5, 7, True, "adds", {"node": {}}])
@pytest.mark.parametrize(
    "event",
    [
        lambda w: mutation(adds=w),
        lambda w: mutation(attributes=w),
        lambda w: {"type": INCREMENTAL, "timestamp": 1,
                   "data": {"source": STYLE_SHEET_RULE, "adds": w, "rules": w}},
        lambda w: {"type": INCREMENTAL, "timestamp": 1,
                   "data": {"source": ADOPTED_STYLE_SHEET, "styles": w}},
        lambda w: {"type": INCREMENTAL, "timestamp": 1,
                   "data": {"source": ADOPTED_STYLE_SHEET, "styles": [{"adds": w}]}},
        lambda w: {"type": FULL_SNAPSHOT, "timestamp": 1, "data": {"node": w}},
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_type_holds_no_address(event, wrong):
    image = mutation(adds=[{"node": {"type": 2, "tagName": "img", "attributes": {"src": IMAGE}}}])
    assert asset_urls([event(wrong), image]) == [IMAGE]
