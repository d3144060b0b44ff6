"""`footage export ID --format html|json|mp4 -o FILE`: a recording into a file, with a progress
bar on stderr. Works directly on the configured database and blob store (no server needed); an
MP4 is rendered right here unless a worker already renders or rendered it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from footage import bootstrap
from footage.clock import Clock
from footage.commands import Command, register
from footage.downloads import videos
from footage.downloads.export import FORMATS, events_json, filename, html_file, log_download
from footage.errors import FootageError

SETTING_FLAGS = ["data_dir", "database_url", "blob_url", "log_level"]
ACTOR = "cli"


class ProgressBar:
    """`[##########----------]  50 % rendering video` on stderr: redrawn in place on a
    terminal, one line per 10 % step otherwise (logs, CI)."""

    def __init__(self, label: str, out: TextIO | None = None, width: int = 30) -> None:
        self.label, self.out, self.width = label, out or sys.stderr, width
        self.tty = self.out.isatty()
        self.shown = -1

    def update(self, percent: int) -> None:
        percent = max(0, min(100, percent))
        if percent == self.shown or (not self.tty and percent // 10 == self.shown // 10):
            return
        self.shown = percent
        filled = self.width * percent // 100
        bar = f"[{'#' * filled}{'-' * (self.width - filled)}] {percent:3d} % {self.label}"
        self.out.write(f"\r{bar}" if self.tty else f"{bar}\n")
        self.out.flush()

    def done(self) -> None:
        self.update(100)
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recording, the format and the file."""
    parser.add_argument("recording_id", metavar="ID", help="the recording's id")
    parser.add_argument("--format", choices=FORMATS, default="html", help="default: html")
    parser.add_argument(
        "-o", "--output", help="the file to write (default: recording-<date>-<id>.<format>)"
    )
    parser.add_argument("--width", type=int, default=videos.DEFAULT_WIDTH, help="mp4: pixels")
    parser.add_argument(
        "--skip-inactivity", action="store_true", help="mp4: cut idle stretches longer than 5 s"
    )


def run(args: argparse.Namespace) -> int:
    """`footage export`: 0 when the file is written, 1 when the recording cannot be."""
    settings = bootstrap.load_settings(args)
    bootstrap.setup_logging(settings)
    clock = Clock()
    with bootstrap.storage(settings) as stored:
        db, blobs = stored.db, stored.blobs
        row = db.one("SELECT account_id FROM recordings WHERE id = :id", {"id": args.recording_id})
        if row is None:
            print(f"footage: error: no recording {args.recording_id!r}", file=sys.stderr)
            return 1
        try:
            written = export(db, blobs, clock, row["account_id"], args, settings)
        except FootageError as exc:
            print(f"footage: error: {exc.message}", file=sys.stderr)
            return 1
    print(f"wrote {written[0]} ({written[1]:,} bytes)")
    return 0


def export(
    db: Any, blobs: Any, clock: Any, account_id: str, args: Any, settings: Any = None
) -> tuple[Path, int]:
    from footage.downloads.export import downloadable

    recording = downloadable(db, account_id, args.recording_id)
    out = Path(args.output or filename(recording, args.format))
    if args.format == "mp4":
        options = videos.VideoOptions.parse(args.width, bool(args.skip_inactivity))
        data = _video(db, blobs, clock, account_id, args.recording_id, options, settings)
    else:
        bar = ProgressBar("reading events")
        total = max(1, _stored_bytes(db, args.recording_id))
        events = events_json(
            db, blobs, args.recording_id, lambda n: bar.update(min(99, n * 100 // total))
        )
        data = events if args.format == "json" else html_file(recording, events)
        bar.done()
    out.write_bytes(data)
    log_download(
        db, account_id, ACTOR, args.recording_id, args.format, len(data), "cli", clock.now_ms()
    )
    return out, len(data)


def _stored_bytes(db: Any, recording_id: str) -> int:
    """About how many bytes the events are: the decompressed size is not stored, so the bar
    follows the compressed size times a typical ratio and the last step jumps to 100 %."""
    row = db.one(
        "SELECT SUM(blob_length) AS n FROM chunks WHERE recording_id = :id", {"id": recording_id}
    )
    return int((row or {}).get("n") or 0) * 8


def _video(
    db: Any,
    blobs: Any,
    clock: Any,
    account_id: str,
    recording_id: str,
    options: Any,
    settings: Any = None,
) -> bytes:
    """The stored video, rendering it here first if nobody has (or is)."""
    from footage.downloads.render import check_tools
    from footage.downloads.renderer import VideoRenderer

    job = videos.find(db, account_id, recording_id, options)
    bar = ProgressBar("rendering video")
    if job is None or job["status"] != "ready":
        check_tools()
        job = videos.request(db, account_id, recording_id, options, ACTOR, clock.now_ms())
        claimed = videos.claim(db, clock.now_ms(), job_id=job["id"])
        if claimed is not None:
            VideoRenderer(db, blobs, clock, settings).render(claimed, progress=bar.update)
        while True:  # rendered here, or by a worker that had it already
            job = videos.find(db, account_id, recording_id, options)
            assert job is not None
            if job["status"] in ("ready", "failed"):
                break
            bar.update(int(job["progress"]))
            time.sleep(0.5)
        if job["status"] == "failed":
            raise FootageError(f"the video could not be rendered: {job['error']}")
    bar.done()
    return b"".join(
        blobs.get(job["blob_key"], offset, min(1 << 20, int(job["size"]) - offset))
        for offset in range(0, int(job["size"]), 1 << 20)
    )


register(
    Command(
        "export",
        "write a recording to a file: html (plays offline), json (rrweb events) or mp4",
        run,
        add_arguments,
        settings=SETTING_FLAGS,
        description="Write one ready recording to a file. html: one file with the player that "
        "plays offline; json: the rrweb events; mp4: a video (needs chromium and ffmpeg).",
    )
)
