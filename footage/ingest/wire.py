"""Decoding and validating recorder batches (the format is in docs/wire.md)."""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import orjson

from footage.errors import BadRequest, PayloadTooLarge
from footage.parsing import parse_json

_ID = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
_SITE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_MAX_EVENTS = 100_000
_MAX_URL = 4096
GZIP_MAGIC = b"\x1f\x8b"
# Gzip members one body may hold (the recorder sends one or two; see inflate).
MAX_GZIP_MEMBERS = 4
# Event times the server believes (when it is given its clock): from 2000 on, and at most a
# day ahead of the server. A visitor's clock may be off by hours; one that says 1970 or next
# year would place the recording where nobody looks for it, and spread over years breaks the
# player's timeline.
EARLIEST_EVENT_MS = 946_684_800_000  # 2000-01-01
MAX_EVENT_AHEAD_MS = 24 * 3600 * 1000

# What a site may say about its visitor (footage('identify' | 'name' | 'email' | 'variables')).
# The recorder keeps to these limits; a body beyond them comes from another client and is
# refused with a message naming the field.
MAX_IDENTITY_CHARS = 200
MAX_VARIABLES = 50
MAX_VARIABLE_KEY_CHARS = 100
MAX_LABEL_CHARS = 100
MAX_VALUE_CHARS = 500

Scalar = str | int | float | bool


@dataclass(frozen=True)
class VisitorInfo:
    """Who the visitor is, as the site told the recorder; None: not said in this batch.

    Not masked: these are values the site chose to send (docs/privacy.md).
    """

    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    # key → {"label": str, "value": str | int | float | bool}
    variables: dict[str, dict[str, Scalar]] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    site_key: str
    visitor_id: str
    session_id: str
    page_id: str
    seq: int
    events: list[dict[str, Any]]
    url: str
    title: str
    referrer: str
    left: bool = False
    screen: tuple[int, int] | None = None
    viewport: tuple[int, int] | None = None
    visitor: VisitorInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def inflate(body: bytes, max_inflated: int) -> bytes:
    """Gunzip, refusing to produce more than max_inflated bytes (zip bombs stop early).

    A body may be several gzip members one after the other (RFC 1952 §2.2): the recorder
    compresses a large snapshot ahead, before it knows the batch's head, and sends the head's
    member followed by that one. At most MAX_GZIP_MEMBERS; bytes after the last member that do
    not start another one are ignored, as gzip tools do."""
    out = bytearray()
    data = body
    try:
        for _ in range(MAX_GZIP_MEMBERS):
            inflater = zlib.decompressobj(wbits=31)
            while data:
                out += inflater.decompress(data, max_inflated + 1 - len(out))
                if len(out) > max_inflated:
                    raise PayloadTooLarge(
                        f"the batch is larger than {max_inflated} bytes after decompression; "
                        "send smaller batches"
                    )
                data = inflater.unconsumed_tail
                if inflater.eof:
                    break
            if not inflater.eof:
                raise BadRequest("the gzip body is truncated", code="bad_gzip")
            data = inflater.unused_data
            if data[:2] != GZIP_MAGIC:
                return bytes(out)
        raise BadRequest(
            f"the body has more than {MAX_GZIP_MEMBERS} gzip members; "
            "send the batch as one gzip stream",
            code="bad_gzip",
        )
    except zlib.error as exc:
        raise BadRequest(f"the body is not valid gzip ({exc})", code="bad_gzip") from None


def gzip_size_hint(body: bytes) -> int:
    """What a gzip body says it inflates to: its last four bytes (the size modulo 4 GiB); 0
    for a plain body. Only a hint, to choose where to inflate it: `inflate` checks the real
    size against the limit, and zlib checks it against the stream."""
    if body[:2] != GZIP_MAGIC or len(body) < 18:
        return 0
    return int.from_bytes(body[-4:], "little")


def decode_body(body: bytes, max_inflated: int) -> dict[str, Any]:
    """Bytes of a request (gzip or plain JSON) → the JSON object."""
    if not body:
        raise BadRequest("the body is empty; send a JSON batch (optionally gzip-compressed)")
    raw = inflate(body, max_inflated) if body[:2] == GZIP_MAGIC else body
    if len(raw) > max_inflated:
        raise PayloadTooLarge(f"the batch is larger than {max_inflated} bytes")
    try:
        data = parse_json(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc).lower() or "recursion" in str(exc).lower():
            raise BadRequest("the JSON is nested too deeply", code="bad_json") from None
        if "utf-8" in str(exc).lower():
            raise BadRequest("the body is neither gzip nor UTF-8 JSON", code="bad_json") from None
        raise BadRequest(f"the body is not valid JSON: {exc}", code="bad_json") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="bad_json")
    return data


def _id(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BadRequest(
            f"'{name}' must be a string of 8–64 letters, digits, '-' or '_'", code="bad_field"
        )
    return value


def _text(data: dict[str, Any], name: str, limit: int = _MAX_URL) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string", code="bad_field")
    # PostgreSQL's TEXT cannot hold NUL characters, and no address or title needs one.
    return value[:limit].replace("\x00", "")


def _size(data: Any, name: str) -> tuple[int, int] | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise BadRequest(f"'{name}' must be an object {{width, height}}", code="bad_field")
    w, h = data.get("width"), data.get("height")
    if not all(isinstance(v, int | float) and 0 <= v < 100_000 for v in (w, h)):
        raise BadRequest(f"'{name}.width' and '{name}.height' must be numbers", code="bad_field")
    return int(w), int(h)  # type: ignore[arg-type]


def _events(value: Any, now_ms: int | None) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadRequest("'events' must be an array of rrweb events", code="bad_field")
    if len(value) > _MAX_EVENTS:
        raise PayloadTooLarge(
            f"a batch may hold at most {_MAX_EVENTS} events; send smaller batches"
        )
    for i, event in enumerate(value):
        if not isinstance(event, dict):
            raise BadRequest(f"events[{i}] must be an object", code="bad_event")
        kind, ts = event.get("type"), event.get("timestamp")
        if not isinstance(kind, int) or isinstance(kind, bool) or not 0 <= kind <= 6:
            raise BadRequest(
                f"events[{i}].type must be an rrweb event type (0–6)", code="bad_event"
            )
        if not isinstance(ts, int | float) or isinstance(ts, bool) or not 0 < ts < 1e14:
            raise BadRequest(
                f"events[{i}].timestamp must be milliseconds since 1970", code="bad_event"
            )
        if now_ms is not None and not EARLIEST_EVENT_MS <= ts <= now_ms + MAX_EVENT_AHEAD_MS:
            raise BadRequest(
                f"events[{i}].timestamp ({ts:.0f}) is "
                + ("before the year 2000" if ts < EARLIEST_EVENT_MS else "more than a day ahead")
                + " of the server's clock; send the browser's Date.now() of each event",
                code="bad_timestamp",
            )
    return value


MAX_EVENT_DEPTH = 500  # JSON levels in one event; rrweb's snapshot of a DOM ~240 elements deep


def nesting(value: Any, limit: int = MAX_EVENT_DEPTH) -> int:
    """How deeply arrays and objects nest in `value` (1 for a flat one), counted up to
    `limit` + 1. Iterative, so no depth can exhaust the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest if isinstance(value, dict | list) else 0


def _clean(value: str) -> str:
    # PostgreSQL's TEXT cannot hold NUL characters; nobody's name needs one.
    return value.replace("\x00", "").strip()


def _identity_text(value: Any, name: str) -> str | None:
    """One of visitor.id / name / email: a string (an id may be a whole number), or None."""
    if value is None:
        return None
    if name == "id" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > MAX_IDENTITY_CHARS:
        kind = "a string or a whole number" if name == "id" else "a string"
        raise BadRequest(
            f"'visitor.{name}' must be {kind} of at most {MAX_IDENTITY_CHARS} characters",
            code="bad_field",
        )
    return _clean(value) or None


def _variable(key: Any, entry: Any) -> tuple[str, dict[str, Scalar]]:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_VARIABLE_KEY_CHARS:
        raise BadRequest(
            f"the keys of 'visitor.variables' must be 1–{MAX_VARIABLE_KEY_CHARS} characters",
            code="bad_field",
        )
    where = f"visitor.variables.{key[:40]}"
    if not isinstance(entry, dict):
        raise BadRequest(f"'{where}' must be an object {{label, value}}", code="bad_field")
    label = entry.get("label", key)
    if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
        raise BadRequest(
            f"'{where}.label' must be a string of at most {MAX_LABEL_CHARS} characters",
            code="bad_field",
        )
    value = entry.get("value")
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise BadRequest(
                f"'{where}.value' may have at most {MAX_VALUE_CHARS} characters",
                code="bad_field",
            )
        value = value.replace("\x00", "")
    elif not isinstance(value, int | float) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise BadRequest(
            f"'{where}.value' must be a string, a number or true/false", code="bad_field"
        )
    return _clean(key) or key, {"label": _clean(label) or _clean(key) or key, "value": value}


def _visitor(value: Any) -> VisitorInfo | None:
    """The optional `visitor` field (docs/wire.md); unknown sub-fields are ignored."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(
            "'visitor' must be an object {id, name, email, variables}", code="bad_field"
        )
    variables = value.get("variables")
    parsed: dict[str, dict[str, Scalar]] = {}
    if variables is not None:
        if not isinstance(variables, dict):
            raise BadRequest(
                "'visitor.variables' must be an object {key: {label, value}}", code="bad_field"
            )
        if len(variables) > MAX_VARIABLES:
            raise BadRequest(
                f"'visitor.variables' may hold at most {MAX_VARIABLES} variables",
                code="bad_field",
            )
        parsed = dict(_variable(k, v) for k, v in variables.items())
    info = VisitorInfo(
        external_id=_identity_text(value.get("id"), "id"),
        name=_identity_text(value.get("name"), "name"),
        email=_identity_text(value.get("email"), "email"),
        variables=parsed,
    )
    return info if info != VisitorInfo() else None


def is_site_key(value: Any) -> TypeGuard[str]:
    """Whether `value` can be a site key at all (letters, digits, '-' and '_')."""
    return isinstance(value, str) and _SITE_KEY.fullmatch(value) is not None


def _site_key(data: dict[str, Any]) -> str:
    site_key = data.get("site_key")
    if not is_site_key(site_key):
        raise BadRequest("'site_key' is missing or malformed; send the key from your snippet")
    return site_key


def parse_batch(data: dict[str, Any], now_ms: int | None = None) -> Batch:
    """Validate a decoded batch; raises BadRequest naming the first field that is wrong.

    With `now_ms` (the server's clock), event times must also be believable: from 2000 on
    and at most a day ahead.
    """
    version = data.get("v", 1)
    if version != 1:
        raise BadRequest(f"unsupported batch version {str(version)[:20]!r}; this server speaks v=1")
    site_key = _site_key(data)
    seq = data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 10_000_000:
        raise BadRequest("'seq' must be a whole number from 0 up", code="bad_field")
    page = data.get("page") or {}
    if not isinstance(page, dict):
        raise BadRequest("'page' must be an object {url, title, referrer}", code="bad_field")
    left = data.get("left", False)
    if not isinstance(left, bool):
        raise BadRequest("'left' must be true or false", code="bad_field")
    return Batch(
        site_key=site_key,
        visitor_id=_id(data, "visitor_id"),
        session_id=_id(data, "session_id"),
        page_id=_id(data, "page_id"),
        seq=seq,
        events=_events(data.get("events"), now_ms),
        url=_text(page, "url"),
        title=_text(page, "title", 500),
        referrer=_text(page, "referrer"),
        left=left,
        screen=_size(data.get("screen"), "screen"),
        viewport=_size(data.get("viewport"), "viewport"),
        visitor=_visitor(data.get("visitor")),
    )


@dataclass(frozen=True)
class Heartbeat:
    site_key: str
    visitor_id: str
    session_id: str
    page_id: str


def parse_heartbeat(data: dict[str, Any]) -> Heartbeat:
    return Heartbeat(
        _site_key(data), _id(data, "visitor_id"), _id(data, "session_id"), _id(data, "page_id")
    )
