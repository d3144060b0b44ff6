"""The player draws a canvas event only when it is a whole picture carried in the event
(web/src/canvasreplay.ts): what the recorder sends (web/src/canvas.ts) is taken, and a
recording's other canvas commands, which could make the replay load an address or run
arbitrary drawing calls, are not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.node import bundle_for_node

PNG_1X1 = (  # one pixel
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
    "hQGAhKmMIQAAAABJRU5ErkJggg=="
)


def run(tmp_path: Path, script: str) -> object:
    node, replay = bundle_for_node("canvasreplay.ts", tmp_path)
    _, capture = bundle_for_node("canvas.ts", tmp_path)
    runner = tmp_path / "run.cjs"
    runner.write_text(
        f"const replay = require({json.dumps(str(replay))});\n"
        f"const capture = require({json.dumps(str(capture))});\n"
        f"console.log(JSON.stringify((() => {{ {script} }})()));\n"
    )
    done = subprocess.run([node, str(runner)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def bitmap(base64: str, kind: str) -> dict:
    """rrweb's serialised ImageBitmap made from a Blob of these bytes."""
    buffer = {"rr_type": "ArrayBuffer", "base64": base64}
    return {"rr_type": "ImageBitmap", "args": [{"rr_type": "Blob", "data": [buffer], "type": kind}]}


def draw(image: dict) -> dict:
    return {"property": "drawImage", "args": [image, 0, 0]}


def test_the_recorders_picture_is_what_the_player_draws(tmp_path: Path) -> None:
    picture = run(
        tmp_path,
        f"return replay.pictureOf(capture.canvasEvent(7, 1, 1, 'image/png', '{PNG_1X1}'));",
    )
    assert picture == {"id": 7, "base64": PNG_1X1, "type": "image/png"}


def test_other_canvas_commands_are_never_drawn(tmp_path: Path) -> None:
    hostile = [
        # an image loaded from an address (rrweb's HTMLImageElement argument)
        draw({"rr_type": "HTMLImageElement", "src": "https://evil.example/x.png"}),
        # a picture of a type that is not an image
        draw(bitmap(PNG_1X1, "text/html")),
        # any other call on the context
        {"property": "fillText", "args": ["hello", 0, 0]},
        # a picture far larger than the recorder ever sends
        draw(bitmap("A" * 2_200_000, "image/png")),
        # bytes that would leave the CSS url("data:…") the player puts them in
        draw(bitmap(PNG_1X1 + '"), url("https://evil.example/seen.png', "image/png")),
        draw(bitmap(PNG_1X1 + ") ", "image/png")),
    ]
    events = [
        {"type": 3, "data": {"source": 9, "id": 7, "type": 0, "commands": [c]}, "timestamp": 1}
        for c in hostile
    ]
    events.append({"type": 3, "data": {"source": 9, "id": "7", "commands": []}, "timestamp": 1})
    events.append({"type": 2, "data": {}, "timestamp": 1})
    got = run(tmp_path, f"return {json.dumps(events)}.map((e) => replay.pictureOf(e));")
    assert got == [None] * len(events)
