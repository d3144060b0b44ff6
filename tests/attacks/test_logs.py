"""Whoever reads the server's log cannot open a share link or use an API token from it
(footage/logs.py): `footage serve` at log level info prints every request, with share tokens,
secret query values and API tokens redacted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.server import Probe, ServedFootage, serve
from tests.conftest import wait_for
from tests.downloads.recording import record, wait_ready


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[ServedFootage]:
    served = serve(tmp_path, database_url, log_level="info")
    try:
        yield served
    finally:
        served.stop()


def test_share_tokens_and_api_tokens_never_reach_the_log(served: ServedFootage) -> None:
    alice = served.alice
    auth = {"Authorization": f"Bearer {alice.api_token}"}
    with Probe(served) as probe, served.client() as http:
        rid = record(http, alice)
        wait_ready(http, alice, rid)
        r = http.post(
            f"/api/v1/recordings/{rid}/share-links", json={"expires_in": "7d"}, headers=auth
        )
        assert r.status_code == 201, r.text
        path = r.json()["path"]
        token = path.rsplit("/", 1)[1]
        assert len(token) >= 40
        assert http.get(path).status_code == 200
        assert http.get(f"{path}/events.json").status_code == 200
        # Secrets where a careless client puts them: the query string.
        http.get(f"/api/v1/recordings?token={alice.api_token}&api_token={alice.api_token}")
        http.get(f"/share/{token}?secret={token}")
        wait_for(lambda: "/events.json" in served.log() and "secret=" in served.log())
    log = served.log()
    assert served.alive()
    assert '"GET /share/[redacted] HTTP/1.1" 200' in log, log[-2000:]
    assert '"GET /share/[redacted]/events.json HTTP/1.1" 200' in log
    assert "token=[redacted]&api_token=[redacted]" in log
    assert token not in log
    assert alice.api_token not in log
    assert alice.api_token.split("_", 1)[1] not in log
    probe.assert_answered_within(0.5)
