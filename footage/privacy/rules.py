"""Who and what is never recorded: excluded pages, excluded visitors, devices, DNT/GPC.

Pure functions; the recorder applies the same rules in the browser (web/src/recorder.ts), the
server applies them again when the config is asked for and when a batch arrives.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from footage.store.regex import PatternError, compile_pattern, escape
from footage.urls import split_url

MAX_PATTERNS = 200
MAX_PATTERN_LENGTH = 500
# The most steps all of a site's excluded pages may compile to together: every page address
# of every batch meets all of them (about 100 ms of matching for a 4,000-character address
# at worst; patterns people write take a few dozen steps each).
MAX_PAGES_PROGRAM = 20_000


class RuleError(ValueError):
    """A pattern or address list that cannot be used; the message says which line and why."""


# ---- excluded pages -------------------------------------------------------------------------


@dataclass(frozen=True)
class PagePattern:
    """One line of `excluded_pages`.

    `re:<regex>` is searched anywhere in the full URL. Otherwise `*` matches any run of
    characters and the pattern must match the whole URL — or, when it starts with `/`, the
    path with its query string (so `/account/*` works on every domain of the site).

    Both run on RE2 (store/regex.py): a site's pattern is matched against every page of
    every batch its visitors send, so it must take linear time whatever it says.
    """

    source: str
    regex: Any  # a compiled RE2 pattern
    path_only: bool

    def matches(self, url: str) -> bool:
        if self.path_only:
            parts = split_url(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            return self.regex.fullmatch(target or "/") is not None
        if self.source.startswith("re:"):
            return self.regex.search(url) is not None
        return self.regex.fullmatch(url.split("#", 1)[0]) is not None


def wildcard_regex(pattern: str) -> str:
    return ".*".join(escape(part) for part in pattern.split("*"))


def parse_page_patterns(text: str) -> list[PagePattern]:
    """`excluded_pages` text (one pattern per line) → patterns; raises RuleError on a bad line."""
    lines = [line.strip() for line in text.splitlines()]
    patterns: list[PagePattern] = []
    for number, line in enumerate(lines, 1):
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_PATTERN_LENGTH:
            raise RuleError(f"excluded_pages line {number} is longer than {MAX_PATTERN_LENGTH}")
        if line.startswith("re:"):
            try:
                regex = compile_pattern(line[3:])
            except PatternError as exc:
                raise RuleError(f"excluded_pages line {number} ({line[3:]!r}): {exc}") from None
            patterns.append(PagePattern(line, regex, path_only=False))
        else:
            try:
                # Wildcards compile to a literal and `.*`s only: their size is their length.
                regex = compile_pattern(wildcard_regex(line), ignore_case=True, max_program=None)
            except PatternError as exc:  # only a pattern too large for RE2's memory
                raise RuleError(f"excluded_pages line {number}: {exc}") from None
            patterns.append(PagePattern(line, regex, path_only=line.startswith("/")))
    if len(patterns) > MAX_PATTERNS:
        raise RuleError(f"excluded_pages may hold at most {MAX_PATTERNS} patterns")
    steps = sum(p.regex.programsize for p in patterns)
    if steps > MAX_PAGES_PROGRAM:
        raise RuleError(
            f"excluded_pages are too complex together ({steps} steps, at most "
            f"{MAX_PAGES_PROGRAM}); use fewer or simpler patterns (* matches any characters)"
        )
    return patterns


@lru_cache(maxsize=1024)
def _compiled_pages(text: str) -> tuple[PagePattern, ...]:
    try:
        return tuple(parse_page_patterns(text))
    except RuleError:
        pass
    # Validated on save, but a value saved before RE2 may hold a line it cannot run (a
    # lookahead, a backreference). Ingest must go on: the lines that work still apply, and a
    # line that cannot run excludes every page — the site asked for some pages never to be
    # recorded and which ones can no longer be told, so none is recorded until it is fixed.
    patterns: list[PagePattern] = []
    for line in text.splitlines():
        try:
            patterns.extend(parse_page_patterns(line))
        except RuleError:
            patterns.append(PagePattern(line.strip(), compile_pattern("(?s).*"), path_only=False))
    return tuple(patterns)


def page_excluded(url: str, excluded_pages: str) -> bool:
    if not excluded_pages.strip() or not url:
        return False
    return any(p.matches(url) for p in _compiled_pages(excluded_pages))


# ---- excluded visitors (IP addresses and ranges) -------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> list[Network]:
    """`excluded_visitors` text (IPs or CIDR ranges, one per line) → networks."""
    networks: list[Network] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            networks.append(ipaddress.ip_network(line, strict=False))
        except ValueError:
            raise RuleError(
                f"excluded_visitors line {number}: {line!r} is not an IP address or a range "
                "like 203.0.113.0/24"
            ) from None
    if len(networks) > MAX_PATTERNS:
        raise RuleError(f"excluded_visitors may hold at most {MAX_PATTERNS} entries")
    return networks


@lru_cache(maxsize=1024)
def _compiled_networks(text: str) -> tuple[Network, ...]:
    try:
        return tuple(parse_networks(text))
    except RuleError:
        return ()


def ip_excluded(ip: str | None, excluded_visitors: str) -> bool:
    if not ip or not excluded_visitors.strip():
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in net for net in _compiled_networks(excluded_visitors))


# ---- devices and browser signals -----------------------------------------------------------

# Phones and tablets, by the tokens their browsers put in the User-Agent. iPadOS 13+ claims to
# be a Mac; the recorder catches those by touch support, the server cannot.
_MOBILE = re.compile(
    r"Mobi|Android|iPhone|iPad|iPod|Windows Phone|IEMobile|BlackBerry|BB10|Opera Mini|"
    r"Silk/|Kindle|webOS|Tablet",
    re.IGNORECASE,
)


def is_mobile(user_agent: str) -> bool:
    return bool(_MOBILE.search(user_agent or ""))


def asks_not_to_be_tracked(headers: Mapping[str, str]) -> bool:
    """`Sec-GPC: 1` (Global Privacy Control) or `DNT: 1` (Do Not Track)."""
    return headers.get("sec-gpc", "").strip() == "1" or headers.get("dnt", "").strip() == "1"


def clean_lines(values: Iterable[str]) -> str:
    return "\n".join(v.strip() for v in values if v.strip())
