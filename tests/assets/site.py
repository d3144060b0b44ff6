"""A customer's site for the kept-assets tests: real HTTP on a loopback port of its own."""

from __future__ import annotations

import http.server
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from footage.accounts.service import NewAccount
from footage.ingest.wire import parse_batch
from footage.ingest.writer import Visit
from tests.conftest import LiveServer, batch, click, free_port, full_snapshot, meta, new_ids


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A one-colour PNG."""
    row = b"\x00" + bytes(rgb) * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@contextmanager
def serve_site(
    files: dict[str, tuple[str, bytes]],
    hits: list[str] | None = None,
    headers: dict[str, dict[str, str]] | None = None,
    members_only: frozenset[str] = frozenset(),
) -> Iterator[str]:
    """`files` (path → type and body, changeable while serving) on a loopback port; yields
    the site's origin. Each request's path is appended to `hits`; `headers` adds headers per
    path (default `Cache-Control: no-store`); a path in `members_only` answers 403 to a
    request without the cookie `member=1` (what a logged-in visitor has, and Footage not)."""

    class Site(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            if hits is not None:
                hits.append(self.path)
            found = files.get(self.path)
            if found is None:
                self.send_error(404)
                return
            if self.path in members_only and "member=1" not in (self.headers["Cookie"] or ""):
                self.send_error(403)
                return
            self.send_response(200)
            self.send_header("Content-Type", found[0])
            self.send_header("Content-Length", str(len(found[1])))
            extra = {"Cache-Control": "no-store", **(headers or {}).get(self.path, {})}
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(found[1])

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Site)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def page_using(origin: str, ts: int, *paths: str) -> list[dict[str, Any]]:
    """A page's first events: its snapshot has an image per path and a stylesheet link."""
    images = [
        {
            "type": 2,
            "tagName": "img",
            "attributes": {"src": origin + p},
            "id": 10 + i,
            "childNodes": [],
        }
        for i, p in enumerate(paths)
        if not p.endswith(".css")
    ]
    links = [
        {
            "type": 2,
            "tagName": "link",
            "attributes": {"rel": "stylesheet", "href": origin + p},
            "id": 50 + i,
            "childNodes": [],
        }
        for i, p in enumerate(paths)
        if p.endswith(".css")
    ]
    snapshot = full_snapshot(ts)
    body = snapshot["data"]["node"]["childNodes"][0]["childNodes"][0]
    body["childNodes"] += links + images
    return [meta(ts, href=origin + "/"), snapshot, click(ts + 10)]


def visit_site(
    server: LiveServer,
    account: NewAccount,
    origin: str,
    *paths: str,
    ids: dict[str, str] | None = None,
) -> str:
    """One visitor's page using these paths of the site; returns the recording's id."""
    svc = server.services
    svc.db.run(
        "UPDATE sites SET allowed_origins = :o WHERE id = :s", {"o": origin, "s": account.site_id}
    )
    svc.ingest.forget_site(account.site_key)
    events = page_using(origin, svc.clock.now_ms() - 1_000, *paths)
    visit = Visit(origin=origin, server_origin=server.url, ip="198.51.100.7", user_agent="")
    accepted = svc.ingest.accept(
        parse_batch(batch(account.site_key, ids or new_ids(), 0, events, url=origin + "/")), visit
    )
    assert accepted.recording_id
    return accepted.recording_id
