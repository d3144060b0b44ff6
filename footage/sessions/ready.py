"""What the finalizer tells the features above it as a recording becomes ready.

Features react through `on_ready` hooks that app.py registers at start-up, so the finalizer
imports none of them. A hook is called outside any transaction, where slow work belongs (the
heatmap analysis replays every page view's DOM), and returns the rows it wants written; the
finalizer writes them inside the transaction that makes the recording ready, so they appear
together with it or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from footage.sessions.summary import Moment, Summary


@dataclass(frozen=True)
class ReadyRecording:
    """A recording the finalizer is making ready: its row, events, page views and summary."""

    recording: dict[str, Any]  # its row as claimed
    events: list[dict[str, Any]]  # in time order
    pages: list[tuple[int, str]]  # each page view's (start, address), in order
    # each event's page view (an index into `pages`) where the batches still tell
    event_pages: list[int] | None
    summary: Summary
    device: str

    @property
    def id(self) -> str:
        return str(self.recording["id"])

    @property
    def site_id(self) -> str:
        return str(self.recording["site_id"])


@dataclass(frozen=True)
class ReadyRows:
    """What a hook adds: `write` runs inside the finalize transaction; `moments` are stored
    with the recording's own; `names` name the summary's own moments (one of the same kind and
    time takes its name and detail: a rage click, named by the element it hit)."""

    write: Callable[[Connection], None]
    moments: list[Moment] = field(default_factory=list)
    names: list[Moment] = field(default_factory=list)


def named(moments: list[Moment], names: list[Moment]) -> list[Moment]:
    """`moments`, each one with no name taking that of `names` at its kind and time."""
    by_key = {(m.kind, m.at): m for m in names}
    out = []
    for m in moments:
        found = by_key.get((m.kind, m.at)) if m.name is None else None
        out.append(Moment(m.kind, m.at, found.name, found.detail) if found else m)
    return out


# Called once per finalize of a recording; None: nothing to add.
OnReady = Callable[[ReadyRecording], ReadyRows | None]
