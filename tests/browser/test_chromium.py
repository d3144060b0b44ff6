"""The Chromium that renders downloads and drives these tests runs the pages it is given, and
nothing of its own beside them."""

from __future__ import annotations


def test_a_new_context_opens_no_page_of_the_browsers_own(browser):
    # Chromium builds its address bar's drop-down as web pages (chrome://omnibox-popup…) for
    # each new window; a download's render is one such context, a test's visitor another.
    context = browser.new_context()
    page = context.new_page()
    page.goto("data:text/html,<p>A visitor's page</p>")
    session = browser.new_browser_cdp_session()
    try:
        targets = session.send("Target.getTargets")["targetInfos"]
    finally:
        session.detach()
        context.close()
    own = [t["url"] for t in targets if t["url"].startswith("chrome")]
    assert own == [], own
    assert any(t["url"].startswith("data:") for t in targets)
