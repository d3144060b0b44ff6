"""/api/docs in real Chromium: Swagger UI, served by Footage itself, draws the API's
operations under the dashboard's Content-Security-Policy, and the page asks nothing of any
other host (footage/web/api_docs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from footage.web.csp import DASHBOARD
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_the_api_docs_render_under_the_policy_from_this_server_only(
    live: LiveServer, browser: Any, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    requests: list[str] = []
    violations: list[str] = []

    def network(route: Any) -> None:
        requests.append(route.request.url)
        if route.request.url.startswith(live.url + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", network)
    page = context.new_page()
    page.on("console", lambda m: violations.append(m.text) if "Security" in m.text else None)
    page.on("pageerror", lambda e: violations.append(f"page error: {e}"))
    try:
        response = page.goto(f"{live.url}/api/docs")
        assert response is not None and response.status == 200
        assert response.headers["content-security-policy"] == DASHBOARD
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = page.eval_on_selector_all(
            ".opblock-summary-path", "els => els.map(e => e.textContent.trim())"
        )
        assert any("/api/v1/recordings" in p for p in paths), paths
        assert any("/api/v1/ingest" in p for p in paths), paths
        assert page.locator(".info .title").inner_text().startswith("Footage")
        page.screenshot(path=str(artifacts / "api-docs.png"))
    finally:
        context.close()
    assert requests, "the page made no request at all"
    assert all(url.startswith(live.url + "/") for url in requests), requests
    assert not violations, violations
