"""The addresses of the stylesheets, images and fonts a recorded page used, read from its events.

The same places `web/src/inert.ts` looks at before replay: element attributes that load
something (`src`, `srcset`, `poster`, a stylesheet's or icon's `href`), CSS text (rrweb's
inlined `_cssText`, `style` attributes, `<style>` text, inserted rules, declarations, adopted
stylesheets) and web fonts added from script. Only absolute http(s) addresses: rrweb makes the
page's own addresses absolute, and `data:` or `blob:` ones are in the recording already.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urljoin

from footage.rrweb import (
    ADOPTED_STYLE_SHEET,
    FONT,
    FULL_SNAPSHOT,
    INCREMENTAL,
    MUTATION,
    NODE_ELEMENT,
    NODE_TEXT,
    STYLE_DECLARATION,
    STYLE_SHEET_RULE,
)

MAX_URL_LENGTH = 2_000
# What one batch may ask to keep: a page with more images than this keeps the first ones.
MAX_URLS_PER_BATCH = 300

_CSS_URL = re.compile(
    r"""url\(\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|((?:[^'"()\s\\]|\\.)*))\s*\)""",
    re.IGNORECASE | re.DOTALL,
)
_CSS_IMPORT = re.compile(r"""@import\s+(["'])([^"'\n]*)\1""", re.IGNORECASE)
_LOADING = ("src", "poster", "background")
_KEPT_RELS = re.compile(r"\b(stylesheet|icon)\b", re.IGNORECASE)


def css_urls(text: str, base: str | None = None) -> Iterator[str]:
    """Every `url()` and `@import` address in CSS text (resolved against `base` when given)."""
    for match in _CSS_URL.finditer(text):
        raw = match.group(1) or match.group(2) or match.group(3) or ""
        yield urljoin(base, raw) if base else raw
    for match in _CSS_IMPORT.finditer(text):
        yield urljoin(base, match.group(2)) if base else match.group(2)


def srcset_urls(value: str) -> Iterator[str]:
    """The addresses of a `srcset` (each candidate: an address, then an optional descriptor)."""
    for candidate in value.split(","):
        parts = candidate.split()
        if parts:
            yield parts[0]


def keepable(url: str) -> bool:
    """An absolute http(s) address of reasonable length."""
    return len(url) <= MAX_URL_LENGTH and url[:8].lower().startswith(("http://", "https://"))


def _node(node: Any, out: list[str]) -> None:
    if not isinstance(node, dict):
        return
    if node.get("type") == NODE_TEXT and node.get("isStyle"):
        text = node.get("textContent")
        if isinstance(text, str):
            out.extend(css_urls(text))
    elif node.get("type") == NODE_ELEMENT:
        _attributes(str(node.get("tagName", "")).lower(), node.get("attributes"), out)
    children = node.get("childNodes")
    if isinstance(children, list):
        for child in children:
            _node(child, out)


def _attributes(tag: str, attributes: Any, out: list[str]) -> None:
    if not isinstance(attributes, dict):
        return
    for name, value in attributes.items():
        if not isinstance(value, str):
            continue
        lower = name.lower()
        if lower in _LOADING:
            out.append(value)
        elif lower in ("srcset", "imagesrcset"):
            out.extend(srcset_urls(value))
        elif lower in ("style", "_csstext"):
            out.extend(css_urls(value))
        elif (
            lower == "href" and tag == "link" and _KEPT_RELS.search(str(attributes.get("rel", "")))
        ):
            out.append(value)


def _list(value: Any) -> list[Any]:
    """A field that should hold a list; anything else a client sent holds nothing here."""
    return value if isinstance(value, list) else []


def _rules(sheet: Any, out: list[str]) -> None:
    if not isinstance(sheet, dict):
        return
    for key in ("adds", "rules"):
        for add in _list(sheet.get(key)):
            if isinstance(add, dict) and isinstance(add.get("rule"), str):
                out.extend(css_urls(add["rule"]))
    for key in ("replace", "replaceSync"):
        if isinstance(sheet.get(key), str):
            out.extend(css_urls(sheet[key]))


def _event(event: dict[str, Any], out: list[str]) -> None:
    data = event.get("data")
    if not isinstance(data, dict):
        return
    if event.get("type") == FULL_SNAPSHOT:
        _node(data.get("node"), out)
        return
    if event.get("type") != INCREMENTAL:
        return
    source = data.get("source")
    if source == MUTATION:
        for add in _list(data.get("adds")):
            if isinstance(add, dict):
                _node(add.get("node"), out)
        for change in _list(data.get("attributes")):
            if isinstance(change, dict):
                # A mutation carries no tag name: a link's href may be its stylesheet's.
                _attributes("link", change.get("attributes"), out)
    elif source == STYLE_SHEET_RULE:
        _rules(data, out)
    elif source == ADOPTED_STYLE_SHEET:
        for sheet in _list(data.get("styles")):
            _rules(sheet, out)
    elif source == STYLE_DECLARATION:
        value = (data.get("set") or {}).get("value") if isinstance(data.get("set"), dict) else None
        if isinstance(value, str):
            out.extend(css_urls(value))
    elif source == FONT and not data.get("buffer") and isinstance(data.get("fontSource"), str):
        out.extend(css_urls(data["fontSource"]))


def asset_urls(events: Iterable[dict[str, Any]]) -> list[str]:
    """The distinct asset addresses these events use, in order of appearance (capped)."""
    found: list[str] = []
    for event in events:
        if isinstance(event, dict):
            _event(event, found)
    kept: dict[str, None] = {}
    for url in found:
        url = url.strip()
        if keepable(url):
            kept.setdefault(url, None)
            if len(kept) >= MAX_URLS_PER_BATCH:
                break
    return list(kept)
