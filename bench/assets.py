"""Bytes over the wire for footage.js, the chat box and every dashboard file, from a real
`footage serve`, as a browser asks for them.

    .venv/bin/python bench/assets.py

For each file: its size as built, and the bytes of the answer's body with `Accept-Encoding`
absent (identity), `gzip`, and `gzip, br` (what every current browser sends); then the whole
answer, headers included, of a page load that revalidates footage.js (`If-None-Match` → 304).
Prints Markdown tables for bench/RESULTS.md and writes bench/out/assets.json.
"""

from __future__ import annotations

import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, footage_server, machine, table, write_json  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "footage" / "web" / "static"
ENCODINGS = {"identity": "identity", "gzip": "gzip", "gzip, br": "gzip, br"}


def body_bytes(http: httpx.Client, path: str, accept: str) -> tuple[int, str]:
    """The body's length as sent (still compressed) and its Content-Encoding."""
    with http.stream("GET", path, headers={"Accept-Encoding": accept}) as r:
        r.raise_for_status()
        sent = sum(len(part) for part in r.iter_raw())
        return sent, r.headers.get("content-encoding", "identity")


def whole_answer(port: int, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """Status and every byte of the answer (status line, headers, body) on one connection."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), len(data)


def files() -> list[tuple[str, str]]:
    """(what it is, address) for every file served by URL."""
    out = [("footage.js (the recorder)", "/footage.js"), ("footage-chat.js", "/footage-chat.js")]
    for path in sorted(STATIC.glob("*.css")):
        out.append((path.name, f"/static/{path.name}"))
    for path in sorted((STATIC / "build").iterdir()):
        if path.suffix in (".js", ".css") and path.name not in ("footage.js", "chat.js"):
            out.append((f"build/{path.name}", f"/static/build/{path.name}"))
    return out


def main() -> None:
    results: dict[str, Any] = {"machine": machine(), "files": []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        footage_server(Path(tmp) / "data", "--no-demo") as server,
    ):
        port = int(server.url.rsplit(":", 1)[1])
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for label, path in files():
                row: dict[str, Any] = {"file": label, "path": path}
                for name, accept in ENCODINGS.items():
                    row[name], row[f"{name} encoding"] = body_bytes(http, path, accept)
                results["files"].append(row)
            first = http.get("/footage.js", headers={"Accept-Encoding": "gzip, br"})
            etag = first.headers["etag"]
        full = whole_answer(port, "/footage.js", {"Accept-Encoding": "gzip, br"})
        again = whole_answer(
            port, "/footage.js", {"Accept-Encoding": "gzip, br", "If-None-Match": etag}
        )
        results["footage.js"] = {
            "first load": full,
            "revalidated": again,
            "cache-control": first.headers["cache-control"],
        }
    rows = [
        [
            f"`{r['file']}`",
            f"{r['identity']:,}",
            f"{r['gzip']:,}",
            f"{r['gzip, br']:,} ({r['gzip, br encoding']})",
            f"{r['gzip, br'] / r['identity']:.2f}",
        ]
        for r in results["files"]
    ]
    print(
        table(
            ["file", "identity", "`gzip`", "`gzip, br`", "`gzip, br` ÷ identity"],
            rows,
        )
    )
    recorder = results["footage.js"]
    print()
    print(
        f"footage.js, the whole answer: first load {recorder['first load'][1]:,} bytes "
        f"({recorder['first load'][0]}); revalidated with If-None-Match "
        f"{recorder['revalidated'][1]:,} bytes ({recorder['revalidated'][0]}); "
        f"Cache-Control: {recorder['cache-control']}"
    )
    print(f"measured: {results['machine']['date']}, code {results['machine']['code']}")
    write_json(OUT / "assets.json", results)


if __name__ == "__main__":
    main()
