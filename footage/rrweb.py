"""rrweb's numbers, the custom events footage.js adds, and what counts as visitor activity.

One source for the server; the browser's copy (web/src/vocabulary.ts) is checked against this
module by tests/test_vocabulary_parity.py. The names follow rrweb's enums (`EventType`,
`IncrementalSource`, `MouseInteractions`, rrweb-snapshot's `NodeType` with NODE_) in upper
case.
"""

from __future__ import annotations

from typing import Any, Final

# rrweb's EventType: what an event is.
DOM_CONTENT_LOADED: Final = 0
LOAD: Final = 1
FULL_SNAPSHOT: Final = 2
INCREMENTAL: Final = 3  # IncrementalSnapshot: its `data.source` says what changed
META: Final = 4
CUSTOM: Final = 5
PLUGIN: Final = 6

# rrweb's IncrementalSource: what an incremental snapshot records.
MUTATION: Final = 0
MOUSE_MOVE: Final = 1
MOUSE_INTERACTION: Final = 2
SCROLL: Final = 3
VIEWPORT_RESIZE: Final = 4
INPUT: Final = 5
TOUCH_MOVE: Final = 6
MEDIA_INTERACTION: Final = 7
STYLE_SHEET_RULE: Final = 8
CANVAS_MUTATION: Final = 9
FONT: Final = 10
LOG: Final = 11
DRAG: Final = 12
STYLE_DECLARATION: Final = 13
SELECTION: Final = 14
ADOPTED_STYLE_SHEET: Final = 15
CUSTOM_ELEMENT: Final = 16

# rrweb's MouseInteractions: the `data.type` of a MOUSE_INTERACTION (the kinds used here).
CLICK: Final = 2
CONTEXT_MENU: Final = 3
DBL_CLICK: Final = 4
TOUCH_END: Final = 9

# rrweb-snapshot's NodeType: what a node of a snapshot or a mutation is.
NODE_DOCUMENT: Final = 0
NODE_DOCUMENT_TYPE: Final = 1
NODE_ELEMENT: Final = 2
NODE_TEXT: Final = 3
NODE_CDATA: Final = 4
NODE_COMMENT: Final = 5

# A click as PostHog counts it: Click, ContextMenu, DblClick or TouchEnd.
CLICKS: Final = frozenset({CLICK, CONTEXT_MENU, DBL_CLICK, TOUCH_END})

# The tags of the custom events footage.js adds: a JavaScript error, and the site's own
# footage('event', name, props).
ERROR_TAG: Final = "footage.error"
EVENT_TAG: Final = "footage.event"

# Visitor activity, as PostHog defines it for active time: the sources that are the visitor's
# own doing. The summary's active time, the player's inactive stretches and the MP4's skipped
# idle time all use this one set.
ACTIVE_SOURCES: Final = frozenset(
    {
        MOUSE_MOVE,
        MOUSE_INTERACTION,
        SCROLL,
        VIEWPORT_RESIZE,
        INPUT,
        TOUCH_MOVE,
        MEDIA_INTERACTION,
        DRAG,
    }
)
# A stretch longer than this without activity is inactive: it adds no active time, the player
# shades it (and skips it when asked), the MP4 cuts it short.
INACTIVE_AFTER_MS: Final = 5_000


def data_of(event: dict[str, Any]) -> dict[str, Any]:
    """The event's `data` object, or an empty one: ingest keeps events as they came, and a
    modified recorder may have put anything there (a string, a number, a list)."""
    data = event.get("data")
    return data if isinstance(data, dict) else {}


def is_activity(event: dict[str, Any]) -> bool:
    """Whether the event is the visitor's own activity (ACTIVE_SOURCES)."""
    source = data_of(event).get("source")
    return event.get("type") == INCREMENTAL and isinstance(source, int) and source in ACTIVE_SOURCES


def is_click(event: dict[str, Any]) -> bool:
    """Whether the event is a click as PostHog counts it (CLICKS)."""
    data = data_of(event)
    return (
        event.get("type") == INCREMENTAL
        and data.get("source") == MOUSE_INTERACTION
        and isinstance(data.get("type"), int)
        and data.get("type") in CLICKS
    )
