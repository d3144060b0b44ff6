"""The browser's vocabulary (web/src/vocabulary.ts) says what the server's does
(footage/rrweb.py, footage/signals.py): the same rrweb numbers under the same names, the same
activity, the same signals with the same names in the same order. Run the TypeScript in Node
and compare."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from footage import rrweb
from footage.signals import SIGNALS
from tests.node import bundle_for_node

RUNNER = """
const v = require(process.argv[2]);
const events = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const constants = {};
for (const [name, value] of Object.entries(v)) {
  if (name !== name.toUpperCase() || name === 'SIGNALS') continue;
  constants[name] = value instanceof Set ? [...value].sort((a, b) => a - b) : value;
}
const signals = Object.entries(v.SIGNALS)
  .map(([kind, s]) => ({ kind, label: s.label, plural: s.plural }));
const activity = events.map((e) => v.isActivity(e));
const clicks = events.map((e) => v.isClick(e));
process.stdout.write(JSON.stringify({ constants, signals, activity, clicks }));
"""


def python_constants() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in vars(rrweb).items():
        if name.isupper():
            out[name] = sorted(value) if isinstance(value, frozenset) else value
    return out


def sample_events() -> list[dict[str, Any]]:
    """Every event type, every incremental source with every mouse interaction, and a few
    malformed ones."""
    events: list[dict[str, Any]] = [{"type": t, "data": {}} for t in range(8)]
    for source in range(18):
        events.append({"type": rrweb.INCREMENTAL, "data": {"source": source}})
        for kind in range(11):
            events.append({"type": rrweb.INCREMENTAL, "data": {"source": source, "type": kind}})
    events += [
        {"type": rrweb.INCREMENTAL},
        {"type": rrweb.INCREMENTAL, "data": None},
        {"type": rrweb.CUSTOM, "data": {"source": rrweb.MOUSE_MOVE}},
        {"type": "3", "data": {"source": rrweb.MOUSE_MOVE}},
    ]
    return events


def test_typescript_and_python_speak_the_same_vocabulary(tmp_path: Path) -> None:
    node, bundle = bundle_for_node("vocabulary.ts", tmp_path)
    runner = tmp_path / "run.cjs"
    runner.write_text(RUNNER)
    events = sample_events()
    js = json.loads(
        subprocess.run(
            [node, str(runner), str(bundle)],
            input=json.dumps(events).encode(),
            capture_output=True,
            check=True,
        ).stdout
    )
    assert js["constants"] == python_constants()
    assert js["signals"] == [
        {"kind": s.kind, "label": s.label, "plural": s.plural} for s in SIGNALS
    ]
    assert js["activity"] == [rrweb.is_activity(e) for e in events]
    assert js["clicks"] == [rrweb.is_click(e) for e in events]


def test_activity_is_what_posthog_counts() -> None:
    """MouseMove, MouseInteraction, Scroll, ViewportResize, Input, TouchMove, MediaInteraction
    and Drag; never the page's own changes (Mutation, style sheets, canvas, fonts, logs)."""
    assert sorted(rrweb.ACTIVE_SOURCES) == [1, 2, 3, 4, 5, 6, 7, 12]
