"""Page addresses split without raising (footage/urls.py)."""

from urllib.parse import urlsplit

import pytest

from footage.urls import split_url


@pytest.mark.parametrize(
    "url",
    ["https://shop.example:8443/a/b?x=1&y=2#top", "/cart?id=3", "", "mailto:ann@example.com"],
)
def test_what_urlsplit_takes_is_split_as_urlsplit_does(url):
    assert split_url(url) == urlsplit(url)


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        (
            "https://al[ice.example/cart?utm_source=x#f",
            ("https", "al[ice.example", "/cart", "utm_source=x", "f"),
        ),
        ("HTTP://[::1", ("http", "[::1", "", "", "")),
        ("https://a]b.example?q", ("https", "a]b.example", "", "q", "")),
        ("//[x/p", ("", "", "//[x/p", "", "")),
    ],
)
def test_what_urlsplit_refuses_is_split_by_hand(url, parts):
    with pytest.raises(ValueError):
        urlsplit(url)
    assert tuple(split_url(url)) == parts
