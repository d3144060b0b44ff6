"""Bodies for fuzzing ingest: a corpus of real-looking batches, and ways to break them.

Two sources, used by tests/ingest/test_fuzz.py:

- `Mutator`: a seeded, fast mutator (no shrinking) for the bulk of the bodies — byte-level
  damage (bit flips, cuts, splices, inserted tokens, deep nesting) of the JSON text or of its
  gzip stream, and structure-level damage (a field given the wrong type, a huge or odd value).
- `bodies()`: the same ideas as a hypothesis strategy, which shrinks a failure to a small body.
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import random
import uuid
import zlib
from typing import Any

from hypothesis import strategies as st

NOW_MS = 1_795_000_000_000
INTERESTING: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**31,
    2**63,
    2**70,
    -(2**64),
    1e308,
    -1e-308,
    "",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: JSON can say it, UTF-8 cannot
    "\u202e\ufeff",
    "x" * 5000,
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "s_key",
    [],
    {},
    [[]],
    {"": {}},
    [None] * 50,
    {"type": 2, "timestamp": NOW_MS},
]
TOKENS = [
    b"null",
    b"[]",
    b"{}",
    b'""',
    b"1e999",
    b"-0",
    b"18446744073709551616",
    b'"\\u0000"',
    b'"\\ud800"',
    b"NaN",
    b"Infinity",
    b"[" * 300,
    b"]" * 300,
    b"{" * 50,
    b'"' * 3,
    b"\\",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\x00",
    b",",
    b":",
    b"true",
]
# Text the server keeps in database columns: the place for characters a database refuses.
TEXT_PATHS: list[tuple[str, ...]] = [
    ("site_key",),
    ("visitor_id",),
    ("session_id",),
    ("page_id",),
    ("page", "url"),
    ("page", "title"),
    ("page", "referrer"),
]
ODD_TEXT = ["\x00", "\ud800", "\u202e", "\ufeff", "\n", "'", "%00", "\\", "\U0001f600"]
FIELDS = [
    "v",
    "site_key",
    "visitor_id",
    "session_id",
    "page_id",
    "seq",
    "events",
    "page",
    "screen",
    "viewport",
    "left",
    "sent_at",
    "visitor",
]


def _id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}-{uuid.UUID(int=rng.getrandbits(128))}"


def _node(rng: random.Random, depth: int, next_id: list[int]) -> dict[str, Any]:
    next_id[0] += 1
    if depth <= 0 or rng.random() < 0.3:
        return {
            "type": 3,
            "textContent": rng.choice(["Hi", "jane@x.example", "4111 1111"]),
            "id": next_id[0],
        }
    tag = rng.choice(["div", "input", "a", "textarea", "style", "script", "svg", "iframe"])
    attributes: dict[str, Any] = {"class": "c"}
    if tag == "input":
        attributes["type"] = rng.choice(["password", "text", "email"])
        attributes["value"] = "secret"
    if tag == "a":
        attributes["href"] = "https://x.example/?email=jane@x.example"
    if tag == "iframe":
        attributes["srcdoc"] = "<script>parent.x=1</script>"
    return {
        "type": 2,
        "tagName": tag,
        "attributes": attributes,
        "id": next_id[0],
        "childNodes": [_node(rng, depth - 1, next_id) for _ in range(rng.randint(0, 3))],
    }


def _event(rng: random.Random, ts: int) -> dict[str, Any]:
    kind = rng.choice(
        [
            "meta",
            "snapshot",
            "click",
            "move",
            "input",
            "mutation",
            "error",
            "custom",
            "plugin",
            "load",
        ]
    )
    if kind == "meta":
        return {
            "type": 4,
            "data": {"href": "https://alice.example/p?q=1", "width": 1280, "height": 720},
            "timestamp": ts,
        }
    if kind == "snapshot":
        root = {"type": 0, "childNodes": [_node(rng, rng.randint(1, 6), [1])], "id": 1}
        return {
            "type": 2,
            "data": {"node": root, "initialOffset": {"left": 0, "top": 0}},
            "timestamp": ts,
        }
    if kind == "click":
        return {
            "type": 3,
            "data": {"source": 2, "type": 2, "id": 4, "x": 10, "y": 20},
            "timestamp": ts,
        }
    if kind == "move":
        return {
            "type": 3,
            "data": {"source": 1, "positions": [{"x": 1, "y": 1, "id": 4, "timeOffset": -5}]},
            "timestamp": ts,
        }
    if kind == "input":
        return {
            "type": 3,
            "data": {
                "source": 5,
                "text": "typed 1234",
                "isChecked": False,
                "id": rng.randint(1, 9),
            },
            "timestamp": ts,
        }
    if kind == "mutation":
        return {
            "type": 3,
            "data": {
                "source": 0,
                "texts": [{"id": 4, "value": "new 42"}],
                "attributes": [{"id": 3, "attributes": {"value": "x"}}],
                "removes": [],
                "adds": [{"parentId": 3, "nextId": None, "node": _node(rng, 2, [100])}],
            },
            "timestamp": ts,
        }
    if kind == "error":
        return {
            "type": 5,
            "data": {"tag": "footage.error", "payload": {"message": "boom"}},
            "timestamp": ts,
        }
    if kind == "custom":
        return {
            "type": 5,
            "data": {
                "tag": "footage.event",
                "payload": {"name": "added_to_cart", "props": {"sku": "X1"}},
            },
            "timestamp": ts,
        }
    if kind == "plugin":
        return {"type": 6, "data": {"plugin": "console", "payload": {"k": ["v"]}}, "timestamp": ts}
    return {"type": 1, "data": {}, "timestamp": ts}


def valid_batch(rng: random.Random, site_key: str = "s_key", now_ms: int = NOW_MS) -> dict:
    """A batch as a recorder sends it, with fresh ids."""
    ts = now_ms - rng.randint(0, 3_600_000)
    events = [_event(rng, ts + i * 50) for i in range(rng.randint(0, 12))]
    body: dict[str, Any] = {
        "v": 1,
        "site_key": site_key,
        "visitor_id": _id(rng, "vis"),
        "session_id": _id(rng, "ses"),
        "page_id": _id(rng, "pag"),
        "seq": rng.randint(0, 40),
        "events": events,
        "page": {
            "url": "https://alice.example/cart?email=jane@x.example",
            "title": "Cart 12",
            "referrer": "",
        },
        "screen": {"width": 1920, "height": 1080},
        "viewport": {"width": 1280, "height": 720},
        "left": rng.random() < 0.1,
        "sent_at": now_ms,
    }
    if rng.random() < 0.2:
        body["visitor"] = {
            "id": "c-1",
            "name": "Jane",
            "email": "jane@x.example",
            "variables": {"plan": {"label": "Plan", "value": "Gold"}},
        }
    return body


def _encode(data: Any, rng: random.Random) -> bytes:
    # The standard library may write what orjson would refuse (lone surrogates, 2**70).
    text = json.dumps(data, ensure_ascii=rng.random() < 0.5)
    return text.encode("utf-8", "surrogatepass")


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data[:20]):
            out += _paths(value, (*prefix, i))
    return out


def odd_text(data: dict[str, Any], path: tuple[str, ...], odd: str, at: float) -> None:
    """Puts an odd character into a text field, keeping the rest of it (so it may still pass)."""
    parent: Any = data
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(parent, dict):
        value = parent.get(path[-1])
        value = value if isinstance(value, str) else ""
        cut = int(len(value) * at)
        parent[path[-1]] = value[:cut] + odd + value[cut:]


def replace_at(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return data


class Mutator:
    """Seeded bodies: mostly broken, some whole, a few gzip-damaged."""

    def __init__(self, seed: int, site_key: str = "s_key", now_ms: int = NOW_MS):
        self.rng = random.Random(seed)
        self.site_key, self.now_ms = site_key, now_ms
        self.corpus = [self._batch() for _ in range(64)]

    def _batch(self) -> dict[str, Any]:
        return valid_batch(self.rng, self.site_key, self.now_ms)

    def structured(self) -> bytes:
        """A batch with one to three fields given something they should not hold."""
        rng = self.rng
        data = self._batch()
        for _ in range(rng.randint(1, 3)):
            choice = rng.random()
            if not isinstance(data, dict):  # the whole body was replaced already
                break
            if choice < 0.25:
                odd_text(data, rng.choice(TEXT_PATHS), rng.choice(ODD_TEXT), rng.random())
            elif choice < 0.35:
                data.pop(rng.choice(FIELDS), None)
            elif choice < 0.5:
                data[rng.choice(FIELDS)] = copy.deepcopy(rng.choice(INTERESTING))
            else:
                path = rng.choice(_paths(data))
                data = replace_at(data, path, copy.deepcopy(rng.choice(INTERESTING)))
        return _encode(data, rng)

    def damaged(self, raw: bytes) -> bytes:
        rng = self.rng
        b = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(8)
            n = len(b)
            if op == 0 and n:  # flip bits
                for _ in range(rng.randint(1, 8)):
                    b[rng.randrange(n)] ^= 1 << rng.randrange(8)
            elif op == 1:  # insert random bytes
                at = rng.randint(0, n)
                b[at:at] = rng.randbytes(rng.randint(1, 16))
            elif op == 2 and n:  # delete a slice
                at = rng.randrange(n)
                del b[at : at + rng.randint(1, 64)]
            elif op == 3 and n:  # truncate
                del b[rng.randrange(n) :]
            elif op == 4 and n:  # duplicate a slice
                at = rng.randrange(n)
                b[at:at] = b[at : at + rng.randint(1, 200)]
            elif op == 5:  # splice with another body
                other = _encode(rng.choice(self.corpus), rng)
                at = rng.randint(0, n)
                b[at:] = other[rng.randrange(len(other)) :]
            else:  # insert an interesting token
                at = rng.randint(0, n)
                b[at:at] = rng.choice(TOKENS)
        return bytes(b)

    def body(self) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            raw = self.structured()
        elif roll < 0.45:
            raw = _encode(self._batch(), rng)  # whole
        else:
            raw = self.damaged(_encode(rng.choice(self.corpus), rng))
        zipped = rng.random()
        if zipped < 0.35:
            return gzip.compress(raw, compresslevel=1)
        if zipped < 0.45:
            return self.damaged(gzip.compress(raw, compresslevel=1))  # a broken stream
        if zipped < 0.48:
            return gzip.compress(raw)[: -rng.randint(1, 8)]  # trailer cut
        if zipped < 0.53:
            # Several members, as the recorder sends a held snapshot (up to 6: more than the
            # server takes), now and then one of them damaged.
            cuts = sorted(rng.randint(0, len(raw)) for _ in range(rng.randint(1, 5)))
            body = members(raw, cuts)
            return self.damaged(body) if rng.random() < 0.2 else body
        if zipped < 0.55:
            return zlib.compress(raw)  # zlib, not gzip
        return raw


def members(raw: bytes, cuts: list[int]) -> bytes:
    """`raw` as gzip members, one after the other, cut at `cuts` (in order): what the recorder
    sends for a snapshot compressed ahead is the head's member, then the events'."""
    edges = [0, *cuts, len(raw)]
    return b"".join(gzip.compress(raw[a:b], compresslevel=1) for a, b in itertools.pairwise(edges))


# --- the same as hypothesis strategies (they shrink a failure to a small body) ------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(INTERESTING[:20]).map(copy.deepcopy),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def batches(draw: st.DrawFn, site_key: str = "s_key", now_ms: int = NOW_MS) -> dict[str, Any]:
    """A recorder's batch, then a few of its fields or inner values replaced by any JSON."""
    data = valid_batch(random.Random(draw(st.integers(0, 2**32))), site_key, now_ms)
    for _ in range(draw(st.integers(0, 3))):
        if not isinstance(data, dict):
            break
        if draw(st.integers(0, 3)) == 0:
            odd_text(
                data,
                draw(st.sampled_from(TEXT_PATHS)),
                draw(st.sampled_from(ODD_TEXT) | st.text(min_size=1, max_size=3)),
                draw(st.floats(0, 1)),
            )
            continue
        paths = _paths(data)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        if draw(st.booleans()) and path and isinstance(path[-1], str):
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
        else:
            data = replace_at(data, path, draw(json_values))
    return data


@st.composite
def bodies(draw: st.DrawFn, site_key: str = "s_key", now_ms: int = NOW_MS) -> bytes:
    """Bytes of a request: a (broken) batch as JSON, maybe gzip, maybe cut or damaged."""
    data = draw(batches(site_key, now_ms))
    raw = json.dumps(data, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(TOKENS) | st.binary(max_size=8)) + raw[at:]
    if draw(st.booleans()):
        cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=5)))
        raw = members(raw, cuts)
        if draw(st.integers(0, 4)) == 0:
            raw = raw[: draw(st.integers(0, len(raw)))]
    return raw
