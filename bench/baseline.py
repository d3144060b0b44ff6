"""The bare baseline for bench/ingest.py: the same stack as Footage (FastAPI on uvicorn, same
uvicorn options and info-level access log), with a POST /api/v1/ingest that only reads the
body and appends it to a file — with `--fsync`, fsynced before answering, as Footage does
before it acknowledges a batch. `--workers N` runs N uvicorn worker processes, like
`footage serve --workers N`.

    .venv/bin/python bench/baseline.py --port 8001 --file /some/dir/bodies.bin [--fsync]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

FILE_ENV, FSYNC_ENV = "BENCH_BASELINE_FILE", "BENCH_BASELINE_FSYNC"


class Sink:
    """One file opened for appending; each body is one write (and one fsync if asked)."""

    def __init__(self, path: str, fsync: bool) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.fsync = fsync
        self.lock = threading.Lock()

    def append(self, body: bytes) -> None:
        with self.lock:
            os.write(self.fd, len(body).to_bytes(4, "big") + body)
        if self.fsync:
            os.fsync(self.fd)


def create_app(sink: Sink) -> FastAPI:
    app = FastAPI(title="bench baseline")

    @app.post("/api/v1/ingest")
    async def ingest(request: Request) -> Response:
        body = await request.body()
        # Blocking file I/O off the event loop, as Footage does with its write path.
        await run_in_threadpool(sink.append, body)
        return JSONResponse({"ok": True})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_from_env() -> FastAPI:
    """App factory for --workers: each worker process opens the file itself."""
    return create_app(Sink(os.environ[FILE_ENV], os.environ.get(FSYNC_ENV) == "1"))


def main() -> None:
    parser = argparse.ArgumentParser(description="bare ingest baseline for bench/ingest.py")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True, help="file the bodies are appended to")
    parser.add_argument("--fsync", action="store_true", help="fsync after every body")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    # The same uvicorn.run options as `footage serve` (footage/cli.py).
    options = {
        "host": args.host,
        "port": args.port,
        "log_level": "info",
        "proxy_headers": True,
        "timeout_graceful_shutdown": 30,
    }
    if args.workers > 1:
        os.environ.update({FILE_ENV: args.file, FSYNC_ENV: "1" if args.fsync else "0"})
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        uvicorn.run("baseline:app_from_env", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(create_app(Sink(args.file, args.fsync)), **options)


if __name__ == "__main__":
    main()
