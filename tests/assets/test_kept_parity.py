"""The server asks for copies of the addresses extract.py finds; the player (inert.ts with
kept.ts) must swap exactly those for their copies, wherever rrweb put them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from footage.assets.extract import asset_urls
from tests.node import bundle_for_node

SITE = "https://shop.example"
EVENTS = [
    {
        "type": 2,
        "timestamp": 1,
        "data": {
            "node": {
                "type": 0,
                "id": 1,
                "childNodes": [
                    {
                        "type": 2,
                        "id": 2,
                        "tagName": "html",
                        "attributes": {},
                        "childNodes": [
                            {
                                "type": 2,
                                "id": 3,
                                "tagName": "link",
                                "attributes": {"rel": "stylesheet", "href": f"{SITE}/a.css"},
                                "childNodes": [],
                            },
                            {
                                "type": 2,
                                "id": 4,
                                "tagName": "style",
                                "attributes": {},
                                "childNodes": [
                                    {
                                        "type": 3,
                                        "id": 5,
                                        "isStyle": True,
                                        "textContent": f"@import '{SITE}/b.css'; "
                                        f'p {{ background: url("{SITE}/p.png") }}',
                                    }
                                ],
                            },
                            {
                                "type": 2,
                                "id": 6,
                                "tagName": "img",
                                "attributes": {
                                    "src": f"{SITE}/1.png",
                                    "srcset": f"{SITE}/1.png 1x, {SITE}/2.png 2x",
                                    "style": f"background-image: url('{SITE}/s.png')",
                                },
                                "childNodes": [],
                            },
                            {
                                "type": 2,
                                "id": 7,
                                "tagName": "link",
                                "attributes": {
                                    "_cssText": f"@font-face {{ src: url({SITE}/f.woff2) }}"
                                },
                                "childNodes": [],
                            },
                            {
                                "type": 2,
                                "id": 8,
                                "tagName": "video",
                                "attributes": {"poster": f"{SITE}/poster.jpg"},
                                "childNodes": [],
                            },
                        ],
                    }
                ],
            }
        },
    },
    {
        "type": 3,
        "timestamp": 2,
        "data": {
            "source": 0,
            "adds": [
                {
                    "parentId": 2,
                    "nextId": None,
                    "node": {
                        "type": 2,
                        "id": 9,
                        "tagName": "img",
                        "attributes": {"src": f"{SITE}/added.png"},
                        "childNodes": [],
                    },
                }
            ],
            "attributes": [{"id": 6, "attributes": {"src": f"{SITE}/changed.png"}}],
            "removes": [],
            "texts": [],
        },
    },
    {
        "type": 3,
        "timestamp": 3,
        "data": {
            "source": 8,
            "id": 4,
            "adds": [{"rule": f"q {{ background: url({SITE}/rule.png) }}"}],
        },
    },
    {
        "type": 3,
        "timestamp": 4,
        "data": {
            "source": 13,
            "id": 4,
            "set": {"property": "background", "value": f"url({SITE}/declared.png)"},
        },
    },
    {
        "type": 3,
        "timestamp": 5,
        "data": {"source": 10, "family": "X", "fontSource": f"url({SITE}/added.woff2)"},
    },
]


def test_the_player_swaps_every_address_the_server_asked_copies_of(tmp_path: Path) -> None:
    urls = asset_urls(EVENTS)
    assert len(urls) == 13, urls
    copies = {url: f"/site-assets/key/{i:064x}" for i, url in enumerate(urls)}
    node, inert = bundle_for_node("inert.ts", tmp_path)
    _, kept = bundle_for_node("kept.ts", tmp_path)
    runner = tmp_path / "run.cjs"
    runner.write_text(
        f"const {{ neutralise }} = require({json.dumps(str(inert))});\n"
        f"const {{ KeptCopies, readKept }} = require({json.dumps(str(kept))});\n"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        "const base = 'https://footage.example/recordings/1';\n"
        "const kept = new KeptCopies(readKept(JSON.stringify(input.copies), base));\n"
        "process.stdout.write(JSON.stringify(neutralise(input.events, base, kept)));\n"
    )
    done = subprocess.run(
        [node, str(runner)],
        input=json.dumps({"events": EVENTS, "copies": copies}),
        capture_output=True,
        text=True,
        check=True,
    )
    shown = done.stdout
    for url, copy in copies.items():
        assert f"https://footage.example{copy}" in shown, url
    left = [url for url in urls if url in shown.replace("footage.example", "")]
    assert left == [], f"addresses left pointing at the site: {left}"
