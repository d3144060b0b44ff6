"""Accessibility in real Chromium: axe-core over every dashboard page, the login page and the
share page, at a laptop's and a phone's size — no serious or critical violation, and no page
wider than the window. A screenshot of each page at both sizes is kept in test-artifacts/
for a person to look at."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from footage.accounts.service import demo_site
from tests.browser.conftest import log_in, start_demo
from tests.browser.test_alerts import visitor_writes
from tests.browser.test_player_fit import demo_recording

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"laptop": (1366, 768), "phone": (390, 844)}
# Serious and critical: what keeps someone from using the page. Moderate and minor findings
# are reported by the helper too, for a person to weigh, but do not fail the suite.
BLOCKING = ("serious", "critical")
loaded = "() => document.readyState === 'complete'"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[dict[str, Any]]:
    """The demo with what every page shows when in use: a recording, a conversation, a share
    link."""
    server, login = start_demo(tmp_path_factory.mktemp("accessibility"))
    site = demo_site(server.services.db)
    assert site is not None
    server.services.db.run("UPDATE sites SET chat_enabled = 1 WHERE id = :s", {"s": site["id"]})
    server.services.ingest.forget_site(site["site_key"])
    rec = demo_recording(browser, server, login)
    visitor_writes(server, "Where is my order?", 1)
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    conversations = httpx.get(f"{server.url}/api/v1/conversations", headers=auth).json()
    share = httpx.post(
        f"{server.url}/api/v1/recordings/{rec['id']}/share-links",
        headers=auth,
        json={"expires_in": "1h"},
    )
    assert share.status_code == 201, share.text
    yield {
        "server": server,
        "login": login,
        "recording": rec["id"],
        "conversation": conversations["items"][0]["id"],
        "share": share.json()["path"],
        "site": site["id"],
        "visitor": "vis-accessibility-01",  # not recorded: the view says why
    }
    server.stop()


def dashboard_pages(shop: dict[str, Any]) -> dict[str, str]:
    """Each page's name (for its screenshot) and address."""
    return {
        "recordings": "/recordings",
        "recordings-bad-filter": "/recordings?min_duration=20x",  # the error beside the field
        "player": f"/recordings/{shop['recording']}",
        "conversations": "/conversations",
        "conversation": f"/conversations/{shop['conversation']}",
        "pages": "/pages",
        "heatmaps": "/heatmaps",
        "heatmap": "/heatmaps?url=" + shop["server"].url.split("//")[1] + "/demo/",
        "install": "/install",
        "usage": "/usage",
        "settings": "/settings",
        "team": "/team",
        "api-docs": "/api/docs",
        "live-visitors": "/live",
        "live-view": f"/live/{shop['site']}/{shop['visitor']}",
    }


def audit(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now."""
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
    )
    return list(result)


def described(path: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        nodes = "; ".join(
            " ".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
            for n in v["nodes"][:4]
        )
        lines.append(f"{path}: [{v['impact']}] {v['id']}: {v['help']} — {nodes}")
    return "\n".join(lines)


@pytest.mark.parametrize("size", list(SIZES))
def test_no_serious_or_critical_violation_on_any_page(browser, shop, artifacts, size):
    server = shop["server"]
    width, height = SIZES[size]
    # The pages' Content-Security-Policy would refuse axe's script, added by the test.
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    found: dict[str, list[dict[str, Any]]] = {}
    wide: dict[str, int] = {}

    played = "() => window.footagePlayer && window.footagePlayer.getTotalTime() > 0"

    def check(name: str, path: str) -> None:
        page.goto(f"{server.url}{path}")
        page.wait_for_function(played if name in ("player", "share") else loaded)
        found[path] = audit(page)
        # Nothing cut off: the page is never wider than the window (wide tables scroll
        # inside themselves).
        wide[name] = page.evaluate("() => document.documentElement.scrollWidth")
        page.screenshot(path=str(artifacts / f"a11y_{size}_{name}.png"), full_page=True)

    check("login", "/login")
    check("share", shop["share"])
    log_in(page, server.url, shop["login"])
    for name, path in dashboard_pages(shop).items():
        check(name, path)
    # What opens on the player page: the keys, the share dialog, the download menu.
    player = f"/recordings/{shop['recording']}"
    page.goto(f"{server.url}{player}")
    page.wait_for_function(played)
    page.keyboard.press("Shift+Slash")
    page.locator("#player .fp-help").wait_for(state="visible")
    found[player + " (keys)"] = audit(page)
    page.keyboard.press("Escape")
    page.click("[data-share-open]")
    page.locator(".share-dialog").wait_for(state="visible")
    # The active links load after the dialog opens: audit the rows, not a half-drawn list.
    page.locator(".share-dialog[aria-busy=false]").wait_for()
    found[player + " (share)"] = audit(page)
    page.click("[data-share-close]")
    page.click("details.download summary")
    page.locator(".download-menu").wait_for(state="visible")
    found[player + " (download)"] = audit(page)
    context.close()
    (artifacts / f"a11y_{size}.json").write_text(json.dumps(found, indent=1))
    assert {n: w for n, w in wide.items() if w > width} == {}
    blocking = {p: [v for v in vs if v["impact"] in BLOCKING] for p, vs in found.items()}
    assert not any(blocking.values()), "\n" + "\n".join(
        described(p, vs) for p, vs in blocking.items() if vs
    )
