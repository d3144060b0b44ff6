"""The frustration signals: one registry of their kinds, names, filters and columns.

The analysis (heatmaps/analysis.py; rage clicks: sessions/summary.py) finds them, the finalizer
stores each as a moment of its kind and counts them on the recording, the recordings list
filters on them, the player marks them and the Pages report sums them. Every one of those
reads this list, in this order (the order they are shown in). The browser's copy of kinds and
labels (web/src/vocabulary.ts) is checked against it by tests/test_vocabulary_parity.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signal:
    """One frustration signal and every name it goes by."""

    kind: str  # recording_moments.kind
    label: str  # one of them, in the user's words: "Rage click"
    plural: str  # several, or the signal as a heading: "Rage clicks"
    meaning: str  # what it is, for a tooltip
    filter: str  # the recordings list's filter: has_rage_clicks=true
    filter_help: str  # the filter's help (API reference)
    count_column: str  # the count on `recordings`
    page_column: str  # the sum on `page_stats` (the Pages report, a heatmap's totals)
    per_element: bool  # a signal of a click, also summed per clicked element (heatmap_elements)


SIGNALS: tuple[Signal, ...] = (
    Signal(
        kind="rage_click",
        label="Rage click",
        plural="Rage clicks",
        meaning="3 or more clicks within a second on one spot",
        filter="has_rage_clicks",
        filter_help="true: with rage clicks; false: without.",
        count_column="rage_click_count",
        page_column="rage_clicks",
        per_element=True,
    ),
    Signal(
        kind="dead_click",
        label="Dead click",
        plural="Dead clicks",
        meaning="Clicks the page did not answer within a second",
        filter="has_dead_clicks",
        filter_help=(
            "true: with dead clicks (a click the page did not answer within 1 s); false: without."
        ),
        count_column="dead_click_count",
        page_column="dead_clicks",
        per_element=True,
    ),
    Signal(
        kind="error_click",
        label="Error click",
        plural="Error clicks",
        meaning="Clicks followed by a JavaScript error within a second",
        filter="has_error_clicks",
        filter_help=(
            "true: with error clicks (a JavaScript error within 1 s of a click); false: without."
        ),
        count_column="error_click_count",
        page_column="error_clicks",
        per_element=True,
    ),
    Signal(
        kind="quick_back",
        label="Quick back",
        plural="Quick backs",
        meaning="Pages left within 5 seconds by going back",
        filter="has_quick_backs",
        filter_help=(
            "true: with quick backs (a page left within 5 s by going back); false: without."
        ),
        count_column="quick_back_count",
        page_column="quick_backs",
        per_element=False,
    ),
    Signal(
        kind="excessive_scroll",
        label="Excessive scrolling",
        plural="Excessive scrolling",
        meaning="Scrolling up and down again and again, as if looking for something",
        filter="has_excessive_scrolling",
        filter_help=(
            "true: with excessive scrolling (up and down again and again); false: without."
        ),
        count_column="excessive_scroll_count",
        page_column="excessive_scrolls",
        per_element=False,
    ),
)
SIGNAL_KINDS: tuple[str, ...] = tuple(s.kind for s in SIGNALS)
BY_KIND: dict[str, Signal] = {s.kind: s for s in SIGNALS}
BY_FILTER: dict[str, Signal] = {s.filter: s for s in SIGNALS}
PAGE_COLUMNS: tuple[str, ...] = tuple(s.page_column for s in SIGNALS)
ELEMENT_COLUMNS: tuple[str, ...] = tuple(s.page_column for s in SIGNALS if s.per_element)
