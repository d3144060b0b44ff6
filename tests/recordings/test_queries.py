"""The read side's pages of a recording, on every backend."""

from __future__ import annotations

from footage.accounts.service import NewAccount
from footage.app import Services
from footage.clock import FrozenClock
from footage.recordings.queries import get_recording, pages_of
from tests.conftest import full_snapshot, meta, new_ids
from tests.sessions.test_finalizer import send


def visit(svc: Services, alice: NewAccount, clock: FrozenClock, pages: int) -> str:
    """A ready recording of `pages` page views, /p0 first, a second apart."""
    ids, t, recording_id = new_ids(), clock.now_ms(), None
    for i in range(pages):
        page = {**ids, "page_id": f"pag-{i}-{ids['page_id'][-12:]}"}
        url = f"https://alice.example/p{i}"
        at = t + i * 1000
        accepted = send(
            svc, alice.site_key, page, 0, [meta(at, url), full_snapshot(at + 1)], url=url, left=True
        )
        recording_id = accepted.recording_id
    clock.advance(pages + 11)
    assert svc.finalizer.run_once() == 1
    assert recording_id is not None
    return recording_id


def test_pages_of_reads_the_first_pages_of_each_recording(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    """The dashboard's list shows where each visit entered, the player a visit's first 50
    pages: neither reads the hundreds of pages of a long visit."""
    long, short = visit(svc, alice, clock, 7), visit(svc, alice, clock, 2)
    every = pages_of(svc.db, [long, short])
    assert [p["url"][-3:] for p in every[long]] == [f"/p{i}" for i in range(7)]
    first = pages_of(svc.db, [long, short], first=3)
    assert first == {long: every[long][:3], short: every[short]}
    assert pages_of(svc.db, [long, short], first=1) == {
        long: every[long][:1],
        short: every[short][:1],
    }

    item = get_recording(svc.db, alice.account_id, long, first_pages=3)
    assert [p["url"][-3:] for p in item["pages"]] == ["/p0", "/p1", "/p2"]
    assert item["pages_total"] == 7 == item["page_count"]
    # Without the bound, as the API shows a recording: every page, no total beside them.
    item = get_recording(svc.db, alice.account_id, long)
    assert len(item["pages"]) == 7 and "pages_total" not in item
