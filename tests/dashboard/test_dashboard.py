"""The dashboard on a real server: login, CSRF, the list and the player page."""

import re

import pytest

from footage.accounts.service import create_account
from tests.conftest import batch, click, full_snapshot, gz, make_account, meta, new_ids, wait_for

PASSWORD = "correct horse battery"


@pytest.fixture
def owner(live):
    return make_account(live.services, "Alice", site_url="https://alice.example")


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def log_in(http, email="alice@example.com", password=PASSWORD):
    page = http.get("/login")
    return http.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf": csrf_of(page.text),
            "next": "/recordings",
        },
    )


def ready_visit(live, owner, last_ms: int = 900, title: str = "Home") -> None:
    """One visit of Alice's site, left and finalized: a recording ready to list and play."""
    t = 1_795_000_000_000
    events = [meta(t), full_snapshot(t + 1), click(t + last_ms)]
    with live.client() as http:
        http.post(
            "/api/v1/ingest",
            headers={"Origin": "https://alice.example"},
            content=gz(batch(owner.site_key, new_ids(), 0, events, title=title, left=True)),
        )
    wait_for(lambda: live.services.db.one("SELECT id FROM recordings WHERE status = 'ready'"))


def test_pages_need_a_login(live, owner):
    with live.client() as http:
        r = http.get("/recordings")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_wrong_password_is_refused(live, owner):
    with live.client() as http:
        r = log_in(http, password="wrong password")
    assert r.status_code == 401 and "Wrong e-mail or password" in r.text


def test_login_without_the_csrf_token_is_refused(live, owner):
    with live.client() as http:
        http.get("/login")
        r = http.post(
            "/login", data={"email": "alice@example.com", "password": PASSWORD, "csrf": "forged"}
        )
    assert r.status_code == 403 and "reload the page" in r.text


def test_session_cookie_is_httponly(live, owner):
    with live.client() as http:
        r = log_in(http)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "footage_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_list_and_player_show_the_recording(live, owner):
    ids, t = new_ids(), 1_795_000_000_000
    with live.client() as http:
        http.post(
            "/api/v1/ingest",
            headers={"Origin": "https://alice.example"},
            content=gz(
                batch(
                    owner.site_key,
                    ids,
                    0,
                    [meta(t), full_snapshot(t + 1), click(t + 900)],
                    title="Winter sale",
                    left=True,
                )
            ),
        )
        wait_for(lambda: live.services.db.one("SELECT id FROM recordings WHERE status = 'ready'"))
        log_in(http)
        listing = http.get("/recordings")
        rec_id = re.search(r'href="/recordings/(rec_[^"]+)"', listing.text).group(1)
        player = http.get(f"/recordings/{rec_id}")
        events = http.get(f"/recordings/{rec_id}/events.json")
        install = http.get("/install")
    assert listing.status_code == 200 and "Winter sale" in listing.text
    assert player.status_code == 200
    assert f'data-events-url="/recordings/{rec_id}/events.json"' in player.text
    assert "Visitor info" in player.text and "Pages visited (1)" in player.text
    assert [e["type"] for e in events.json()] == [4, 2, 3]
    assert owner.site_key in install.text and "/footage.js" in install.text


def test_other_accounts_recordings_are_not_found(live, owner):
    create_account(
        live.services.db,
        live.services.clock,
        name="Bob",
        plan="pro",
        email="bob@example.com",
        password=PASSWORD,
    )
    ids, t = new_ids(), 1_795_000_000_000
    with live.client() as http:
        r = http.post(
            "/api/v1/ingest",
            headers={"Origin": "https://alice.example"},
            content=gz(batch(owner.site_key, ids, 0, [meta(t), full_snapshot(t + 1)], left=True)),
        )
        rec_id = r.json()["recording_id"]
        wait_for(lambda: live.services.db.one("SELECT id FROM recordings WHERE status='ready'"))
        log_in(http, email="bob@example.com")
        assert http.get(f"/recordings/{rec_id}").status_code == 404
        assert http.get(f"/recordings/{rec_id}/events.json").status_code == 404


def test_logout_ends_the_session(live, owner):
    with live.client() as http:
        log_in(http)
        page = http.get("/recordings")
        http.post("/logout", data={"csrf": csrf_of(page.text)})
        assert http.get("/recordings").status_code == 303


def test_a_visit_of_many_pages_lists_the_first_fifty(live, owner):
    """Hundreds of page views would make the player page heavy before its first frame: the
    list shows the first 50 and says how many more the timeline marks."""
    ids, t = new_ids(), 1_795_000_000_000
    pages = [{**ids, "page_id": f"pag-{i}-{ids['page_id']}"} for i in range(55)]
    with live.client() as http:
        for left in (False, True):  # every page view open, then all of them left
            for i, page in enumerate(pages):
                at = t + i * 1000 + (900 if left else 0)
                events = [click(at)] if left else [meta(at), full_snapshot(at + 1)]
                r = http.post(
                    "/api/v1/ingest",
                    headers={"Origin": "https://alice.example"},
                    content=gz(
                        batch(
                            owner.site_key,
                            page,
                            1 if left else 0,
                            events,
                            url=f"https://alice.example/p{i:03d}",
                            title=f"Page {i:03d}",
                            left=left,
                        )
                    ),
                )
                assert r.status_code in (200, 202), r.text
        wait_for(lambda: live.services.db.one("SELECT id FROM recordings WHERE status = 'ready'"))
        log_in(http)
        rec_id = live.services.db.one("SELECT id FROM recordings")["id"]
        player = http.get(f"/recordings/{rec_id}")
        # Opened from a list filtered by a page every view matches: 55 matching moments.
        matching = http.get(f"/recordings/{rec_id}?url=alice.example/p0")
        listed = http.get("/recordings").text
    assert "Pages visited (55)" in player.text
    assert "/p049" in player.text and "/p050" not in player.text
    assert "… and 5 more on the timeline." in player.text
    assert "Matching moments (55)" in matching.text and "… and 5 more.</p>" in matching.text
    assert matching.text.count('data-seek-ms="') == 50 + 50  # the moments, then the pages
    # The list shows where the visit entered.
    assert 'title="https://alice.example/p000"' in listed


def test_durations_are_typed_as_people_write_them(live, owner):
    ready_visit(live, owner, last_ms=30_000, title="Long visit")
    with live.client() as http:
        log_in(http)
        kept = http.get("/recordings?min_duration=20s").text
        dropped = http.get("/recordings?min_duration=1m").text
        wrong = http.get("/recordings?min_duration=20+parsecs&max_duration=1m").text
    assert "Long visit" in kept and 'value="20s"' in kept and "Shortest: 20s" in kept
    assert "Long visit" not in dropped
    # The mistake is told next to its field; the list keeps the other filter (none left).
    assert 'aria-invalid="true" aria-describedby="min_duration-error"' in wrong
    assert "Must be a duration such as 20s, 2m or 1h30m" in wrong
    assert "Long visit" in wrong and "Longest: 1m" in wrong


def test_every_page_has_an_icon_and_favicon_ico_answers(live, owner):
    with live.client() as http:
        login_page = http.get("/login").text
        icon = http.get("/favicon.ico")
        log_in(http)
        listing = http.get("/recordings").text
    for page in (login_page, listing):
        assert '<link rel="icon" href="data:image/svg+xml,' in page
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg") and "script" not in icon.text


def test_the_free_plan_says_plainly_that_nothing_is_recorded(live, owner):
    make_account(live.services, "Fred", plan="free")
    with live.client() as http:
        log_in(http, "fred@example.com")
        pages = [http.get(p).text for p in ("/recordings", "/settings", "/conversations")]
    for page in pages:
        assert "Recordings are not included in the Free plan" in page
        assert '<a href="/usage">Upgrade to Standard</a> for 10,000 recordings a month' in page
    assert 'nothing is recorded until you <a href="/usage">upgrade</a>' in pages[1]
    with live.client() as http:  # a plan with recordings says nothing of the kind
        log_in(http)
        assert "not included in" not in http.get("/settings").text


def test_a_recording_opened_in_the_player_is_marked_watched_for_that_user_only(live, owner):
    ready_visit(live, owner)
    with live.client() as http:
        log_in(http)
        before = http.get("/recordings").text
        rec_id = re.search(r'href="/recordings/(rec_[^"?]+)', before).group(1)
        assert "Watched" not in before
        assert http.get(f"/recordings/{rec_id}").status_code == 200
        assert 'class="tag watched"' in http.get("/recordings").text
    # Another user of the account has not watched it.
    live.services.db.run(
        "INSERT INTO users (id, account_id, email, password_hash, role, created_at) "
        "SELECT 'usr_agent', account_id, 'agent@example.com', password_hash, 'agent', created_at "
        "FROM users WHERE email = 'alice@example.com'"
    )
    with live.client() as http:
        log_in(http, "agent@example.com")
        assert 'class="tag watched"' not in http.get("/recordings").text
