"""The masks: what of a page, its typed text and its addresses a recording may keep.

A site owner chooses three things (`MaskRules`; True means it IS recorded, False means masked):

- ``forms``   — typed values (inputs, textareas, selects, contenteditable areas);
- ``numbers`` — digits;
- ``emails``  — e-mail addresses.

All three default to False. Passwords and whatever sits inside ``data-recording-ignore="mask"``
are masked whatever the rules. A masked character becomes ``*``, one per character (code point),
so a replay still shows that something was there and how long it was.

The browser applies these rules before sending (``web/src/masking.ts``, a line-by-line mirror of
this module) and the server applies them again to every incoming rrweb event before storing
(the backstop against outdated or modified recorders). Both must produce the very same output;
change them together.

Definitions
-----------

``mask_all(s)``
    Every character (code point) becomes ``*``, whitespace too; the length is kept.

E-mail address
    A local part of 1+ characters from ``[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]``, then ``@`` or its
    percent-encoded form ``%40`` (no letters in it, so case does not matter), then a domain of
    labels ``[A-Za-z0-9-]+`` joined by ``.``, at least two labels. Masked is every *maximal* such
    span: for each ``@``/``%40`` followed by a valid domain (longest run of labels) and preceded
    by a local-part character, from the start of the run of local-part characters before it to
    the end of the domain. That is exactly the set of characters the regular expression
    ``[local]+(?:@|%40)label(?:\\.label)+`` can match anywhere in the text (a superset of what
    one left-to-right ``re.sub`` would replace when addresses overlap, as in ``a@b.c@d.e``), and
    it runs in linear time: a plain regular expression backtracks quadratically on long runs of
    local-part characters (base64 in a stylesheet, say) followed by an ``@``.

Digit
    Any Unicode decimal digit (category Nd) from the fixed table ``_DECIMAL_DIGITS`` below
    (Unicode 17). The table is spelled out so that Python's and each browser's own Unicode
    versions cannot make the two sides differ.

``mask_text(s, rules)``
    E-mail addresses masked unless ``rules.emails``, then digits unless ``rules.numbers``.

``scrub_url(url, rules)``
    E-mail addresses masked anywhere (``%40`` form too) unless ``rules.emails``; digits masked
    from the first ``?`` or ``#`` on unless ``rules.numbers`` (path digits are kept: product
    ids). The query's position is taken before the e-mail mask, which may swallow the ``?``.

``mask_value(value, rules, sensitive)``
    Typed text: ``mask_all`` when ``sensitive`` (a password, a field inside an ignore="mask"
    area) or when ``rules.forms`` is off; ``mask_text`` otherwise.

The event walk (``scrub_events``)
---------------------------------

- Text nodes: parent ``<script>`` → kept; ``isStyle`` or parent ``<style>`` → e-mails only
  (digits are CSS); inside ``data-recording-ignore="mask"`` → ``mask_all``; inside a
  ``<textarea>`` or a ``contenteditable`` element (not ``"false"``) → ``mask_value`` (typed
  text); otherwise ``mask_text``. Comments and CDATA follow the same rule.
- Element attributes (string values only): ``value`` of ``input``/``textarea``/``select`` (for
  inputs of every type but checkbox, radio, submit, button, reset, image) → ``mask_value``,
  sensitive for passwords (``type=password`` or rrweb's ``data-rr-is-password``) and inside
  ignore="mask" areas — a password's value is masked even when everything is recorded.
  ``value`` of other elements, ``title``, ``alt``, ``placeholder``, ``aria-label``,
  ``aria-description``, ``aria-valuetext``, ``label``, ``summary``, ``content`` of ``<meta>``
  and ``data-*`` → ``mask_text`` (``mask_all`` inside ignore="mask" areas). ``href``, ``src``,
  ``action``, ``formaction``, ``cite``, ``poster``, ``xlink:href`` → ``scrub_url``; ``srcset``
  → ``scrub_url`` on each whitespace-separated token, so width descriptors survive.
  ``rr_dataURL`` is skipped; everything else (``class``, ``style``, ``_cssText``, the
  ``data-recording-ignore`` marker…) → e-mails only. ``selected`` of ``<option>`` (the
  choice of a select) is removed unless ``rules.forms``, as rrweb does for masked selects.
- Mutations (incremental source 0): removed ids are forgotten; attribute changes follow the
  attribute rules, with the tag unknown: ``value`` → ``mask_value`` (``mask_all`` for ids known
  as passwords or ignored), ``content`` → ``mask_text``, style diffs → e-mails only; added nodes
  are walked like the snapshot, in the context (ignored, typed, style) the state knows for their
  parent; text changes follow the text-node rule for what the state knows of their id.
- Input (source 5): ``text`` → ``mask_value``, sensitive when the state knows the id as a
  password or inside an ignore="mask" area; ``isChecked`` is kept.
- Mouse moves, clicks, scrolls, resizes, touch moves, media, drags and selections (sources 1,
  2, 3, 4, 6, 7, 12, 14) carry only numbers and are skipped; every other source → e-mails
  masked in every string inside.
- Meta (type 4): ``href`` → ``scrub_url``.
- Custom (type 5) with ``tag`` exactly ``"footage.event"`` (the site's own ``footage('event',
  name, props)``): kept as it is — values the site chose to send, so the site's masks do not
  apply (like the identity it sends with ``footage('identify', …)``).
- Other custom events (type 5): every string in ``payload`` (dict keys too) → ``mask_text``,
  except strings directly under the keys ``source``, ``url``, ``href`` → ``scrub_url``; ``tag``
  is kept.
- Plugin (type 6): every string in ``payload`` (dict keys too) → ``mask_text``.
- Unknown event types: every string in ``data`` → ``mask_text``.

The state (``PageMaskState``) remembers, per page view, which node ids are passwords, inside
ignore="mask" areas, typed (textarea, contenteditable) or stylesheets, so that an input event in
a later batch is masked correctly — this is how the server keeps a password typed in a later
batch masked even when typed text is recorded. A full snapshot starts it afresh (rrweb numbers
the nodes anew). It holds at most ``max_ids`` ids; once full, every id it does not know is
treated as sensitive (masked entirely), the safe side.

Malformed events never raise: what is not understood is left as it is. Should the walk fail
anyway, the event's strings are all masked (fail closed).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

from footage.rrweb import (
    CUSTOM,
    DOM_CONTENT_LOADED,
    DRAG,
    EVENT_TAG,
    FULL_SNAPSHOT,
    INCREMENTAL,
    INPUT,
    LOAD,
    MEDIA_INTERACTION,
    META,
    MOUSE_INTERACTION,
    MOUSE_MOVE,
    MUTATION,
    NODE_CDATA,
    NODE_COMMENT,
    NODE_DOCUMENT,
    NODE_ELEMENT,
    NODE_TEXT,
    PLUGIN,
    SCROLL,
    SELECTION,
    TOUCH_MOVE,
    VIEWPORT_RESIZE,
)

__all__ = [
    "MaskRules",
    "PageMaskState",
    "mask_all",
    "mask_text",
    "mask_value",
    "scrub_events",
    "scrub_url",
]

# Unicode decimal digits (category Nd, Unicode 17), as hex code point ranges. The same table is
# in web/src/masking.ts: neither side trusts its own runtime's Unicode version.
_DECIMAL_DIGITS: Final = """
0030-0039 0660-0669 06F0-06F9 07C0-07C9 0966-096F 09E6-09EF 0A66-0A6F 0AE6-0AEF
0B66-0B6F 0BE6-0BEF 0C66-0C6F 0CE6-0CEF 0D66-0D6F 0DE6-0DEF 0E50-0E59 0ED0-0ED9
0F20-0F29 1040-1049 1090-1099 17E0-17E9 1810-1819 1946-194F 19D0-19D9 1A80-1A89
1A90-1A99 1B50-1B59 1BB0-1BB9 1C40-1C49 1C50-1C59 A620-A629 A8D0-A8D9 A900-A909
A9D0-A9D9 A9F0-A9F9 AA50-AA59 ABF0-ABF9 FF10-FF19 104A0-104A9 10D30-10D39 10D40-10D49
11066-1106F 110F0-110F9 11136-1113F 111D0-111D9 112F0-112F9 11450-11459 114D0-114D9
11650-11659 116C0-116C9 116D0-116E3 11730-11739 118E0-118E9 11950-11959 11BF0-11BF9
11C50-11C59 11D50-11D59 11DA0-11DA9 11DE0-11DE9 11F50-11F59 16130-16139 16A60-16A69
16AC0-16AC9 16B50-16B59 16D70-16D79 1CCF0-1CCF9 1D7CE-1D7FF 1E140-1E149 1E2F0-1E2F9
1E4F0-1E4F9 1E5F1-1E5FA 1E950-1E959 1FBF0-1FBF9
"""


def _digit_pattern() -> str:
    ranges = []
    for pair in _DECIMAL_DIGITS.split():
        first, last = pair.split("-")
        ranges.append(f"{chr(int(first, 16))}-{chr(int(last, 16))}")
    return "[" + "".join(ranges) + "]"


_DIGITS: Final = re.compile(_digit_pattern())
_D: Final = _digit_pattern()
# Page text with numbers masked but not all of them: the numbers that identify people go,
# the rest (prices, quantities, dates, times, years) stays readable. Tried left to right at
# each place: a date or a time is kept whole; any other run of digits (single spaces, dots,
# hyphens, slashes and brackets between them, a leading '+' or '(') is masked when it has at
# least PERSONAL_DIGITS digits (phone, card, account and id numbers), or is international
# ('+' and at least 6). Each branch consumes a digit per repetition: linear time.
PERSONAL_DIGITS: Final = 7
INTERNATIONAL_DIGITS: Final = 6  # after a leading '+'
_DATE: Final = (
    rf"{_D}{{4}}-{_D}{{1,2}}-{_D}{{1,2}}(?!{_D})"
    rf"|{_D}{{1,2}}[./]{_D}{{1,2}}[./]{_D}{{2,4}}(?!{_D})"
    rf"|{_D}{{1,2}}\. ?{_D}{{1,2}}\. ?{_D}{{4}}(?!{_D})"
)
_TIME: Final = rf"{_D}{{1,2}}:{_D}{{2}}(?::{_D}{{2}})?(?!{_D})"
# A run stops before a date or a time ("€12.50 2026-12-03": a price, then a date).
_NUMBER: Final = re.compile(
    rf"(?P<date>{_DATE})|(?P<time>{_TIME})"
    rf"|(?P<run>[+(]?{_D}(?:[ ().\-/]{{0,2}}(?!{_DATE}|{_TIME}){_D})*)"
)
# The same expression for ASCII text, whose only decimal digits are 0-9: the one range instead
# of Unicode's seventy makes it several times faster, and the server masks every text node of
# every snapshot with it.
_NUMBER_ASCII: Final = re.compile(_NUMBER.pattern.replace(_D, "[0-9]"))
# A text with fewer digits than this in all has no number to mask.
_FEWEST_MASKED_DIGITS: Final = min(PERSONAL_DIGITS, INTERNATIONAL_DIGITS)
_DROP_ASCII_DIGITS: Final = str.maketrans("", "", "0123456789")
# Where a long text may be cut for mask_personal_numbers: no token contains or touches it.
_NUMBER_CUT: Final = re.compile(r"[^ ().\-/+:" + _D[1:-1] + "]")
# A long text is masked a slice at a time: one call holds the GIL for its whole run, and one
# over a 20 MB text stopped every other thread (the server's event loop) for seconds. A digit
# is one character, so slicing cannot change the result; in ASCII text the only digits are
# 0-9, which a translation table masks some ten times faster than the regular expression.
_DIGIT_SLICE: Final = 65_536
_ASCII_DIGITS: Final = str.maketrans("0123456789", "*" * 10)


def _mask_digit_slice(s: str) -> str:
    return s.translate(_ASCII_DIGITS) if s.isascii() else _DIGITS.sub("*", s)


def _mask_digits(s: str) -> str:
    if len(s) <= _DIGIT_SLICE:
        return _mask_digit_slice(s)
    step = _DIGIT_SLICE
    return "".join(_mask_digit_slice(s[i : i + step]) for i in range(0, len(s), step))


_LOCAL_CHARS: Final = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~.-"
_LOCAL_SET: Final = frozenset(_LOCAL_CHARS)
# The anchor and the domain only; the local part is found by walking back from the anchor (see
# the module docstring for why). Neither '@' nor '%' can occur in a domain, so the
# non-overlapping matches of this pattern are every anchor with a valid domain.
_AT_DOMAIN: Final = re.compile(r"(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_QUERY_START: Final = re.compile(r"[?#]")
# One `name=value` of a query string or fragment.
_QUERY_PARAM: Final = re.compile(r"[^?#&;]+")


def _mask_param_digits(m: re.Match[str]) -> str:
    # utm_* values are the site's own campaign names (black-friday-2026), not visitors' data.
    param = m.group()
    return param if param[:4].lower() == "utm_" else _DIGITS.sub("*", param)


# The pieces of a URL between its delimiters (see scrub_url).
_URL_PART: Final = re.compile(r"[^/?&=#;]+")
# A piece that starts with the '@' of an address whose local part ended at a delimiter.
_BARE_ADDRESS: Final = re.compile(r"(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", re.IGNORECASE)


def _mask_url_part(part: str) -> str:
    part = _mask_emails(part)
    bare = _BARE_ADDRESS.match(part)
    return "*" * bare.end() + part[bare.end() :] if bare else part


# ASCII whitespace as HTML defines it for srcset (not \s, which differs between Python and JS).
_SRCSET_TOKEN: Final = re.compile(r"[^\t\n\f\r ]+")


@dataclass(frozen=True, slots=True)
class MaskRules:
    """What a site records. True: it IS recorded; False: it is masked."""

    forms: bool = False
    numbers: bool = False
    emails: bool = False
    # With numbers masked: every digit of the page's text (True), or only the numbers that
    # identify people (False, the default: see mask_personal_numbers). Typed digits are all
    # masked either way.
    all_numbers: bool = False

    @property
    def recorded_everything(self) -> bool:
        """All three recorded: only passwords and ignore="mask" areas are still masked."""
        return self.forms and self.numbers and self.emails


def mask_all(s: str) -> str:
    """Every character (whitespace too) replaced by ``*``; the length is kept."""
    return "*" * len(s)


def _mask_emails(s: str) -> str:
    if "@" not in s and "%40" not in s:
        return s
    pieces: list[str] = []
    done = 0  # s[:done] is in pieces already
    for match in _AT_DOMAIN.finditer(s):
        at, end = match.span()
        if at == 0 or s[at - 1] not in _LOCAL_SET:
            continue  # no local part
        # The local part runs back to the first non-local character; it stops at `done`, as
        # what lies before is masked already (the run continues into the previous address).
        before = s[done:at]
        start = done + len(before.rstrip(_LOCAL_CHARS))
        pieces.append(s[done:start])
        pieces.append("*" * (end - start))
        done = end
    if not pieces:
        return s
    pieces.append(s[done:])
    return "".join(pieces)


def _mask_number(m: re.Match[str]) -> str:
    run = m.group("run")
    if run is None:
        return m.group()  # a date or a time
    digits = len(_DIGITS.findall(run))
    if digits >= PERSONAL_DIGITS or (run[0] == "+" and digits >= INTERNATIONAL_DIGITS):
        return _DIGITS.sub("*", run)
    return run


def mask_personal_numbers(s: str) -> str:
    """The numbers of page text that identify people masked (see _NUMBER), the rest kept.

    A long text is masked a slice at a time (see _DIGIT_SLICE), cut only where no number
    can be, so the result is the same as in one piece."""
    # Most texts of a page have no digit at all, and most of the others a price, a quantity
    # or a date: too few digits in all for any run of them to be masked, so nothing to run
    # (a large page's snapshot: 3,690 texts, 1,805 with a digit, 1 with six or more).
    if s.isascii():
        if len(s) - len(s.translate(_DROP_ASCII_DIGITS)) < _FEWEST_MASKED_DIGITS:
            return s
        number = _NUMBER_ASCII
    else:
        if not _DIGITS.search(s):
            return s
        number = _NUMBER
    pieces, start = [], 0
    while len(s) - start > _DIGIT_SLICE:
        cut = _NUMBER_CUT.search(s, start + _DIGIT_SLICE)
        if cut is None:
            break
        pieces.append(number.sub(_mask_number, s[start : cut.start()]))
        start = cut.start()
    pieces.append(number.sub(_mask_number, s[start:]))
    return "".join(pieces)


def mask_text(s: str, rules: MaskRules) -> str:
    """Page text: e-mail addresses masked unless recorded, then numbers unless recorded: every
    digit with ``rules.all_numbers``, else those that identify people."""
    if not rules.emails:
        s = _mask_emails(s)
    if not rules.numbers:
        s = _mask_digits(s) if rules.all_numbers else mask_personal_numbers(s)
    return s


def mask_value(value: str, rules: MaskRules, sensitive: bool) -> str:
    """Typed text: all masked when ``sensitive`` or typed text is not recorded, else mask_text
    with every digit masked (a typed number is the visitor's own)."""
    if sensitive or not rules.forms:
        return "*" * len(value)
    if not rules.numbers and not rules.all_numbers:
        rules = replace(rules, all_numbers=True)
    return mask_text(value, rules)


def scrub_url(url: str, rules: MaskRules) -> str:
    """An address: e-mails masked anywhere, digits in the query and fragment (not the path)."""
    if not isinstance(url, str) or not url:
        return url
    query = _QUERY_START.search(url) if not rules.numbers else None
    if not rules.emails:
        # Part by part: '/', '?', '=' and '&' are legal in an e-mail's local part, and one
        # address must not mask the whole rest of the URL.
        url = _URL_PART.sub(lambda m: _mask_url_part(m.group()), url)
    if query is not None:
        cut = query.start()
        url = url[:cut] + _QUERY_PARAM.sub(_mask_param_digits, url[cut:])
    return url


# Rules that mask e-mail addresses (or not) and nothing else, by rules.emails.
_EMAILS_ONLY: Final = {
    False: MaskRules(forms=True, numbers=True, emails=False),
    True: MaskRules(forms=True, numbers=True, emails=True),
}


def _scrub_srcset(srcset: str, rules: MaskRules) -> str:
    # Images: e-mails only. Digits in image URLs are sizes and versions, not visitors' data,
    # and masking them would break the replay.
    only = _EMAILS_ONLY[rules.emails]
    return _SRCSET_TOKEN.sub(lambda m: scrub_url(m.group(), only), srcset)


# ---- the state of one page view -----------------------------------------------------------

# What is known of a node id (bits). _IGNORED and _TYPED are inherited by descendants.
_PASSWORD: Final = 1  # a password field (never recorded)
_IGNORED: Final = 2  # inside data-recording-ignore="mask" (never recorded)
_TYPED: Final = 4  # a textarea or inside a contenteditable area: its text is typed
_STYLE: Final = 8  # a <style> element or a stylesheet's text: digits are CSS
_SENSITIVE: Final = _PASSWORD | _IGNORED
_INHERITED: Final = _IGNORED | _TYPED


def _int(value: object) -> int | None:
    """A JSON integer as JavaScript sees it (2.0 is 2; true is not 1)."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


class PageMaskState:
    """What earlier events of one page view said about its nodes (which ids are passwords…).

    Keep one per page view and pass it to every ``scrub_events`` call of that page, so an input
    event in a later batch is masked as its field requires. Only nodes that need remembering
    (passwords, ignore="mask" areas, typed areas, stylesheets) are stored, at most ``max_ids``;
    beyond that every unknown id counts as sensitive. Not thread-safe for concurrent batches of
    the same page (dict updates under the GIL cannot corrupt it, but a batch may miss the marks
    of a batch processed at the same moment).
    """

    __slots__ = ("_flags", "max_ids", "saturated")

    def __init__(self, max_ids: int = 50_000) -> None:
        self._flags: dict[int, int] = {}
        self.max_ids = max_ids
        self.saturated = False

    def __len__(self) -> int:
        return len(self._flags)

    def flags(self, node_id: object) -> int:
        """The bits known for ``node_id``; sensitive when unknown and the state is full."""
        nid = _int(node_id)
        found = self._flags.get(nid) if nid is not None else None
        if found is None:
            return _SENSITIVE if self.saturated else 0
        return found

    def is_sensitive(self, node_id: object) -> bool:
        """A password field, or inside an ignore="mask" area (or unknown to a full state)."""
        return bool(self.flags(node_id) & _SENSITIVE)

    def mark(self, node_id: object, flags: int) -> None:
        """Remember ``flags`` for ``node_id`` (bits are only ever added)."""
        nid = _int(node_id)
        if nid is None:
            return
        known = self._flags.get(nid)
        if known is not None:
            self._flags[nid] = known | flags
        elif len(self._flags) < self.max_ids:
            self._flags[nid] = flags
        else:
            self.saturated = True

    def forget(self, node_id: object) -> None:
        """A node left the page (its descendants' marks stay: they only ever mask more)."""
        nid = _int(node_id)
        if nid is not None:
            self._flags.pop(nid, None)

    def reset(self) -> None:
        """A full snapshot: rrweb numbers every node anew."""
        self._flags.clear()
        self.saturated = False


# ---- the event walk -------------------------------------------------------------------------

# Incremental sources with ids, coordinates and offsets only.
_NUMBERS_ONLY: Final = frozenset(
    {
        MOUSE_MOVE,
        MOUSE_INTERACTION,
        SCROLL,
        VIEWPORT_RESIZE,
        TOUCH_MOVE,
        MEDIA_INTERACTION,
        DRAG,
        SELECTION,
    }
)

# How an attribute is masked.
_A_OTHER: Final = 0  # e-mails only
_A_VALUE: Final = 1  # typed for form fields, text elsewhere
_A_TEXT: Final = 2  # mask_text
_A_CONTENT: Final = 3  # mask_text on <meta>, e-mails only elsewhere
_A_URL: Final = 4
_A_SRCSET: Final = 5
_A_SKIP: Final = 6
_ATTRIBUTES: Final[dict[str, int]] = {
    "value": _A_VALUE,
    "title": _A_TEXT,
    "alt": _A_TEXT,
    "placeholder": _A_TEXT,
    "aria-label": _A_TEXT,
    "aria-description": _A_TEXT,
    "aria-valuetext": _A_TEXT,
    "label": _A_TEXT,
    "summary": _A_TEXT,
    "content": _A_CONTENT,
    "href": _A_URL,
    "src": _A_OTHER,  # a resource, not an address the visitor typed or followed
    "action": _A_URL,
    "formaction": _A_URL,
    "cite": _A_URL,
    "poster": _A_OTHER,
    "xlink:href": _A_URL,
    "srcset": _A_SRCSET,
    "rr_dataURL": _A_SKIP,
    # Markers read by the masks themselves; masking them would lose what they say.
    "data-recording-ignore": _A_OTHER,
    "data-rr-is-password": _A_OTHER,
}
_FIELDS: Final = frozenset({"input", "textarea", "select"})
# Inputs whose value the site wrote, not the visitor.
_BUTTON_INPUTS: Final = frozenset({"checkbox", "radio", "submit", "button", "reset", "image"})
# Custom event payload keys holding addresses.
_URL_KEYS: Final = frozenset({"source", "url", "href"})


def _rekey(obj: dict[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    """``obj`` with its keys through ``fn`` (a new dict, same order, only when a key changes)."""
    keys = [fn(key) if type(key) is str else key for key in obj]
    if all(new is old or new == old for new, old in zip(keys, obj, strict=True)):
        return obj
    rebuilt: dict[str, Any] = {}
    for key, value in zip(keys, obj.values(), strict=True):
        rebuilt[key] = value
    return rebuilt


def _map_strings(
    root: Any,
    fn: Callable[[str], str],
    url_fn: Callable[[str], str] | None = None,
    keys: bool = False,
) -> Any:
    """Every string inside ``root`` through ``fn``, in place; returns the (new) root.

    Strings directly under the keys in ``_URL_KEYS`` go through ``url_fn`` when given; dict keys
    go through ``fn`` too when ``keys`` (such dicts are rebuilt). Iterative: any depth.
    """
    root_type = type(root)
    if root_type is str:
        return fn(root)
    if root_type is dict:
        if keys:
            root = _rekey(root, fn)
    elif root_type is not list:
        return root
    stack: list[Any] = [root]
    while stack:
        container = stack.pop()
        if type(container) is dict:
            items: Any = container.items()
        else:
            items = enumerate(container)
        for key, value in items:
            value_type = type(value)
            if value_type is str:
                if value:
                    if url_fn is not None and key in _URL_KEYS:
                        container[key] = url_fn(value)
                    else:
                        container[key] = fn(value)
            elif value_type is dict:
                if keys:
                    rebuilt = _rekey(value, fn)
                    if rebuilt is not value:
                        container[key] = rebuilt
                        value = rebuilt
                stack.append(value)
            elif value_type is list:
                stack.append(value)
    return root


class _Masker:
    """One ``scrub_events`` call: the rules, the state, and the walk."""

    __slots__ = ("rules", "typed_rules", "state", "forms", "numbers", "emails", "everything")

    def __init__(self, rules: MaskRules, state: PageMaskState) -> None:
        self.rules = rules
        # Typed text, when recorded: every digit masked unless numbers are (see mask_value).
        self.typed_rules = rules if rules.numbers else replace(rules, all_numbers=True)
        self.state = state
        self.forms = rules.forms
        self.numbers = rules.numbers
        self.emails = rules.emails
        self.everything = rules.recorded_everything

    def text(self, s: str) -> str:
        return mask_text(s, self.rules)

    def typed(self, s: str) -> str:
        return mask_text(s, self.typed_rules)

    def url(self, s: str) -> str:
        return scrub_url(s, self.rules)

    def by_flags(self, s: str, flags: int) -> str:
        """Text of a node the state knows ``flags`` of."""
        if flags & _STYLE:
            return s if self.emails else _mask_emails(s)
        if flags & _SENSITIVE or (flags & _TYPED and not self.forms):
            return "*" * len(s)
        return self.typed(s) if flags & _TYPED else self.text(s)

    # -- events --

    def event(self, event: dict[str, Any]) -> None:
        kind = _int(event.get("type"))
        data = event.get("data")
        if kind == INCREMENTAL:
            if type(data) is not dict:
                return
            source = _int(data.get("source"))
            if source in _NUMBERS_ONLY:
                return
            if source == MUTATION:
                self.mutation(data)
            elif source == INPUT:
                text = data.get("text")
                if type(text) is str and text:
                    if self.state.flags(data.get("id")) & _SENSITIVE or not self.forms:
                        data["text"] = "*" * len(text)
                    else:
                        data["text"] = self.typed(text)
            elif not self.emails:
                _map_strings(data, _mask_emails)
        elif kind == FULL_SNAPSHOT:
            self.state.reset()
            if type(data) is dict:
                self.node(data.get("node"), "", 0)
        elif kind in (DOM_CONTENT_LOADED, LOAD):
            return  # nothing in them
        elif self.everything:
            return  # no password can be in these
        elif kind == META:
            if type(data) is dict:
                href = data.get("href")
                if type(href) is str and href:
                    data["href"] = scrub_url(href, self.rules)
        elif kind == CUSTOM:
            # The site's own events are never masked (see the module docstring).
            if type(data) is dict and "payload" in data and data.get("tag") != EVENT_TAG:
                data["payload"] = _map_strings(data["payload"], self.text, self.url, keys=True)
        elif kind == PLUGIN:
            if type(data) is dict and "payload" in data:
                data["payload"] = _map_strings(data["payload"], self.text, keys=True)
        elif "data" in event:
            event["data"] = _map_strings(data, self.text)

    # -- serialized nodes (rrweb-snapshot) --

    def node(self, root: Any, parent_tag: str, context: int) -> None:
        """Walk a serialized node and its children; ``context``: inherited bits."""
        state = self.state
        stack: list[tuple[Any, str, int]] = [(root, parent_tag, context)]
        while stack:
            node, parent, ctx = stack.pop()
            if type(node) is not dict:
                continue
            kind = node.get("type")
            if kind == NODE_ELEMENT:
                tag = node.get("tagName")
                tag = tag.lower() if type(tag) is str else ""
                attributes = node.get("attributes")
                own = ctx
                password = False
                if type(attributes) is dict:
                    if attributes.get("data-recording-ignore") == "mask":
                        own |= _IGNORED
                    editable = attributes.get("contenteditable")
                    if type(editable) is str and editable.lower() != "false":
                        own |= _TYPED
                    if tag == "input":
                        input_type = attributes.get("type")
                        password = (
                            type(input_type) is str and input_type.lower() == "password"
                        ) or "data-rr-is-password" in attributes
                if tag == "textarea":
                    own |= _TYPED
                marks = own
                if password:
                    marks |= _PASSWORD
                if tag == "style":
                    marks |= _STYLE
                if marks:
                    state.mark(node.get("id"), marks)
                if type(attributes) is dict and attributes:
                    self.element_attributes(tag, attributes, own, password)
                children = node.get("childNodes")
                if type(children) is list:
                    for child in children:
                        stack.append((child, tag, own))
            elif kind == NODE_TEXT:
                if parent == "script":
                    continue
                flags = ctx
                if node.get("isStyle") is True or parent == "style":
                    flags |= _STYLE
                if flags:
                    state.mark(node.get("id"), flags)
                text = node.get("textContent")
                if type(text) is str and text:
                    node["textContent"] = self.by_flags(text, flags)
            elif kind in (NODE_COMMENT, NODE_CDATA):
                text = node.get("textContent")
                if type(text) is str and text:
                    node["textContent"] = self.by_flags(text, ctx)
            elif kind == NODE_DOCUMENT and kind is not False:
                children = node.get("childNodes")
                if type(children) is list:
                    for child in children:
                        stack.append((child, "", ctx))

    def element_attributes(
        self, tag: str, attributes: dict[str, Any], ctx: int, password: bool
    ) -> None:
        if tag == "option" and not self.forms and "selected" in attributes:
            del attributes["selected"]  # the choice of a select is a typed value
        ignored = ctx & _IGNORED
        if self.everything and not ignored and not password:
            return  # nothing else is masked when everything is recorded
        input_type = ""
        if tag == "input":
            value = attributes.get("type")
            if type(value) is str:
                input_type = value.lower()
        for name, value in attributes.items():
            if type(value) is not str or not value:
                continue
            how = _ATTRIBUTES.get(name)
            if how is None:
                how = _A_TEXT if name.startswith("data-") else _A_OTHER
            if how == _A_VALUE:
                if tag in _FIELDS and (password or input_type not in _BUTTON_INPUTS):
                    if password or ignored or not self.forms:
                        attributes[name] = "*" * len(value)
                    else:
                        attributes[name] = self.text(value)
                    continue
                how = _A_TEXT
            elif how == _A_CONTENT:
                how = _A_TEXT if tag == "meta" else _A_OTHER
            if how == _A_TEXT:
                attributes[name] = "*" * len(value) if ignored else self.text(value)
            elif how == _A_OTHER:
                if not self.emails:
                    attributes[name] = _mask_emails(value)
            elif how == _A_URL:
                attributes[name] = scrub_url(value, self.rules)
            elif how == _A_SRCSET:
                attributes[name] = _scrub_srcset(value, self.rules)

    # -- mutations --

    def mutation(self, data: dict[str, Any]) -> None:
        state = self.state
        removes = data.get("removes")
        if type(removes) is list:
            for removed in removes:
                if type(removed) is dict:
                    state.forget(removed.get("id"))
        # Attributes before adds: a node that became an ignored or editable area in this very
        # mutation passes that on to the children added below it.
        changes = data.get("attributes")
        if type(changes) is list:
            for change in changes:
                if type(change) is dict:
                    attributes = change.get("attributes")
                    if type(attributes) is dict and attributes:
                        self.mutation_attributes(change.get("id"), attributes)
        adds = data.get("adds")
        if type(adds) is list:
            for add in adds:
                if type(add) is dict:
                    flags = state.flags(add.get("parentId"))
                    parent = "style" if flags & _STYLE else ""
                    self.node(add.get("node"), parent, flags & _INHERITED)
        texts = data.get("texts")
        if type(texts) is list:
            for change in texts:
                if type(change) is dict:
                    value = change.get("value")
                    if type(value) is str and value:
                        change["value"] = self.by_flags(value, state.flags(change.get("id")))

    def mutation_attributes(self, node_id: Any, attributes: dict[str, Any]) -> None:
        """Changed attributes of a node whose tag is not known here."""
        marks = 0
        input_type = attributes.get("type")
        if type(input_type) is str and input_type.lower() == "password":
            marks |= _PASSWORD
        if type(attributes.get("data-rr-is-password")) is str:
            marks |= _PASSWORD
        if attributes.get("data-recording-ignore") == "mask":
            marks |= _IGNORED
        editable = attributes.get("contenteditable")
        if type(editable) is str and editable.lower() != "false":
            marks |= _TYPED
        if marks:
            self.state.mark(node_id, marks)
        flags = self.state.flags(node_id) | marks
        sensitive = flags & _SENSITIVE
        if self.everything and not sensitive:
            return
        ignored = flags & _IGNORED
        for name, value in attributes.items():
            value_type = type(value)
            if value_type is dict:  # a style diff: {property: value | [value, priority] | false}
                if not self.emails:
                    _map_strings(value, _mask_emails)
                continue
            if value_type is not str or not value:
                continue
            how = _ATTRIBUTES.get(name)
            if how is None:
                how = _A_TEXT if name.startswith("data-") else _A_OTHER
            if how == _A_VALUE:
                # The tag is unknown: a field's value for all we know (the safe side).
                if sensitive or not self.forms:
                    attributes[name] = "*" * len(value)
                else:
                    attributes[name] = self.text(value)
            elif how in (_A_TEXT, _A_CONTENT):
                attributes[name] = "*" * len(value) if ignored else self.text(value)
            elif how == _A_OTHER:
                if not self.emails:
                    attributes[name] = _mask_emails(value)
            elif how == _A_URL:
                attributes[name] = scrub_url(value, self.rules)
            elif how == _A_SRCSET:
                attributes[name] = _scrub_srcset(value, self.rules)


def scrub_events(
    events: list[dict[str, Any]], rules: MaskRules, state: PageMaskState | None = None
) -> list[dict[str, Any]]:
    """Mask a batch of rrweb events in place, by the rules in the module docstring.

    ``state`` carries what a page's earlier batches said about its nodes (pass the same one for
    every batch of a page view); without it, only this batch's snapshot is known. Returns
    ``events`` itself. Never raises on malformed events: what it does not understand it leaves
    as it is, and an event whose walk fails anyway has every string in its data masked.
    """
    if type(events) is not list:
        return events
    masker = _Masker(rules, state if state is not None else PageMaskState())
    for event in events:
        if type(event) is not dict:
            continue
        try:
            masker.event(event)
        except Exception:  # pragma: no cover - fail closed; the walk is written not to raise
            if "data" in event:
                event["data"] = _map_strings(event["data"], mask_all)
    return events
