"""A replay cannot make requests to Footage as whoever watches it, in real Chromium.

The replay frame is on Footage's own origin, and no script runs there, but a recorded page's
images, stylesheets, fonts and posters are still fetched. A recording (anyone can send one)
whose page points them at Footage (`<img src="/api/v1/recordings/…/download?format=mp4">`)
made the viewer's browser send those GETs with the login cookie: downloads were logged and
renders queued under the viewer's name. Two layers stop it, and each holds on its own:

- the server (footage/web/fetch_metadata.py): a request that a page loads by itself
  (`Sec-Fetch-Dest` image, style, font, video…) never carries the login: the API answers 403,
  the dashboard answers as to someone logged out;
- the player (`neutralise` in web/src/inert.ts): every URL of the replayed page that leads to
  Footage is taken out before replay, so no such request is even made.

The recording holds each kind of load (`<img src>`, `srcset`, `<link rel=stylesheet>`, a CSS
`url()` in a style attribute and in a `<style>`, `@import`, `@font-face`, `<video poster>`,
`<input type=image>`, SVG `<image>`, `background`), in its full snapshot and again in
mutations, stylesheet rules and a font event later in time, aimed at the downloads (JSON,
HTML, MP4), the video's status and dashboard pages, by absolute and relative URLs. It is
replayed while the recording's owner is logged in, with each layer alone, both, and neither
(which shows the attack works), on the dashboard's player, the share page and the heatmap.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from footage.web.cookies import SESSION_COOKIE
from footage.web.fetch_metadata import FetchMetadata
from tests.browser.conftest import log_in
from tests.browser.hostile import Nodes, flat_adds, mouse, mutation
from tests.conftest import (
    PASSWORD,
    LiveServer,
    batch,
    free_port,
    gz,
    new_ids,
    settings_for,
    start_server,
    wait_for,
)
from tests.downloads.recording import T0, account, record, wait_ready

pytestmark = pytest.mark.browser

TOTAL_MS = 5000
ATTACK_PAGE = "https://alice.example/attack"  # its own page on the heatmaps
TINY_GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
# The bundles hold this list once (web/src/inert.ts, PUBLIC_PATHS): making every path public
# turns the player's layer off.
PUBLIC_PATHS = '"/static/","/demo/"'


def targets(victim: str) -> list[str]:
    """What a crafted page would load as the viewer: Alice's own recording's downloads, its
    video, and dashboard pages."""
    return [
        f"/api/v1/recordings/{victim}/download?format=mp4",
        f"/api/v1/recordings/{victim}/download?format=json",
        f"/api/v1/recordings/{victim}/download?format=html",
        f"/api/v1/recordings/{victim}/video?x=1",
        f"/recordings/{victim}/download?format=mp4",
        f"/recordings/{victim}/download?format=json",
        f"/recordings/{victim}/download?format=html",
        f"/recordings/{victim}/video.json?x=1",
        f"/recordings/{victim}?x=1",
        "/settings?x=1",
    ]


class Urls:
    """Hands out the targets in turn, absolute and relative, each marked `via=<payload>` so the
    requests tell which payload made them."""

    def __init__(self, base: str, victim: str) -> None:
        self.base = base
        self.cycle = itertools.cycle(targets(victim))
        self.absolute = itertools.cycle([True, False])

    def __call__(self, via: str) -> str:
        path = f"{next(self.cycle)}&via={via}"
        return (self.base + path) if next(self.absolute) else path


def payloads(n: Nodes, url: Urls, tag: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Head and body nodes that each load a URL by themselves."""
    font = f"evil-{tag}"
    css = (
        f"@import url('{url(f'import-{tag}')}');\n"
        f'@import "{url(f"import-string-{tag}")}";\n'
        f".bg-{tag} {{ background-image: url({url(f'style-url-{tag}')}); }}\n"
        f'.set-{tag} {{ background-image: image-set("{url(f"image-set-{tag}")}" 1x); }}\n'
        f'@font-face {{ font-family: {font}; src: url("{url(f"font-{tag}")}"); }}\n'
        f".font-{tag} {{ font-family: {font}; }}\n"
    )
    head = [
        n.el("link", {"rel": "stylesheet", "href": url(f"stylesheet-{tag}")}),
        n.el("style", {}, [n.text(css)]),
    ]
    body = [
        n.el("h1", {"id": f"title-{tag}"}, [n.text(f"Loads ({tag})")]),
        n.el("img", {"src": url(f"img-{tag}"), "width": "20", "height": "20"}),
        n.el("img", {"src": TINY_GIF, "srcset": f"{url(f'srcset-{tag}')} 1x"}),
        n.el("div", {"style": f"height:20px;background:url('{url(f'style-attr-{tag}')}')"}),
        n.el("div", {"class": f"bg-{tag}", "style": "height:20px"}),
        n.el("div", {"class": f"set-{tag}", "style": "height:20px"}),
        n.el("p", {"class": f"font-{tag}"}, [n.text("text in the recorded font")]),
        n.el("video", {"poster": url(f"poster-{tag}"), "width": "40", "height": "30"}),
        n.el("input", {"type": "image", "src": url(f"input-image-{tag}"), "alt": "go"}),
        n.el(
            "svg",
            {"width": "20", "height": "20"},
            [
                n.el(
                    "image",
                    {"href": url(f"svg-image-{tag}"), "width": "20", "height": "20"},
                    svg=True,
                )
            ],
            svg=True,
        ),
        n.el(
            "table",
            {"background": url(f"table-{tag}")},
            [n.el("tbody", {}, [n.el("tr", {}, [n.el("td", {}, [n.text("cell")])])])],
        ),
    ]
    return head, body


def hostile_events(base: str, victim: str, start: int) -> list[dict[str, Any]]:
    """The page with every load in its snapshot, the same added at 1.5 s, URLs set on harmless
    elements at 2.5 s, a stylesheet rule and a font at 3 s."""
    n = Nodes(start=2)
    url = Urls(base, victim)
    head_nodes, body_nodes = payloads(n, url, "snapshot")
    harmless_img = n.el("img", {"id": "harmless-img", "src": TINY_GIF})
    harmless_div = n.el("div", {"id": "harmless-div", "style": "height:20px"})
    style = n.el("style", {}, [n.text("p { margin: 2px }")])
    head = n.el("head", {}, [*head_nodes, style])
    body = n.el(
        "body", {"style": "font: 14px sans-serif"}, [*body_nodes, harmless_img, harmless_div]
    )
    html = n.el("html", {}, [head, body])
    added_head, added_body = payloads(n, url, "added")
    adds = flat_adds(head["id"], added_head) + flat_adds(body["id"], added_body)
    return [
        {
            "type": 4,
            "data": {"href": ATTACK_PAGE, "width": 1280, "height": 720},
            "timestamp": start,
        },
        {
            "type": 2,
            "data": {
                "node": {"type": 0, "childNodes": [html], "id": 1},
                "initialOffset": {"left": 0, "top": 0},
            },
            "timestamp": start + 1,
        },
        mouse(start + 1000, 100, 100, body["id"]),
        mutation(start + 1500, adds=adds),
        mutation(
            start + 2500,
            attributes=[
                {
                    "id": harmless_img["id"],
                    "attributes": {
                        "src": url("mutated-src"),
                        "srcset": f"{url('mutated-srcset')} 1x",
                    },
                },
                {
                    "id": harmless_div["id"],
                    "attributes": {"style": {"background-image": f"url({url('mutated-style')})"}},
                },
            ],
        ),
        {
            "type": 3,
            "data": {
                "source": 8,
                "id": style["id"],
                "adds": [{"rule": f"body {{ background: url({url('rule')}) }}", "index": 0}],
            },
            "timestamp": start + 3000,
        },
        {
            "type": 3,
            "data": {
                "source": 10,
                "family": "font-event",
                "fontSource": f"url({url('font-event')})",
                "buffer": False,
                "descriptors": {},
            },
            "timestamp": start + 3000,
        },
        mouse(start + TOTAL_MS, 200, 200, body["id"]),
    ]


@dataclass
class Seen:
    """The requests the page made that a payload caused (`via=` in the URL), and Footage's
    answers."""

    requests: dict[str, dict[str, Any]] = field(default_factory=dict)

    def request(self, request: Any) -> None:
        if "via=" in request.url:
            self.requests[request.url] = {"status": None, "location": ""}

    def response(self, response: Any) -> None:
        entry = self.requests.get(response.url)
        if entry is not None and entry["status"] is None:
            entry["status"] = response.status
            entry["location"] = response.headers.get("location", "")

    def authenticated(self) -> list[str]:
        """The loads Footage answered as to the logged-in viewer: anything but a refusal or
        the way to the login page."""
        return [
            f"{url}: {r['status']}"
            for url, r in self.requests.items()
            if r["status"] is not None
            and r["status"] not in (401, 403)
            and "/login" not in r["location"]
        ]


@dataclass
class Arrived:
    """A payload's request as it reached the server, before any layer."""

    via: str
    dest: str | None
    with_login: bool


def watching(arrived: list[Arrived], layer: bool) -> type:
    """Stands in for FetchMetadata in the app: notes what arrives, then applies the server's
    layer, or not (the app as before it)."""

    class Watching:
        def __init__(self, app: Any) -> None:
            self.app = FetchMetadata(app) if layer else app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            query = scope.get("query_string", b"").decode()
            if scope["type"] == "http" and "via=" in query:
                headers = {k.decode(): v.decode() for k, v in scope["headers"]}
                login = f"{SESSION_COOKIE}=" in headers.get("cookie", "")
                arrived.append(
                    Arrived(query.split("via=")[1], headers.get("sec-fetch-dest"), login)
                )
            await self.app(scope, receive, send)

    return Watching


@pytest.fixture
def server_layer(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def arrived() -> list[Arrived]:
    return []


@pytest.fixture
def served(
    tmp_path: Path,
    database_url: str,
    server_layer: bool,
    arrived: list[Arrived],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LiveServer]:
    monkeypatch.setattr("footage.app.FetchMetadata", watching(arrived, server_layer))
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        background=True,
        leave_grace_seconds=1.0,
        heartbeat_timeout_seconds=5.0,
        finalizer_interval_seconds=0.2,
    )
    server = start_server(settings)
    yield server
    server.stop()


def record_attack(live: LiveServer) -> tuple[str, str, str]:
    """Alice's site receives an ordinary recording (the victim) and the crafted one through
    POST /api/v1/ingest; returns their ids and a share link to the crafted one."""
    alice = account(live, "Alice", "https://alice.example")
    with live.client() as http:
        victim = record(http, alice)
        wait_ready(http, alice, victim)
        body = batch(
            alice.site_key,
            new_ids(),
            0,
            hostile_events(live.url, victim, T0),
            url=ATTACK_PAGE,
            left=True,
        )
        r = http.post(
            "/api/v1/ingest",
            content=gz(body),
            headers={"Origin": "https://alice.example", "Content-Type": "text/plain"},
        )
        assert r.status_code == 200, r.text
        rid = str(r.json()["recording_id"])
        wait_ready(http, alice, rid)
        link = http.post(
            f"/api/v1/recordings/{rid}/share-links",
            json={"expires_in": "24h"},
            headers={"Authorization": f"Bearer {alice.api_token}"},
        )
        assert link.status_code == 201, link.text
    return victim, rid, link.json()["path"]


def rows(live: LiveServer) -> dict[str, Any]:
    db = live.services.db
    return {
        "audit": db.all("SELECT action, detail FROM audit_log ORDER BY at, id"),
        "videos": db.all("SELECT * FROM recording_videos"),
    }


def turn_off_the_players_layer(context: Any, bundle: str) -> None:
    """Serves `bundle` with every path of Footage counted as public, so `neutralise` keeps
    every URL that leads to Footage."""

    def patched(route: Any) -> None:
        response = route.fetch()
        code = response.text()
        assert code.count(PUBLIC_PATHS) == 1, f"{bundle}: web/src/inert.ts changed"
        route.fulfill(response=response, body=code.replace(PUBLIC_PATHS, '"/"'))

    # The pages load the bundle by its hashed address (player.<digest>.js).
    stem, ext = bundle.rsplit(".", 1)
    context.route(re.compile(rf"/static/build/{re.escape(stem)}(\.[0-9a-f]+)?\.{ext}$"), patched)


def play(page: Any, frame_selector: str) -> None:
    page.wait_for_selector("#player[data-state=ready]", timeout=20_000)
    page.click(".fp-big")  # play from the start
    page.wait_for_selector(".fp-overlay-replay", timeout=TOTAL_MS + 15_000)
    frame = page.frame_locator(frame_selector)
    assert frame.locator("#title-added").inner_text(timeout=5000) == "Loads (added)"
    for ms in (2000, 500, 3200, 0, TOTAL_MS):  # paused: rrweb's virtual DOM path
        page.evaluate("ms => window.footagePlayer.seek(ms)", ms)
        page.wait_for_timeout(150)


# (page, the server's layer, the player's layer)
CASES = [
    ("player", True, True),
    ("player", True, False),
    ("player", False, True),
    ("player", False, False),
    ("share", True, False),
    ("heatmap", True, False),
]


@pytest.mark.parametrize(
    ("where", "server_layer", "players_layer"),
    CASES,
    indirect=["server_layer"],
    ids=[f"{w}-server_{'on' if s else 'off'}-player_{'on' if p else 'off'}" for w, s, p in CASES],
)
def test_a_replay_makes_no_request_as_the_viewer(
    served: LiveServer,
    arrived: list[Arrived],
    browser: Any,
    artifacts: Path,
    where: str,
    server_layer: bool,
    players_layer: bool,
) -> None:
    victim, rid, share_path = record_attack(served)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    seen = Seen()
    context.on("request", seen.request)
    context.on("response", seen.response)
    if not players_layer:
        turn_off_the_players_layer(context, "heatmap.js" if where == "heatmap" else "player.js")
    page = context.new_page()
    log_in(page, served.url, {"email": "alice@example.com", "password": PASSWORD})
    before = rows(served)
    try:
        if where == "player":
            page.goto(f"{served.url}/recordings/{rid}")
            play(page, "#player iframe")
        elif where == "share":
            page.goto(served.url + share_path)
            play(page, "#player iframe")
        else:
            page.goto(
                f"{served.url}/heatmaps?url=alice.example/attack&from=2026-11-18&to=2026-11-18"
            )
            page.wait_for_selector("#heatmap[data-state=ready]", timeout=20_000)
            title = page.frame_locator("#heatmap iframe").locator("#title-snapshot")
            assert title.inner_text(timeout=5000) == "Loads (snapshot)"
        page.wait_for_timeout(800)  # the last loads answered
        wait_for(lambda: all(r["status"] is not None for r in seen.requests.values()), timeout=10)
        if where == "player" and server_layer and players_layer:
            page.screenshot(path=str(artifacts / "replay-requests.png"), full_page=True)
    finally:
        context.close()
    after = rows(served)
    made = sorted(urlsplit(u).query.split("via=")[1] for u in seen.requests)

    if not server_layer and not players_layer:
        # Neither layer: the loads reach Footage as the viewer, and it answers them as the
        # viewer (dashboard pages 200): the attack the two layers stop, seen by this test.
        assert arrived and all(a.with_login for a in arrived), arrived
        assert any("via=settings" in u or "settings?x=1" in u for u in seen.authenticated())
        return
    assert after == before, "an audit entry was written or a render queued"
    assert seen.authenticated() == [], seen.authenticated()
    if players_layer:
        assert made == [], f"the player let these loads through: {made}"
    else:
        # The server alone: the loads were made, and each answered as to someone logged out.
        kinds = {m.rsplit("-", 1)[0] for m in made}
        expected = {
            "img",
            "srcset",
            "stylesheet",
            "style-attr",
            "style-url",
            "poster",
            "input-image",
            "svg-image",
            "import",
        }
        assert expected <= kinds, sorted(kinds)
        # They came with the viewer's login (the browser sends it): the server took it out.
        assert {a.via for a in arrived} == set(made)
        assert all(a.with_login for a in arrived), [a for a in arrived if not a.with_login]
        assert {a.dest for a in arrived} <= {"image", "style", "font", "video"}, arrived
