"""Page addresses as visitors send them, split without raising.

`urllib.parse.urlsplit` raises ValueError for an address with an unclosed `[` in its host
(`https://al[ice.example/cart`). A browser never sends one, but anyone can, and ingest keeps a
page view's address as it came: whatever reads those addresses later (the finalizer's
campaign and referrer, the excluded pages, the copies of a page's assets) splits them here.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

# scheme:, then //host when there is one; the rest is path, query and fragment.
_HEAD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?://([^/?#]*))?")


def split_url(url: str) -> SplitResult:
    """`urlsplit(url)`; an address it refuses is split by hand: scheme, host (up to the first
    `/`, `?` or `#`), path, query and fragment, as the browser's address bar would show them."""
    try:
        return urlsplit(url)
    except ValueError:
        pass
    head = _HEAD.match(url)
    scheme, netloc, rest = "", "", url
    if head:
        scheme, netloc, rest = head.group(1).lower(), head.group(2) or "", url[head.end() :]
    rest, _, fragment = rest.partition("#")
    path, _, query = rest.partition("?")
    return SplitResult(scheme, netloc, path, query, fragment)
