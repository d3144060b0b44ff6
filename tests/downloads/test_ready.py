"""The renderer waits for its frame page under that page's policy (no eval), however late the
page says it is ready: a loaded machine makes the first look find nothing."""

from __future__ import annotations

from footage.chromium import chromium_path
from footage.downloads.render import VIDEO_ARGS, _wait_until_ready

PAGE = "<!doctype html><html><body><script src='/late.js'></script></body></html>"
# Ready only after the renderer's first look, as a big recording is on a busy machine.
LATE = "setTimeout(() => { document.body.dataset.state = 'ready'; }, 1000);"
POLICY = {"Content-Security-Policy": "script-src 'self'"}


def test_a_page_ready_after_the_first_look_is_waited_for_under_its_policy():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=VIDEO_ARGS)
        try:
            page = browser.new_page()
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
            browser.close()
