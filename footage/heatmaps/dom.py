"""A mirror of one page view's DOM, rebuilt from rrweb events, that names clicked elements.

`PageDom.load` takes a FullSnapshot's `data["node"]`; `PageDom.apply` takes each DOM mutation's
`data` (incremental source 0) in time order, applied the way rrweb's replayer does: removes,
then adds, then texts, then attributes. An add whose `nextId` names a node that is not there
yet waits for it (it may come later in the same batch); if it never comes the node is
appended. Unknown ids are ignored and malformed parts skipped, because recordings get cut.
Per-mutation work is proportional to the change; selectors and texts are computed on demand.

`target(id)` is what a click on a node means: its element (a text node's parent; for SVG
shapes the nearest non-SVG ancestor, the button holding the icon), then the nearest
interactive ancestor-or-self at most 6 levels up (links, buttons, form controls, ARIA roles,
onclick, tabindex), else that element.

`selector(id)` is a CSS selector that `document.querySelector` accepts and that matches
exactly that element in the page rebuilt from the same events:

1. `#id` when the element has a stable id that is unique in the mirror. Ids are unstable when
   they hold 3+ consecutive digits, a hex run of 8+ characters with a digit (UUIDs, hashes),
   or come from generators (`ember12`, `react-…`, `:r0:`, `radix-…`, `headlessui-…`,
   `mui-12`). Ids are escaped like `CSS.escape` does.
2. Else `[data-testid="…"]`, `[data-test]`, `[data-cy]` or `[data-footage]` (in that order)
   when the value is unique in the mirror.
3. Else the tag, up to 2 stable classes, and `:nth-of-type(k)` when a sibling element has the
   same tag; then ` > ` and the parent's selector, recursively, until an ancestor matched by
   rule 1 or 2 or `body`. `html` and `body` are always just `html` and `body`; a root element
   that is neither is `:root`. Unstable classes: 3+ digits, CSS-in-JS prefixes (`css-`, `sc-`,
   `jsx-`, `svelte-`, `emotion-`), hash-like parts (5+ characters mixing letters and digits),
   anything CSS would need escaped, and state words (`active`, `open`, `is-*`, `has-*`…).

Selectors are relative to the element's own document: elements inside iframes or shadow roots
get selectors that only their own document (or shadow root) can resolve.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from footage.rrweb import (
    MUTATION,
    NODE_CDATA,
    NODE_COMMENT,
    NODE_DOCUMENT,
    NODE_ELEMENT,
    NODE_TEXT,
)

INDEXED = ("id", "data-testid", "data-test", "data-cy", "data-footage")
TEST_ATTRIBUTES = INDEXED[1:]
INTERACTIVE_TAGS = {"button", "input", "select", "textarea", "label", "summary", "option"}
INTERACTIVE_ROLES = {"button", "link", "menuitem", "tab", "checkbox", "radio", "switch", "option"}
NOT_TYPED = {"button", "submit", "reset", "image", "checkbox", "radio", "file", "range", "color"}
NOT_TYPED |= {"hidden"}
SKIPPED_TEXT = {"script", "style", "noscript", "template"}
BLOCK_TAGS = {
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
}
STATE_CLASSES = {
    "active",
    "hover",
    "focus",
    "focused",
    "open",
    "opened",
    "selected",
    "visible",
    "hidden",
    "disabled",
    "checked",
    "current",
    "expanded",
    "collapsed",
    "show",
    "shown",
}
TARGET_LEVELS = 6
TEXT_BUDGET = 2000  # characters gathered by text()
NODE_BUDGET = 10_000  # nodes visited by text(), for huge subtrees without text

_UNSTABLE_ID = re.compile(
    r"\d{3}|^ember\d+$|^react-|^:.*:$|^«.*»$|^radix-|^headlessui-|^mui-\d+", re.IGNORECASE
)
_HEX_RUN = re.compile(r"[0-9a-f]{8,}", re.IGNORECASE)
_PLAIN_CLASS = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")
_GENERATED_CLASS = re.compile(r"\d{3}|^(?:css|sc|jsx|svelte|emotion)-|^(?:is|has)-", re.I)
_MIXED_PART = re.compile(r"(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{5,}")


class Node:
    """One mirrored node; children are kept in document order."""

    __slots__ = ("id", "type", "tag", "attrs", "text", "parent", "children", "svg")

    def __init__(self, node_id: int, node_type: int, parent: int | None) -> None:
        self.id = node_id
        self.type = node_type
        self.tag = ""
        self.attrs: dict[str, str] = {}
        self.text = ""
        self.parent = parent
        self.children: list[int] = []
        self.svg = False


_Add = tuple[int, int, "int | None", dict[str, Any]]  # (order, parentId, nextId, node)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _attr_value(value: Any) -> str | None:
    """rrweb attribute values are strings, sometimes booleans or numbers; others are skipped."""
    if isinstance(value, str):
        return value
    if value is True:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def css_escape(value: str) -> str:
    """`CSS.escape` from the CSSOM spec, for identifiers such as ids."""
    out = []
    for i, ch in enumerate(value):
        code = ord(ch)
        if code == 0:
            out.append("\ufffd")
        elif 1 <= code <= 0x1F or code == 0x7F or (ch in "0123456789" and _leading(value, i)):
            out.append(f"\\{code:x} ")
        elif i == 0 and ch == "-" and len(value) == 1:
            out.append("\\-")
        elif code >= 0x80 or ch in "-_" or (ch.isascii() and ch.isalnum()):
            out.append(ch)
        else:
            out.append("\\" + ch)
    return "".join(out)


def _leading(value: str, i: int) -> bool:
    """Whether position i is where an identifier may not start with a digit."""
    return i == 0 or (i == 1 and value[0] == "-")


def css_string(value: str) -> str:
    """A double-quoted CSS string, as CSSOM serializes one."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if code == 0:
            out.append("\ufffd")
        elif 1 <= code <= 0x1F or code == 0x7F:
            out.append(f"\\{code:x} ")
        elif ch in '"\\':
            out.append("\\" + ch)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def stable_id(value: str) -> bool:
    if not value.strip() or _UNSTABLE_ID.search(value):
        return False
    return not any(any(c.isdigit() for c in run) for run in _HEX_RUN.findall(value))


def stable_class(name: str) -> bool:
    if not _PLAIN_CLASS.match(name) or name.lower() in STATE_CLASSES:
        return False
    if _GENERATED_CLASS.search(name):
        return False
    return not any(_MIXED_PART.fullmatch(part) for part in re.split(r"[-_]+", name))


class PageDom:
    """The DOM of one page view, kept up to date from rrweb events."""

    def __init__(self) -> None:
        self._nodes: dict[int, Node] = {}
        # (attribute, value) -> how many elements carry it, for the uniqueness of rules 1 and 2.
        self._index: dict[tuple[str, str], int] = {}
        self.root_id: int | None = None

    # --- building -------------------------------------------------------------------------

    def load(self, node: dict[str, Any]) -> None:
        """Start over from a FullSnapshot's serialized document."""
        self._nodes = {}
        self._index = {}
        self.root_id = None
        if not isinstance(node, dict):
            return
        added = self._build(node, None)
        if added and self._nodes[added[0]].type == NODE_DOCUMENT:
            self.root_id = added[0]

    def apply(self, mutation: dict[str, Any]) -> None:
        """Apply one mutation event's data, in rrweb's order: removes, adds, texts, attributes."""
        if not isinstance(mutation, dict) or mutation.get("source", MUTATION) != MUTATION:
            return
        for remove in _dicts(mutation.get("removes")):
            node_id = _int(remove.get("id"))
            if node_id is not None:
                self._remove(node_id)
        self._apply_adds(_dicts(mutation.get("adds")))
        for change in _dicts(mutation.get("texts")):
            node = self._node(_int(change.get("id")))
            if node is not None and node.type in (NODE_TEXT, NODE_CDATA, NODE_COMMENT):
                value = change.get("value")
                node.text = value if isinstance(value, str) else ""
        for change in _dicts(mutation.get("attributes")):
            node = self._node(_int(change.get("id")))
            attributes = change.get("attributes")
            if node is None or node.type != NODE_ELEMENT or not isinstance(attributes, dict):
                continue
            for name, raw in attributes.items():
                if isinstance(name, str) and (raw is None or _attr_value(raw) is not None):
                    self._set_attr(node, name, None if raw is None else _attr_value(raw))

    def _apply_adds(self, adds: list[dict[str, Any]]) -> None:
        # An add waits for its parent and its next sibling; inserting a node wakes up the adds
        # waiting for it, so a batch costs O(its size) whatever its order.
        waiting: dict[int, list[_Add]] = {}

        def run(first: _Add, lenient: bool) -> None:
            queue = deque([first])
            while queue:
                entry = queue.popleft()
                _, parent_id, next_id, node = entry
                if lenient and entry is first and next_id not in self._nodes:
                    next_id = None
                blocker = parent_id if parent_id not in self._nodes else next_id
                if blocker is not None and blocker not in self._nodes:
                    waiting.setdefault(blocker, []).append(entry)
                    continue
                for new_id in self._insert(parent_id, next_id, node):
                    queue.extend(waiting.pop(new_id, ()))

        for order, add in enumerate(adds):
            parent_id, node = _int(add.get("parentId")), add.get("node")
            if parent_id is not None and isinstance(node, dict):
                run((order, parent_id, _int(add.get("nextId")), node), lenient=False)
        # Adds whose next sibling never came are appended, in the order they were sent; adds
        # whose parent never came are dropped.
        while waiting:
            left = sorted((e for entries in waiting.values() for e in entries), key=lambda e: e[0])
            waiting.clear()
            progressed = False
            for entry in left:
                if entry[1] in self._nodes:
                    run(entry, lenient=True)
                    progressed = True
                else:
                    waiting.setdefault(entry[1], []).append(entry)
            if not progressed:
                return

    def _insert(self, parent_id: int, next_id: int | None, node: dict[str, Any]) -> list[int]:
        """Mirror `node` under parent_id before next_id (or last); returns the new ids."""
        node_id = _int(node.get("id"))
        if node_id is None:
            return []
        if node_id in self._nodes:
            # Already there (a move without its remove): take it out first, unless that would
            # take out the parent itself.
            if self._is_ancestor_or_self(node_id, parent_id):
                return []
            self._remove(node_id)
        added = self._build(node, parent_id)
        if not added:
            return []
        siblings = self._nodes[parent_id].children
        following = self._nodes.get(next_id) if next_id is not None else None
        if following is not None and following.parent == parent_id and next_id in siblings:
            siblings.insert(siblings.index(following.id), added[0])
        else:
            siblings.append(added[0])
        return added

    def _build(self, top: dict[str, Any], parent_id: int | None) -> list[int]:
        """Mirror a serialized subtree under parent_id, except linking its top into the
        parent's children; returns the new ids, top first."""
        added: list[int] = []
        stack: list[tuple[Any, int | None]] = [(top, parent_id)]
        while stack:
            raw, parent = stack.pop()
            if not isinstance(raw, dict):
                continue
            node_id, node_type = _int(raw.get("id")), _int(raw.get("type"))
            if node_id is None or node_type is None or node_id in self._nodes:
                continue
            node = Node(node_id, node_type, parent)
            above = self._node(parent)
            if node_type == NODE_ELEMENT:
                tag = raw.get("tagName")
                node.tag = tag.lower() if isinstance(tag, str) else ""
                inherited = above is not None and above.svg and above.tag != "foreignobject"
                node.svg = bool(raw.get("isSVG")) or node.tag == "svg" or inherited
                attributes = raw.get("attributes")
                if isinstance(attributes, dict):
                    for name, value in attributes.items():
                        text = _attr_value(value)
                        if isinstance(name, str) and text is not None:
                            self._set_attr(node, name, text)
            elif node_type in (NODE_TEXT, NODE_CDATA, NODE_COMMENT):
                text = raw.get("textContent")
                node.text = text if isinstance(text, str) else ""
            self._nodes[node_id] = node
            if added and above is not None:
                above.children.append(node_id)
            added.append(node_id)
            children = raw.get("childNodes")
            if isinstance(children, list):
                stack.extend((child, node_id) for child in reversed(children))
        return added

    def _set_attr(self, node: Node, name: str, value: str | None) -> None:
        if name in INDEXED:
            old = node.attrs.get(name)
            if old is not None:
                self._count(name, old, -1)
            if value is not None:
                self._count(name, value, 1)
        if value is None:
            node.attrs.pop(name, None)
        else:
            node.attrs[name] = value

    def _count(self, name: str, value: str, delta: int) -> None:
        key = (name, value)
        count = self._index.get(key, 0) + delta
        if count > 0:
            self._index[key] = count
        else:
            self._index.pop(key, None)

    def _remove(self, node_id: int) -> None:
        node = self._nodes.get(node_id)
        if node is None:
            return
        parent = self._node(node.parent)
        if parent is not None and node_id in parent.children:
            parent.children.remove(node_id)
        stack = [node_id]
        while stack:
            gone = self._nodes.pop(stack.pop(), None)
            if gone is None:
                continue
            for name in INDEXED:
                if name in gone.attrs:
                    self._count(name, gone.attrs[name], -1)
            stack.extend(gone.children)
        if node_id == self.root_id:
            self.root_id = None

    def _node(self, node_id: int | None) -> Node | None:
        return self._nodes.get(node_id) if node_id is not None else None

    def _is_ancestor_or_self(self, ancestor: int, node_id: int | None) -> bool:
        while node_id is not None:
            if node_id == ancestor:
                return True
            node = self._nodes.get(node_id)
            node_id = node.parent if node is not None else None
        return False

    # --- questions ------------------------------------------------------------------------

    def has(self, node_id: int) -> bool:
        return node_id in self._nodes

    def tag(self, node_id: int) -> str | None:
        node = self._nodes.get(node_id)
        return node.tag if node is not None and node.type == NODE_ELEMENT else None

    def attr(self, node_id: int, name: str) -> str | None:
        node = self._nodes.get(node_id)
        return node.attrs.get(name) if node is not None else None

    def _element(self, node_id: int) -> Node | None:
        """The node if it is an element, else its nearest element ancestor."""
        node = self._nodes.get(node_id)
        while node is not None and node.type != NODE_ELEMENT:
            node = self._node(node.parent)
        return node

    def _parent_element(self, node: Node) -> Node | None:
        parent = self._node(node.parent)
        return parent if parent is not None and parent.type == NODE_ELEMENT else None

    def target(self, node_id: int) -> int | None:
        """The element a click on node_id means (see the module docstring)."""
        element = self._element(node_id)
        while element is not None and element.svg:
            element = self._parent_element(element)
        if element is None:
            return None
        candidate: Node | None = element
        for _ in range(TARGET_LEVELS + 1):
            if candidate is None or candidate.tag in ("body", "html"):
                break
            if _interactive(candidate):
                return candidate.id
            candidate = self._parent_element(candidate)
        return element.id

    def selector(self, node_id: int) -> str:
        """A CSS selector matching exactly this element (rules in the module docstring)."""
        element = self._element(node_id)
        parts: list[str] = []
        while element is not None:
            part, anchored = self._step(element)
            parts.append(part)
            if anchored:
                break
            element = self._parent_element(element)
        return " > ".join(reversed(parts))

    def _step(self, node: Node) -> tuple[str, bool]:
        """One element's part of a selector, and whether it is unique on its own."""
        if node.tag in ("html", "body"):
            return node.tag, True
        parent = self._node(node.parent)
        if parent is not None and parent.type == NODE_DOCUMENT:
            return ":root", True
        element_id = node.attrs.get("id")
        if element_id and stable_id(element_id) and self._index.get(("id", element_id)) == 1:
            return "#" + css_escape(element_id), True
        for name in TEST_ATTRIBUTES:
            value = node.attrs.get(name)
            if value and self._index.get((name, value)) == 1:
                return f"[{name}={css_string(value)}]", True
        part = node.tag or "*"
        classes = [c for c in dict.fromkeys(node.attrs.get("class", "").split()) if stable_class(c)]
        part += "".join("." + c for c in classes[:2])
        if parent is not None and node.tag:
            same = [c for c in parent.children if self._nodes[c].tag == node.tag]
            if len(same) > 1 and node.id in same:
                part += f":nth-of-type({same.index(node.id) + 1})"
        return part, parent is None

    def text(self, node_id: int, limit: int = 80) -> str:
        """What a person would call the element, cut at `limit` characters (with "…")."""
        node = self._element(node_id)
        if node is None or limit <= 0:
            return ""
        attrs = node.attrs
        kind = attrs.get("type", "").strip().lower()
        candidates = [attrs.get("aria-label")]
        if node.tag == "img" or (node.tag == "input" and kind == "image"):
            candidates.append(attrs.get("alt"))
        if node.tag == "input" and kind in ("submit", "button", "reset"):
            candidates.append(attrs.get("value"))
        candidates.append(attrs.get("title"))
        for candidate in candidates:
            if candidate and candidate.strip():
                return _cut(candidate, limit)
        return _cut(self._gather(node), limit)

    def _gather(self, top: Node) -> str:
        pieces: list[str] = []
        size = 0
        stack: list[int | str] = [top.id]
        visits = 0
        while stack and size < TEXT_BUDGET and visits < NODE_BUDGET:
            item = stack.pop()
            visits += 1
            if isinstance(item, str):
                pieces.append(item)
                continue
            node = self._nodes.get(item)
            if node is None:
                continue
            if node.type == NODE_TEXT:
                pieces.append(node.text[: TEXT_BUDGET - size])
                size += len(pieces[-1])
            elif node.type == NODE_ELEMENT and node.tag not in SKIPPED_TEXT:
                if node.tag == "img" and node.attrs.get("alt"):
                    pieces.append(f" {node.attrs['alt']} ")
                    size += len(node.attrs["alt"])
                gap = " " if node.tag in BLOCK_TAGS else ""
                stack.append(gap)
                stack.extend(reversed(node.children))
                pieces.append(gap)
        return "".join(pieces)

    def is_text_field(self, node_id: int) -> bool:
        """Whether the element takes typing: text-like input, textarea, select, contenteditable."""
        node = self._element(node_id)
        if node is None:
            return False
        if node.tag == "input":
            return node.attrs.get("type", "").strip().lower() not in NOT_TYPED
        if node.tag in ("textarea", "select"):
            return True
        candidate: Node | None = node
        while candidate is not None:
            editable = candidate.attrs.get("contenteditable")
            if editable is not None:
                return editable.strip().lower() != "false"
            candidate = self._parent_element(candidate)
        return False


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _interactive(node: Node) -> bool:
    attrs = node.attrs
    if node.tag in INTERACTIVE_TAGS or (node.tag == "a" and "href" in attrs):
        return True
    if attrs.get("role", "").strip().lower() in INTERACTIVE_ROLES:
        return True
    return "onclick" in attrs or "tabindex" in attrs


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
