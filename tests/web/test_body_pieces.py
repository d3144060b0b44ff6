"""A batch's body goes to the compression worker in pieces, one per task, so a large snapshot
is never copied into the worker in one long task that a visitor's click would wait for.

The pieces are made by `pieces()` in web/src/transport.ts and put together again by the
worker's script (`GZIP_WORKER`), both run here in Node: joined, the pieces are exactly the
body; compressed by the worker, they are exactly its gzip.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import subprocess
from pathlib import Path

from tests.node import bundle_for_node

HEAD = '{"v":1,"seq":0,"events":['
TAIL = "]}"


def run_node(tmp_path: Path, script: str, data: object) -> object:
    node, transport = bundle_for_node("transport.ts", tmp_path)
    runner = tmp_path / "run.cjs"
    runner.write_text(f"const t = require({json.dumps(str(transport))});\n{script}")
    done = subprocess.run(
        [node, str(runner)],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    return json.loads(done.stdout)


PIECES = """
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(cases.map((c) => {
  const pieces = t.pieces(c.head, c.events, c.tail, c.size);
  return { pieces, lengths: pieces.map((p) => p.length) };
})));
"""


def test_the_pieces_are_the_body_and_never_split_a_character(tmp_path: Path) -> None:
    rng = random.Random(7)
    alphabet = ["a", "é", "€", "\U0001f600", "\U00010348", '"', ","]
    cases = []
    for _ in range(60):
        events = [
            "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 40, 300])))
            for _ in range(rng.randint(0, 12))
        ]
        cases.append({"head": HEAD, "events": events, "tail": TAIL, "size": rng.choice([2, 7, 64])})
    # A snapshot far larger than a piece, of 4-byte characters after one of 1 byte: every cut
    # of the recorder's size falls in the middle of a surrogate pair and must move.
    big = "a" + "\U0001f600" * 100_000
    cases.append({"head": HEAD, "events": ["{}", big, "{}"], "tail": TAIL, "size": 65_536})
    cases.append({"head": HEAD, "events": [], "tail": TAIL, "size": 65_536})
    results = run_node(tmp_path, PIECES, cases)
    assert isinstance(results, list)
    for case, result in zip(cases, results, strict=True):
        pieces, lengths = result["pieces"], result["lengths"]
        assert "".join(pieces) == case["head"] + ",".join(case["events"]) + case["tail"]
        for piece in pieces:
            # A piece ending or starting inside a surrogate pair comes back from Node's JSON
            # as a lone surrogate, which cannot be encoded: the worker would garble it.
            piece.encode("utf-8")
        assert all(pieces), "no empty piece is posted"
        # A piece holds about `size` characters (UTF-16 units) at most: the head is never
        # cut, a comma may come on top, and the tail on the last.
        assert max(lengths) <= max(case["size"], len(case["head"])) + 1 + len(case["tail"])
    big_pieces = results[-2]["lengths"]
    assert len(big_pieces) == 5 and 65_535 in big_pieces, big_pieces


WORKER = """
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const answers = [];
const onmessage = new Function('postMessage', t.GZIP_WORKER + ';return onmessage;')((m) => {
  answers.push([m[0], m[1] ? Buffer.from(m[1]).toString('base64') : null]);
  if (answers.length === 2) process.stdout.write(JSON.stringify({ answers, bodies }));
});
const [first, second] = input.map((events) => t.pieces('{"events":[', events, ']}'));
const bodies = [first.join(''), second.join('')];
// Two bodies on their way at once, their pieces interleaved, the second one finished first.
onmessage({ data: [1, first[0], false] });
onmessage({ data: [2, second[0], true] });
first.slice(1).forEach((piece, i) => onmessage({ data: [1, piece, i === first.length - 2] }));
"""


def test_the_worker_compresses_each_body_from_its_pieces_as_they_come(tmp_path: Path) -> None:
    events = [["x" * 100_000, "\U0001f600é" * 30_000, "{}"], ["small"]]
    result = run_node(tmp_path, WORKER, events)
    assert isinstance(result, dict)
    answers = result["answers"]
    assert [job for job, _ in answers] == [2, 1]
    got = {job: gzip.decompress(base64.b64decode(data)).decode("utf-8") for job, data in answers}
    assert got[1] == '{"events":[' + ",".join(events[0]) + "]}" == result["bodies"][0]
    assert got[2] == '{"events":[small]}' == result["bodies"][1]
