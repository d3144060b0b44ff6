"""Video render speed: seconds of video made per second of rendering, on the captured visit.

Starts `footage serve --no-demo` (1 s leave grace), replays the visit captured by capture.py
as one visitor, waits until the recording is ready, stops the server, then times
`footage export ID --format mp4` — the command renders the video itself, in headless Chromium
stepped frame by frame and ffmpeg, exactly as the render job does — once at the recording's
real duration and once with --skip-inactivity.

    .venv/bin/python bench/video.py [--width 1280]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from common import (
    OUT,
    REPO,
    BenchError,
    _child_env,
    create_account,
    footage_cmd,
    footage_server,
    load_captured,
    machine,
    make_visitor,
    prepare_visit,
    replay_visitor,
    table,
    wait_for_ready_count,
    write_json,
)


def ffprobe_seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip())


def export(data_dir: Path, recording_id: str, out: Path, width: int, skip: bool) -> float:
    """Runs `footage export … --format mp4`; returns its wall-clock seconds."""
    cmd = footage_cmd(
        "export",
        recording_id,
        "--format",
        "mp4",
        "--width",
        str(width),
        "-o",
        str(out),
        "--data-dir",
        str(data_dir),
        *(["--skip-inactivity"] if skip else []),
    )
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=_child_env())
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise BenchError(f"`footage export` failed:\n{done.stdout}{done.stderr}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    visit = prepare_visit(load_captured())
    with tempfile.TemporaryDirectory(prefix="footage-bench-video-") as tmp:
        data_dir = Path(tmp) / "data"
        account = create_account(data_dir)
        flags = ("--no-demo", "--leave-grace-seconds", "1", "--finalizer-interval-seconds", "0.5")
        with footage_server(data_dir, *flags) as server:
            visitor = make_visitor(visit, account["site_key"])

            async def send() -> Any:
                async with httpx.AsyncClient(timeout=60) as client:
                    return await replay_visitor(
                        client, f"{server.url}/api/v1/ingest", visitor.bodies
                    )

            replayed = asyncio.run(send())
            if replayed.problems or len(replayed.recording_ids) != 1:
                raise BenchError(f"the visit was not stored as one recording: {replayed.problems}")
            [item] = wait_for_ready_count(server.url, account["api_token"], 1, timeout=60)
        rows, figures = [], []
        for skip in (False, True):
            out = OUT / f"video-{'skip' if skip else 'real'}.mp4"
            seconds = export(data_dir, item["id"], out, args.width, skip)
            video = ffprobe_seconds(out)
            figures.append(
                {
                    "skip_inactivity": skip,
                    "recording_s": item["duration_ms"] / 1000,
                    "video_s": video,
                    "render_s": seconds,
                    "video_s_per_render_s": video / seconds,
                    "bytes": out.stat().st_size,
                }
            )
            rows.append(
                [
                    "on" if skip else "off",
                    f"{item['duration_ms'] / 1000:.1f}",
                    f"{video:.1f}",
                    f"{seconds:.1f}",
                    f"{video / seconds:.2f}",
                    f"{out.stat().st_size / 1e6:.2f}",
                ]
            )
    print(f"width {args.width} px, 10 frames per second of video")
    print(
        table(
            [
                "skip inactivity",
                "recording s",
                "video s",
                "render s (wall)",
                "video s / render s",
                "MB",
            ],
            rows,
        )
    )
    write_json(OUT / "video.json", {"machine": machine(), "width": args.width, "runs": figures})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/video.py: {exc}", file=sys.stderr)
        sys.exit(1)
