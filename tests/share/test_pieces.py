"""The share page plays in pieces through its own token's URLs: only its recording, the share
page's headers, revalidated on every view (a revoked link stops them), and the one 404."""

from __future__ import annotations

import json

from tests.share.conftest import PAGE_TEXT, Shared
from tests.share.test_page import UNKNOWN, token


def test_the_share_page_reads_its_own_recordings_pieces(shared: Shared) -> None:
    t = token(shared)
    with shared.server.client() as http:
        page = http.get(f"/share/{t}")
        assert f'data-pieces-url="/share/{t}/pieces"' in page.text
        index = http.get(f"/share/{t}/pieces")
        assert index.status_code == 200
        body = index.json()
        assert body["piece_url"] == f"/share/{t}/pieces/{{n}}"
        assert [p["n"] for p in body["pieces"]] == [0]
        piece = http.get(f"/share/{t}/pieces/0", headers={"Accept-Encoding": "zstd"})
        assert piece.headers["content-encoding"] == "zstd"
        events = [json.loads(line) for line in piece.content.split(b"\n") if line]
        assert [e["type"] for e in events] == [4, 2, 3, 3] and PAGE_TEXT in piece.text
        for answer in (index, piece):
            assert answer.headers["cache-control"] == "private, no-cache"
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert "set-cookie" not in answer.headers
        # Nothing in the index names the recording's owner: its id is the only link to it.
        assert shared.alice.site_key not in index.text and "Alice" not in index.text
        again = http.get(
            f"/share/{t}/pieces/0",
            headers={"Accept-Encoding": "zstd", "If-None-Match": piece.headers["etag"]},
        )
        assert again.status_code == 304


def test_pieces_of_a_link_that_does_not_work_are_the_one_404(shared: Shared) -> None:
    t, revoked = token(shared), shared.create().json()
    with shared.api() as http:
        assert http.delete(f"/api/v1/share-links/{revoked['id']}").status_code == 204
    gone = revoked["url"].rsplit("/", 1)[1]
    with shared.server.client() as http:
        answers = set()
        for path in (
            f"/share/{UNKNOWN}/pieces",
            f"/share/{UNKNOWN}/pieces/0",
            f"/share/{gone}/pieces",
            f"/share/{gone}/pieces/0",
            f"/share/{t}/pieces/1",
            f"/share/{t}/pieces/-1",
            f"/share/{t}/pieces/x",
        ):
            r = http.get(path)
            answers.add((r.status_code, r.headers["content-type"], r.content))
    assert len(answers) == 1
    status, content_type, body = answers.pop()
    assert status == 404 and content_type.startswith("text/html")
    assert b"This link does not work" in body
