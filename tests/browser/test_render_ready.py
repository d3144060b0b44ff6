"""The renderer waits for its frame page under that page's policy (no eval), however late the
page says it is ready: a loaded machine makes the first look find nothing."""

from __future__ import annotations

import pytest

from footage.downloads.render import _wait_until_ready

pytestmark = pytest.mark.browser

PAGE = "<!doctype html><html><body><script src='/late.js'></script></body></html>"
# Ready only after the renderer's first look, as a big recording is on a busy machine.
LATE = "setTimeout(() => { document.body.dataset.state = 'ready'; }, 1000);"
POLICY = {"Content-Security-Policy": "script-src 'self'"}


def test_a_page_ready_after_the_first_look_is_waited_for_under_its_policy(browser):
    # (`browser`: the suite's Chromium, the same binary and flags the renderer starts.)
    page = browser.new_page()
    try:
        page.route(
            "http://frames.test/",
            lambda route: route.fulfill(body=PAGE, content_type="text/html", headers=POLICY),
        )
        page.route(
            "http://frames.test/late.js",
            lambda route: route.fulfill(body=LATE, content_type="application/javascript"),
        )
        page.goto("http://frames.test/")
        _wait_until_ready(page, lambda: True, limit_s=30)
        assert page.evaluate("() => document.body.dataset.state") == "ready"
    finally:
        page.close()
