"""The browser's masks (web/src/masking.ts) and the server's (footage/privacy/masking.py) give
byte-identical results on the same events: run the TypeScript in Node on the cases the
Python runs, and compare."""

from __future__ import annotations

import json
import random
import subprocess
from itertools import product
from pathlib import Path
from typing import Any

import orjson

from footage.privacy.masking import (
    MaskRules,
    PageMaskState,
    mask_all,
    mask_text,
    mask_value,
    scrub_events,
    scrub_url,
)
from tests.node import bundle_for_node
from tests.privacy.test_masking import everywhere, mutation, signup_page, typed

RUNNER = """
const m = require(process.argv[2]);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map((c) => {
  const state = new m.PageMaskState();
  const rules = { ...c.rules, allNumbers: c.rules.all_numbers };
  const batches = c.batches.map((batch) => batch.map((e) => m.scrubEvent(e, rules, state)));
  const strings = c.strings.map((s) => [m.maskText(s, rules), m.scrubUrl(s, rules),
    m.maskValue(s, rules, false), m.maskAll(s)]);
  return JSON.stringify({ batches, strings });
});
process.stdout.write(JSON.stringify(out));
"""
TRICKY = [
    "",
    "plain words",
    "Order 4711 for jane.doe@example.com",
    "a/b@x.example?c=d&e=1",
    "#@A.am",
    "x%40y.example",
    "mailto:ADA@Example.COM?subject=Hi 2",
    "https://shop.example/p/12?utm_campaign=bf-2026&id=7#top=3",
    "٣٤ and 𝟗 and ७",
    "emoji 😀 1",
    "'quoted'@domain.example.",
    "@@@..@a.b.c@d.e",
    "tab\tand\nnewline 9",
    "€12.50 2026-12-03 +420 601 234 567 (555) 123-4567 12:30 3. 12. 2026 4111-1111-1111-1111",
    "1 2 3 4 5 6 7 and 12/28 and 850101/1234 and ٠١٢٣٤٥٦٧٨ and 𝟗𝟗𝟗𝟗𝟗𝟗𝟗",
    "ä@ö.example ü1",
    # Around the fewest digits a masked run has (an international number's 6): the browser
    # skips the search below that, which must change nothing.
    "+12 345",
    "+12 3456",
    "+(12) 3456 and 7",
    "123456",
    "12345 6",
    "1234567",
    "1.2.3 4:56",
]


def random_strings(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    alphabet = "aZ09@.%4-_/?#&=+ \u0663\U0001f600é*():1237"
    pieces = ["@", "%40", ".", "x", "7", "a.b", "@x.co", "utm_", "?", "#", "mailto:"]
    return [
        "".join(
            rnd.choice(pieces) if rnd.random() < 0.3 else rnd.choice(alphabet)
            for _ in range(rnd.randint(0, 30))
        )
        for _ in range(count)
    ]


def cases() -> list[dict[str, Any]]:
    out = []
    strings = TRICKY + random_strings(7, 150)
    for (forms, numbers, emails, all_numbers), s in product(
        product([False, True], repeat=4), strings
    ):
        if numbers and all_numbers:
            continue  # the same as numbers recorded
        rules = {"forms": forms, "numbers": numbers, "emails": emails, "all_numbers": all_numbers}
        batches = [
            [signup_page(), typed(23, s), typed(20, s)],
            everywhere(s, with_digit_keepers=len(s) % 2 == 0),
            [mutation(attributes=[{"id": 20, "attributes": {"type": "password"}}]), typed(20, s)],
        ]
        out.append({"rules": rules, "batches": batches, "strings": [s]})
    return out


def python_side(case: dict[str, Any]) -> dict[str, Any]:
    rules = MaskRules(**case["rules"])
    state = PageMaskState()
    return {
        "batches": [scrub_events(batch, rules, state) for batch in case["batches"]],
        "strings": [
            [mask_text(s, rules), scrub_url(s, rules), mask_value(s, rules, False), mask_all(s)]
            for s in case["strings"]
        ],
    }


def test_typescript_and_python_masks_agree(tmp_path: Path) -> None:
    node, bundle = bundle_for_node("masking.ts", tmp_path)
    runner = tmp_path / "run.cjs"
    runner.write_text(RUNNER)
    # JavaScript puts integer-like object keys first: let it order the input once, for both.
    ordered = subprocess.run(
        [
            node,
            "-e",
            "process.stdout.write(JSON.stringify(JSON.parse("
            "require('fs').readFileSync(0, 'utf8'))))",
        ],
        input=orjson.dumps(cases()),
        capture_output=True,
        check=True,
    ).stdout
    js = json.loads(
        subprocess.run(
            [node, str(runner), str(bundle)], input=ordered, capture_output=True, check=True
        ).stdout
    )
    py = [orjson.dumps(python_side(case)).decode() for case in orjson.loads(ordered)]
    assert len(js) == len(py) > 1000
    mismatches = [i for i, (a, b) in enumerate(zip(py, js, strict=True)) if a != b]
    assert not mismatches, (
        orjson.loads(ordered)[mismatches[0]],
        py[mismatches[0]][:2000],
        js[mismatches[0]][:2000],
    )
