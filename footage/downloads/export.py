"""What a download holds: the stored events as JSON, or one HTML file that plays them offline.

Both hold only what was stored, so the masks applied while recording hold in the file too. The
HTML file carries the recording's date, duration and pages, never who the visitor was (no name,
e-mail, IP or visitor id): a downloaded file travels, and outlives the retention period.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from footage.accounts import audit
from footage.errors import BadRequest, Conflict, FootageError, NotFound
from footage.recordings.queries import get_recording, iter_events_json
from footage.store.blobs import BlobStore
from footage.store.db import Database

FORMATS = ("html", "json", "mp4")
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "mp4": "video/mp4",
}
ACTION = "recording.downloaded"

BUILD = Path(__file__).resolve().parents[1] / "web" / "static" / "build"
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

# Opened from disk, the file may load nothing: no fonts, no scripts, no images of the recorded
# site (which would also tell that site who watches the recording). The replay iframe is
# about:blank and inherits this policy.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; media-src data:; base-uri 'none'; form-action 'none'"
)


class PlayerNotBuilt(FootageError):
    status, code = 503, "player_not_built"


def check_format(value: str | None) -> str:
    """The format asked for, or a 400 that names the allowed ones."""
    fmt = (value or "").strip().lower()
    if fmt not in FORMATS:
        raise BadRequest(
            f"'format' must be one of {', '.join(FORMATS)} (got {value!r})", code="bad_format"
        )
    return fmt


def downloadable(db: Database, account_id: str, recording_id: str) -> dict[str, Any]:
    """The account's recording as the API shows it, if it is ready; 404 for another account's
    recording, 409 while it is still being recorded or finished."""
    row = db.one(
        "SELECT status FROM recordings WHERE id = :id AND account_id = :a",
        {"id": recording_id, "a": account_id},
    )
    if row is None:
        raise NotFound("no such recording", code="recording_not_found")
    if row["status"] != "ready":
        raise Conflict(
            f"the recording is not ready yet (it is {row['status']}): the visitor is still on "
            "the site or it is being finished; it can be downloaded once it is ready, usually "
            "within a minute after the visitor leaves",
            code="recording_not_ready",
        )
    return get_recording(db, account_id, recording_id)


def filename(recording: dict[str, Any], fmt: str) -> str:
    """`recording-2026-11-29-1405-r_abc.html`: when it started (UTC), then its id."""
    started = datetime.fromisoformat(str(recording["started_at"]).replace("Z", "+00:00"))
    stamp = started.astimezone(UTC).strftime("%Y-%m-%d-%H%M")
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "", str(recording["id"]))
    return f"recording-{stamp}-{safe_id}.{fmt}"


def disposition(name: str) -> str:
    return f'attachment; filename="{name}"'


def events_json(db: Database, blobs: BlobStore, recording_id: str, progress: Any = None) -> bytes:
    """The stored events as one JSON array (what the player and the API's /events read)."""
    parts: list[bytes] = []
    pieces = iter_events_json(db, blobs, recording_id)
    for part in _counted(pieces, progress):
        parts.append(part)
    return b"".join(parts)


def _counted(parts: Iterator[bytes], progress: Any) -> Iterator[bytes]:
    total = 0
    for part in parts:
        total += len(part)
        if progress is not None:
            progress(total)
        yield part


def script_json(data: bytes) -> str:
    """JSON that is safe inside <script type="application/json">: recorded text cannot close the
    tag or open a comment, because every <, > and & is written as a \\u escape (still the
    same JSON)."""
    text = data.decode("utf-8")
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    path = BUILD / name
    if not path.exists():
        raise PlayerNotBuilt(
            f"the player is not built ({name} is missing); run scripts/install, which builds "
            "web/ with esbuild"
        )
    return path.read_text("utf-8")


def _inline_script(code: str) -> str:
    # `</script` inside the bundle's strings would end the element; `<\/` is the same string.
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def html_file(
    recording: dict[str, Any], events: bytes, *, for_video: bool = False, max_ms: int = 0
) -> bytes:
    """One HTML file with the player (JS and CSS inlined) and the events; plays offline.

    `for_video` swaps the player for the frame renderer the MP4 job drives (no controls), which
    shows no more than `max_ms` of the recording (0: all of it).
    """
    template = _templates.get_template("video.html" if for_video else "recording.html")
    started = str(recording["started_at"] or "")
    page = template.render(
        rec=recording,
        started=started[:16].replace("T", " "),
        duration=_duration(recording["duration_ms"]),
        pages=[
            {"url": p["url"], "title": p["title"], "offset_ms": p["offset_ms"] or 0}
            for p in recording["pages"]
        ],
        csp=CSP,
        css=re.sub(r"</(style)", r"<\\/\1", _asset("player.css"), flags=re.IGNORECASE),
        script=_inline_script(_asset("frames.js" if for_video else "player.js")),
        events=script_json(events),
        max_ms=int(max_ms),
    )
    return page.encode("utf-8")


def _duration(ms: int | None) -> str:
    seconds = int((ms or 0) // 1000)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def log_download(
    db: Database,
    account_id: str,
    actor: str,
    recording_id: str,
    fmt: str,
    size: int,
    via: str,
    at: int,
) -> None:
    """One audit entry per download: which recording, which format, how big, through what."""
    detail = {"recording_id": recording_id, "format": fmt, "bytes": size, "via": via}
    with db.write() as conn:
        audit.record(conn, account_id, actor, ACTION, detail, at=at)


def parse_events(data: bytes) -> list[dict[str, Any]]:
    events = json.loads(data)
    return events if isinstance(events, list) else []
