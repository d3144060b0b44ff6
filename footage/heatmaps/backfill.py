"""Heatmaps for recordings stored before heatmaps existed, or analysed by an older version.

The finalizer analyses every recording it makes ready. A ready recording whose `analysed` is
below ANALYSIS_VERSION — kept from before this feature, or from an older analysis — is
analysed here, in the background jobs of `footage serve` and `footage worker`: newest first, a
few dozen per pass and at most ~2 s of work, so the finalizer is never kept waiting. So
heatmaps cover everything still within the retention period, without extra tracking.

Several processes may pick the same recording: the write re-checks `analysed` in its
transaction and the second one writes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from footage.heatmaps import store
from footage.heatmaps.analysis import ANALYSIS_VERSION, analyse_safely
from footage.recordings.queries import events_of
from footage.sessions.moments import insert_moments, name_moments
from footage.signals import SIGNAL_KINDS
from footage.store.blobs import BlobStore
from footage.store.db import Database, q

log = logging.getLogger(__name__)

BATCH = 50
BUDGET_SECONDS = 2.0
# rage clicks are the summary's moments; the others are written by the analysis
ANALYSIS_KINDS = tuple(k for k in SIGNAL_KINDS if k != "rage_click")


def run_once(
    db: Database, blobs: BlobStore, should_stop: Callable[[], bool] = lambda: False
) -> int:
    """Analyse up to a batch of recordings; returns how many were brought up to date."""
    deadline = time.monotonic() + BUDGET_SECONDS
    due = db.all(
        "SELECT id FROM recordings WHERE analysed < :v AND status = 'ready' "
        "ORDER BY started_at DESC LIMIT :n",
        {"v": ANALYSIS_VERSION, "n": BATCH},
    )
    done = 0
    for row in due:
        if should_stop() or time.monotonic() > deadline:
            break
        if analyse_one(db, blobs, row["id"]):
            done += 1
    return done


def analyse_one(db: Database, blobs: BlobStore, recording_id: str) -> bool:
    pages = db.all(
        "SELECT url, COALESCE(started_at, first_seen_at) AS start FROM recording_pages "
        "WHERE recording_id = :id",
        {"id": recording_id},
    )
    events = events_of(db, blobs, recording_id)
    analysis = analyse_safely(recording_id, events, [(p["start"], p["url"]) for p in pages])
    with db.write() as conn:
        rec = q(
            conn,
            "SELECT site_id, device, started_at, created_at FROM recordings "
            "WHERE id = :id AND status = 'ready' AND analysed < :v",
            id=recording_id,
            v=ANALYSIS_VERSION,
        )
        if not rec:
            return False  # deleted meanwhile, or another process was quicker
        if analysis is None:
            # It cannot be analysed; mark it so it is not tried again every pass.
            q(
                conn,
                "UPDATE recordings SET analysed = :v WHERE id = :id",
                v=ANALYSIS_VERSION,
                id=recording_id,
            )
            return False
        r = rec[0]
        store.add_recording(
            conn,
            recording_id,
            r["site_id"],
            r["device"] or "desktop",
            r["started_at"] or r["created_at"],
            analysis,
        )
        kinds = ", ".join(f"'{k}'" for k in ANALYSIS_KINDS)
        q(
            conn,
            f"DELETE FROM recording_moments WHERE recording_id = :id AND kind IN ({kinds})",
            id=recording_id,
        )
        insert_moments(conn, recording_id, r["site_id"], analysis.moments)
        name_moments(conn, recording_id, analysis.rage_names)
    return True
