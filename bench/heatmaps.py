"""Heatmaps at 50,000 recordings: how long a page's heatmap takes to open, through the API.

Seeds (once) a database: one account on the Pro plan; its first site, shop.example, has
`--recordings` ready desktop recordings over the 10 days of the retention period, every one
of which viewed the product page shop.example/products/espresso-machine (1–3 page views per
recording: the product page plus the home page, the listing, other products, the cart …);
`--noise` more recordings spread over 19 other sites (and 10 % of them on shop.example from
phones and tablets) make the tables and their indexes realistic. Every recording is an
`Analysis` of page views and clicks as heatmaps/analysis.py makes it, stored by the
finalizer's own `heatmaps.store.add_recording`, `--batch` recordings per transaction, so the
aggregates are exactly what production writes.

Clicks on the product page: ~8 per view (Gamma-distributed) over 44 elements with Zipf-like
weights (add to cart, the gallery, nav links, tabs …), each click scattered around its
element's centre (Gaussian), only where the window reached; ~2 % of views end in a rage burst,
clicks on the price, title and main image are often dead, "Apply coupon" often errs. Scroll
depth: 30 % never scroll, the others reach a Beta(1.2, 1.8) share of a 3,600 px page.
Windows: 1280 px wide (60 %), 1366, 1440 and 1920.

Then `footage serve --no-demo --no-background` on a free loopback port, and for each request
(one at a time over one keep-alive connection, the seeded account's API token): the first
request after the server started ("first", untimed warm-up otherwise), `--warmup` untimed
ones, then `--repeat` timed ones: p50 / p95 / max of the HTTP round trip. Goal: a heatmap of
the 50,000 recordings in < 2 s. `--cold` (SQLite) drops the database files from the OS cache
first, so "first" reads from the disk. Row counts and sizes are taken after the requests. The
SQL statements the server runs for each request are also captured in this process (the
server's own query code, same database), timed one by one and explained (EXPLAIN QUERY PLAN
on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL) for the `--explain` slowest requests.

    .venv/bin/python bench/heatmaps.py --backend sqlite --keep bench/out/heatmaps-sqlite --cold
    eval "$(scripts/start-postgres)"
    .venv/bin/python bench/heatmaps.py --backend postgres --keep bench/out/heatmaps-pg

PostgreSQL: `--database-url` (default: $FOOTAGE_TEST_POSTGRES_URL with the database
`footage_heatmaps`, created if missing). Without `--keep` the data dir is temporary and the
PostgreSQL database is dropped afterwards; with it, a later run reuses the seeded database.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (  # noqa: E402
    OUT,
    REPO,
    BenchError,
    footage_cmd,
    free_port,
    machine,
    machine_cpu_seconds,
    percentile,
    start_server,
    table,
    tree_cpu_seconds,
    wait_for_quiet,
    write_json,
)
from filters import postgres_facts  # noqa: E402

from footage.clock import Clock  # noqa: E402
from footage.heatmaps import queries, store  # noqa: E402
from footage.heatmaps.analysis import Analysis, Click, PageView  # noqa: E402
from footage.store import Database  # noqa: E402

GOAL_MS = 2_000.0
DAY_MS = 86_400_000
DAYS = 10  # the Pro plan's retention period, and a heatmap's default period
HOST = "shop.example"
PRODUCT = f"{HOST}/products/espresso-machine"
PATTERN = f"{HOST}/products/*"
NOISE_SITES = 19
PAGE_HEIGHT = 3_600
META_FILE = "heatmaps-seed.json"


# ---- what visitors click -----------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    selector: str
    text: str
    dx: int  # centre, from the middle of the window (a centred 1,200 px layout)
    y: int  # centre, from the top of the page
    w: int
    h: int
    weight: float
    dead: float = 0.0  # chance a click on it is dead (nothing happens)
    error: float = 0.0  # chance a click on it is followed by a JavaScript error


def _product_elements() -> list[Element]:
    nav = ["Machines", "Grinders", "Beans", "Accessories", "Support"]
    out = [
        Element("button#add-to-cart", "Add to cart", 330, 560, 260, 52, 30.0, error=0.004),
        Element("div.gallery > img.main", "", -250, 430, 560, 560, 14.0, dead=0.55),
        Element("button#buy-now", "Buy now", 330, 624, 260, 52, 6.0),
        Element("a.reviews-summary", "4.6 (312 reviews)", 260, 250, 180, 20, 5.0),
        Element("header a.cart", "Cart", 560, 36, 40, 40, 4.5),
        Element("div.tabs > button:nth-of-type(2)", "Specifications", -200, 900, 160, 44, 4.0),
        Element("div.tabs > button:nth-of-type(3)", "Reviews", -20, 900, 140, 44, 3.6),
        Element("input#quantity", "", 235, 500, 60, 40, 3.0),
        Element("button.qty-plus", "+", 280, 500, 32, 40, 2.6),
        Element("button.qty-minus", "−", 190, 500, 32, 40, 1.2),
        Element("header a.logo", "Shop", -540, 36, 120, 40, 2.4),
        Element("input#search", "", 200, 36, 300, 36, 2.3),
        Element("span.price", "€ 649.00", 230, 320, 140, 36, 2.2, dead=0.9),
        Element("h1.product-title", "Espresso machine Duo", 300, 190, 420, 48, 1.6, dead=0.9),
        Element("button#wishlist", "♡ Save", 510, 560, 48, 48, 1.5),
        Element("ul.swatches > li:nth-of-type(1)", "Steel", 200, 400, 36, 36, 1.4),
        Element("ul.swatches > li:nth-of-type(2)", "Black", 250, 400, 36, 36, 1.3),
        Element("ul.swatches > li:nth-of-type(3)", "Cream", 300, 400, 36, 36, 0.9),
    ]
    for i, name in enumerate(nav):
        out.append(
            Element(
                f"nav.main > a:nth-of-type({i + 1})",
                name,
                -300 + 110 * i,
                36,
                90,
                24,
                1.8 / (i + 1),
            )
        )
    for i in range(4):
        out.append(
            Element(
                f"div.gallery > ul.thumbs > li:nth-of-type({i + 1})",
                "",
                -460 + 120 * i,
                760,
                100,
                100,
                2.0 / (i + 1),
            )
        )
    for i in range(4):
        out.append(
            Element(
                f"section.related > a.card:nth-of-type({i + 1})",
                ["Grinder Pro", "Milk jug", "Tamper", "Descaler"][i],
                -450 + 300 * i,
                1_650,
                260,
                340,
                1.2 / (i + 1),
            )
        )
    for i in range(3):
        out.append(
            Element(
                f"section.faq > details:nth-of-type({i + 1}) > summary",
                f"Question {i + 1}",
                0,
                2_100 + 70 * i,
                900,
                50,
                0.8 / (i + 1),
            )
        )
    out += [
        Element("a.read-more", "Read more", 0, 1_180, 120, 24, 0.9),
        Element("input#coupon", "", 150, 2_500, 240, 40, 0.4),
        Element("button#apply-coupon", "Apply coupon", 330, 2_500, 120, 40, 0.5, error=0.35),
        Element("input#newsletter-email", "", -100, 2_900, 320, 40, 0.3),
        Element("button#subscribe", "Subscribe", 150, 2_900, 120, 40, 0.25),
        Element("footer a:nth-of-type(1)", "Shipping", -400, 3_400, 90, 20, 0.2),
        Element("footer a:nth-of-type(2)", "Returns", -250, 3_400, 90, 20, 0.15),
        Element("footer a:nth-of-type(3)", "Contact", -100, 3_400, 90, 20, 0.12),
        Element("footer a:nth-of-type(4)", "Imprint", 50, 3_400, 90, 20, 0.05),
        Element("body", "", 0, 1_000, 1_400, 2_000, 0.6),
    ]
    return out


def _generic_elements(rng: random.Random, n: int) -> list[Element]:
    """Elements of any other page: a header, content and a footer."""
    out = [
        Element("header a.logo", "Home", -540, 36, 120, 40, 3.0),
        Element("header a.cart", "Cart", 560, 36, 40, 40, 2.0),
        Element("input#search", "", 200, 36, 300, 36, 1.5),
    ]
    for i in range(n - 3):
        out.append(
            Element(
                f"main > section:nth-of-type({i // 4 + 1}) > a:nth-of-type({i % 4 + 1})",
                f"Link {i + 1}",
                rng.randrange(-550, 550),
                rng.randrange(120, PAGE_HEIGHT - 200),
                rng.randrange(60, 400),
                rng.randrange(20, 300),
                1.5 / (1 + i) ** 0.8,
                dead=0.1 if i % 7 == 3 else 0.0,
            )
        )
    return out


@dataclass
class Page:
    url: str
    elements: list[Element]
    weights: list[float] = field(default_factory=list)
    clicks_mean: float = 3.0

    def __post_init__(self) -> None:
        self.weights = [e.weight for e in self.elements]


WIDTHS = ((1280, 0.60), (1366, 0.15), (1440, 0.15), (1920, 0.10))
HEIGHTS = (680, 720, 760, 800, 900, 960)


class Visits:
    """Analyses as the finalizer would make them: page views and clicks of one recording."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.product = Page(PRODUCT, _product_elements(), clicks_mean=8.0)
        names = ["grinder-pro", "milk-jug", "tamper", "descaler", "kettle", "scale", "beans-1kg"]
        names += [f"item-{i}" for i in range(23)]
        others = [Page(f"{HOST}/products/{n}", _generic_elements(rng, 20)) for n in names]
        shop = [Page(f"{HOST}/", _generic_elements(rng, 30), clicks_mean=2.5)]
        shop += [Page(f"{HOST}/products", _generic_elements(rng, 40), clicks_mean=4.0)]
        shop += [Page(f"{HOST}/cart", _generic_elements(rng, 12), clicks_mean=2.0)]
        shop += [Page(f"{HOST}/checkout", _generic_elements(rng, 15), clicks_mean=3.0)]
        self.shop_pages = shop + others
        self.shop_weights = [5.0, 4.0, 2.0, 1.0] + [1.0 / (i + 1) for i in range(len(others))]
        self.noise_pages: dict[int, list[Page]] = {}

    def site_pages(self, site: int) -> list[Page]:
        """Pages of a noise site: 50 of them."""
        if site not in self.noise_pages:
            paths = ["/", "/about", "/pricing", "/blog", "/contact"]
            paths += [f"/blog/post-{i}" for i in range(25)] + [f"/docs/page-{i}" for i in range(20)]
            host = f"site{site}.example"
            self.noise_pages[site] = [
                Page(host + p, _generic_elements(self.rng, 12 + i % 20))
                for i, p in enumerate(paths)
            ]
        return self.noise_pages[site]

    def target(self, started: int) -> Analysis:
        """A desktop recording on shop.example that views the espresso machine."""
        rng = self.rng
        n = rng.choices((1, 2, 3), (0.35, 0.40, 0.25))[0]
        others = rng.choices(self.shop_pages, self.shop_weights, k=n - 1)
        pages = others[:]
        pages.insert(rng.randrange(n), self.product)
        return self._analysis(pages, started, desktop=True)

    def noise(self, site: int, started: int, device: str) -> Analysis:
        rng = self.rng
        n = rng.choices((1, 2, 3), (0.45, 0.35, 0.20))[0]
        if site == 0:  # shop.example from phones and tablets
            pool = [self.product, *self.shop_pages]
            weights = [6.0, *self.shop_weights]
        else:
            pool = self.site_pages(site)
            weights = [1.0 / (i + 1) ** 0.9 for i in range(len(pool))]
        return self._analysis(rng.choices(pool, weights, k=n), started, desktop=device == "desktop")

    def _analysis(self, pages: list[Page], started: int, desktop: bool) -> Analysis:
        rng = self.rng
        result = Analysis()
        if desktop:
            width = rng.choices([w for w, _ in WIDTHS], [s for _, s in WIDTHS])[0]
            height = rng.choice(HEIGHTS)
        else:
            width, height = rng.choice(((390, 664), (412, 732), (768, 954), (820, 1_080)))
        at = started
        kept = {"dead_click": 0, "error_click": 0, "quick_back": 0, "excessive_scroll": 0}
        for index, page in enumerate(pages):
            stay = int(rng.lognormvariate(math.log(40_000), 0.9))
            url = "https://" + page.url
            if index == 0 and rng.random() < 0.2:
                url += "?utm_source=newsletter&utm_campaign=autumn"
            view = PageView(url=url, key=page.url, started_at=at, ended_at=at + stay)
            view.width, view.height = width, height
            scrolled = 0 if rng.random() < 0.3 else rng.betavariate(1.2, 1.8)
            view.max_depth = int(height + scrolled * max(0, PAGE_HEIGHT - height))
            self._clicks(page, view, index, result, kept)
            if index < len(pages) - 1 and rng.random() < 0.03:
                view.quick_back = True
                kept["quick_back"] += 1
            if rng.random() < 0.02:
                view.excessive_scrolls = 1
                kept["excessive_scroll"] += 1
            result.pages.append(view)
            at += stay + rng.randrange(200, 3_000)
        result.pages[-1].exited = True
        result.kept = {k: v for k, v in kept.items() if v}
        return result

    def _clicks(
        self, page: Page, view: PageView, index: int, result: Analysis, kept: dict[str, int]
    ) -> None:
        rng = self.rng
        n = int(round(rng.gammavariate(2.0, page.clicks_mean / 2.0)))
        seen = [i for i, e in enumerate(page.elements) if e.y - e.h / 2 <= view.max_depth]
        if not n or not seen:
            return
        weights = [page.weights[i] for i in seen]
        chosen = [page.elements[i] for i in rng.choices(seen, weights, k=n)]
        middle = view.width // 2
        span = max(1, view.ended_at - view.started_at - 1_500)
        times = sorted(view.started_at + rng.randrange(span) for _ in chosen)
        clicks: list[Click] = []
        for element, at in zip(chosen, times, strict=True):
            clicks.append(self._click(element, at, index, view, middle))
        if clicks and rng.random() < 0.02:  # a rage burst on a hot element
            element = chosen[0] if chosen[0].weight >= 5 else page.elements[0]
            start = clicks[-1].at + 400
            burst = [
                self._click(element, start + 180 * k, index, view, middle, scatter=0.3)
                for k in range(rng.randint(3, 6))
            ]
            for click in burst:
                click.rage = True
            clicks += burst
            view.rage_clicks += 1
        for element, click in zip(chosen, clicks, strict=False):
            click.dead = rng.random() < element.dead
            click.error = rng.random() < element.error
        view.clicks = len(clicks)
        view.dead_clicks = sum(c.dead for c in clicks)
        view.error_clicks = sum(c.error for c in clicks)
        kept["dead_click"] += view.dead_clicks
        kept["error_click"] += view.error_clicks
        result.clicks.extend(clicks)

    def _click(
        self, e: Element, at: int, index: int, view: PageView, middle: int, scatter: float = 1.0
    ) -> Click:
        gauss = self.rng.gauss
        x = middle + e.dx + gauss(0, e.w / 4 * scatter)
        y = max(0.0, e.y + gauss(0, e.h / 4 * scatter))
        scroll = max(0, min(view.max_depth - view.height, int(y) - view.height // 2))
        return Click(
            at=at,
            page=index,
            x=round(x),
            y=round(y),
            vx=x,
            vy=y - scroll,
            width=view.width,
            selector=e.selector,
            text=e.text,
        )


# ---- seeding ---------------------------------------------------------------------------------


@dataclass
class Seeded:
    account_id: str
    site_id: str
    token: str
    password: str
    email: str
    first_day: int
    last_day: int
    recordings: int
    noise: int
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    size_bytes: int = 0


RECORDING_INSERT = text(
    "INSERT INTO recordings (id, account_id, site_id, visitor_id, session_id, status, "
    "created_at, last_seen_at, finalized_at, started_at, ended_at, duration_ms, active_ms, "
    "page_count, click_count, rage_click_count, error_count, event_count, entry_url, exit_url, "
    "device, browser, os, country, screen_width, screen_height, stored_bytes) VALUES (:id, :a, "
    ":site, :visitor, :session, 'ready', :start, :end, :end, :start, :end, :duration, :active, "
    ":pages, :clicks, :rage, 0, :events, :entry, :exit, :device, :browser, :os, :country, "
    ":sw, :sh, 0)"
)
COUNTRIES = ("DE", "US", "FR", "GB", "NL", "IT", "ES", "AT", "CH", "SE")
AGGREGATE_TABLES = (
    "heatmap_cells",
    "heatmap_elements",
    "heatmap_depths",
    "heatmap_widths",
    "page_stats",
    "page_view_stats",
    "recording_clicks",
    "recordings",
)


def seed(db: Database, data_dir: Path, args: argparse.Namespace) -> Seeded:
    """One account with 20 sites; the target recordings on the first, noise on all."""
    from footage.accounts.plans import DEFAULT_PLANS
    from footage.devtools.seed import ensure_account

    clock = Clock()
    account = ensure_account(db, clock, DEFAULT_PLANS, [1] * (NOISE_SITES + 1), data_dir)
    sites = [s.id for s in account.sites]
    db.run("UPDATE sites SET url = :u WHERE id = :id", {"u": f"https://{HOST}", "id": sites[0]})
    now = clock.now_ms()
    today = now // DAY_MS
    first_day = today - (DAYS - 1)
    span = now - 60_000 - first_day * DAY_MS  # up to a minute ago
    rng = random.Random(args.seed)
    visits = Visits(rng)
    # (started_at, site index, device); the target's first, then the noise, each in time order
    plan: list[tuple[int, int, str]] = sorted(
        (first_day * DAY_MS + rng.randrange(span), 0, "desktop") for _ in range(args.recordings)
    )
    noise = []
    for _ in range(args.noise):
        site = 0 if rng.random() < 0.10 else rng.randint(1, NOISE_SITES)
        if site == 0:
            device = rng.choices(("mobile", "tablet"), (0.85, 0.15))[0]
        else:
            device = rng.choices(("desktop", "mobile", "tablet"), (0.6, 0.35, 0.05))[0]
        noise.append((first_day * DAY_MS + rng.randrange(span), site, device))
    plan += sorted(noise)
    print(
        f"Seeding {args.recordings:,} recordings on {HOST} and {args.noise:,} of noise, "
        f"{args.batch} per transaction …",
        flush=True,
    )
    t0 = time.perf_counter()
    shown = t0
    for start in range(0, len(plan), args.batch):
        chunk = plan[start : start + args.batch]
        analyses = []
        rows = []
        for started, site, device in chunk:
            rid = f"rec_{rng.getrandbits(96):024x}"
            if site == 0 and device == "desktop":
                analysis = visits.target(started)
            else:
                analysis = visits.noise(site, started, device)
            end = analysis.pages[-1].ended_at
            rows.append(
                {
                    "id": rid,
                    "a": account.account_id,
                    "site": sites[site],
                    "visitor": f"v_{rng.getrandbits(64):016x}",
                    "session": f"s_{rng.getrandbits(64):016x}",
                    "start": started,
                    "end": end,
                    "duration": end - started,
                    "active": (end - started) // 3,
                    "pages": len(analysis.pages),
                    "clicks": len(analysis.clicks),
                    "rage": analysis.count("rage_click"),
                    "events": 40 + 12 * len(analysis.clicks),
                    "entry": analysis.pages[0].url,
                    "exit": analysis.pages[-1].url,
                    "device": device,
                    "browser": "Chrome" if device == "desktop" else "Safari",
                    "os": "Windows" if device == "desktop" else "iOS",
                    "country": rng.choice(COUNTRIES),
                    "sw": analysis.pages[0].width,
                    "sh": analysis.pages[0].height + 120,
                }
            )
            analyses.append((rid, sites[site], device, started, analysis))
        with db.write() as conn:
            conn.execute(RECORDING_INSERT, rows)
            for rid, site_id, device, started, analysis in analyses:
                store.add_recording(conn, rid, site_id, device, started, analysis)
        done = start + len(chunk)
        if time.perf_counter() - shown > 15 or done == len(plan):
            shown = time.perf_counter()
            rate = done / (shown - t0)
            print(f"  {done:,} / {len(plan):,}  ({rate:,.0f} recordings/s)", flush=True)
    seconds = time.perf_counter() - t0
    if db.is_sqlite:
        db.refresh_statistics()  # what `footage serve` does when it starts
    else:
        db.run("ANALYZE")  # what autovacuum would do shortly
    seeded = Seeded(
        account_id=account.account_id,
        site_id=sites[0],
        token=account.login["api_token"],
        password=account.login["password"],
        email=account.login["email"],
        first_day=first_day,
        last_day=today,
        recordings=args.recordings,
        noise=args.noise,
        seconds=seconds,
    )
    return seeded


def load_or_seed(db: Database, data_dir: Path, args: argparse.Namespace) -> Seeded:
    import json

    from footage.devtools.seed import login_for

    meta_path = data_dir / META_FILE
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        have = db.one(
            "SELECT COUNT(*) AS n FROM recordings WHERE site_id = :s AND device = 'desktop'",
            {"s": meta["site_id"]},
        )
        if have and int(have["n"]) == meta["recordings"]:
            login = login_for(db, data_dir)
            print(
                f"Reusing the seeded database: {meta['recordings']:,} recordings on {HOST} and "
                f"{meta['noise']:,} of noise (seeded in {meta['seconds']:.0f} s)."
            )
            return Seeded(**{**meta, "token": login["api_token"], "password": login["password"]})
        raise BenchError(f"{data_dir} holds another seeded database: give an empty --keep DIR")
    seeded = seed(db, data_dir, args)
    meta = {k: v for k, v in seeded.__dict__.items() if k not in ("token", "password", "rows")}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return seeded


def row_counts(db: Database) -> dict[str, int]:
    out = {}
    for name in AGGREGATE_TABLES:
        row = db.one(f"SELECT COUNT(*) AS n FROM {name}")
        out[name] = int(row["n"]) if row else 0
    return out


def target_rows(db: Database, s: Seeded) -> dict[str, int]:
    """Aggregate rows of the headline heatmap: the product page, desktop, the 10 days."""
    out = {}
    for name in AGGREGATE_TABLES[:5]:
        row = db.one(
            f"SELECT COUNT(*) AS n FROM {name} WHERE site_id = :s AND page_key = :p "
            "AND device = 'desktop' AND day BETWEEN :d0 AND :d1",
            {"s": s.site_id, "p": PRODUCT, "d0": s.first_day, "d1": s.last_day},
        )
        out[name] = int(row["n"]) if row else 0
    return out


def database_size(db: Database, data_dir: Path) -> tuple[int, dict[str, int]]:
    """Bytes of the whole database, and of each heatmap table with its indexes (PostgreSQL;
    SQLite via dbstat when compiled in)."""
    per_table: dict[str, int] = {}
    if db.is_sqlite:
        total = sum(p.stat().st_size for p in data_dir.glob("footage.db*"))
        try:
            for r in db.all(
                "SELECT tbl_name AS t, SUM(pgsize) AS b FROM dbstat JOIN sqlite_master "
                "ON dbstat.name = sqlite_master.name GROUP BY tbl_name"
            ):
                if r["t"] in AGGREGATE_TABLES:
                    per_table[r["t"]] = int(r["b"])
        except Exception:
            pass  # no dbstat in this SQLite build
        return total, per_table
    row = db.one("SELECT pg_database_size(current_database()) AS b")
    for name in AGGREGATE_TABLES:
        size = db.one("SELECT pg_total_relation_size(:t) AS b", {"t": name})
        per_table[name] = int(size["b"]) if size else 0
    return (int(row["b"]) if row else 0), per_table


# ---- the requests ----------------------------------------------------------------------------


@dataclass
class Request:
    name: str
    path: str
    params: dict[str, str]
    first_ms: float = float("nan")
    samples_ms: list[float] = field(default_factory=list)
    status: int = 0
    size: int = 0
    note: str = ""
    sql: list[tuple[str, Any, float]] = field(default_factory=list)  # statement, params, ms
    plan: str = ""

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)

    @property
    def max(self) -> float:
        return max(self.samples_ms) if self.samples_ms else float("nan")


def iso_day(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def requests_of(s: Seeded) -> list[Request]:
    period = {"from": iso_day(s.first_day), "to": iso_day(s.last_day)}
    one_day = {"from": iso_day(s.last_day - 1), "to": iso_day(s.last_day - 1)}
    base = {"site_id": s.site_id, "device": "desktop"}
    h = "/api/v1/heatmaps"
    return [
        Request("heatmap, product page, 10 days", h, {**base, "url": PRODUCT, **period}),
        Request(
            "heatmap, product page, 10 days, device by default",
            h,
            {"site_id": s.site_id, "url": PRODUCT, **period},
        ),
        Request("heatmap, products/*, 10 days", h, {**base, "url": PATTERN, **period}),
        Request("heatmap, product page, 1 day", h, {**base, "url": PRODUCT, **one_day}),
        Request("heatmap, products/*, 1 day", h, {**base, "url": PATTERN, **one_day}),
        Request("recordings, top element", h + "/recordings", {**base, "url": PRODUCT, **period}),
        Request(
            "recordings, hottest place (x, y)",
            h + "/recordings",
            {**base, "url": PRODUCT, **period},
        ),
        Request(
            "recordings, top element, products/*",
            h + "/recordings",
            {**base, "url": PATTERN, **period},
        ),
        Request(
            "pages, sort=views", "/api/v1/pages", {"site_id": s.site_id, "sort": "views", **period}
        ),
        Request(
            "pages, sort=rage_clicks",
            "/api/v1/pages",
            {"site_id": s.site_id, "sort": "rage_clicks", **period},
        ),
        Request(
            "pages, sort=exit_rate",
            "/api/v1/pages",
            {"site_id": s.site_id, "sort": "exit_rate", **period},
        ),
        Request("dashboard page /heatmaps (HTML)", "/heatmaps", {"url": PRODUCT}),
    ]


def drill_down(client: httpx.Client, requests: list[Request]) -> None:
    """Fills in the drill-downs' element and place from the headline heatmap's answer."""
    first = requests[0]
    body = client.get(first.path, params=first.params).json()
    top = body["elements"][0]["selector"]
    x, y, _ = max(body["cells"], key=lambda c: c[2])
    for r in requests:
        if r.name.startswith("recordings, top element"):
            r.params["selector"] = top
            r.note = top
        elif r.name.startswith("recordings, hottest place"):
            r.params.update(x=str(x), y=str(y), width=str(body["width"]))
            r.note = f"x={x} y={y} ±20 px"


def dashboard_login(client: httpx.Client, s: Seeded) -> bool:
    page = client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if not found:
        return False
    done = client.post(
        "/login",
        data={"email": s.email, "password": s.password, "csrf": found.group(1), "next": "/"},
        headers={"Authorization": ""},
    )
    return done.status_code in (200, 303)


def time_requests(
    client: httpx.Client, dashboard: httpx.Client, requests: list[Request], args: argparse.Namespace
) -> None:
    for r in requests:
        c = dashboard if r.path == "/heatmaps" else client
        t0 = time.perf_counter()
        resp = c.get(r.path, params=r.params)
        r.first_ms = (time.perf_counter() - t0) * 1000
        r.status, r.size = resp.status_code, len(resp.content)
        if resp.status_code != 200:
            r.note = f"HTTP {resp.status_code}: {resp.text[:120]}"
            print(f"  {r.name:<50} {r.note}", flush=True)
            continue
        for _ in range(args.warmup):
            c.get(r.path, params=r.params)
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            resp = c.get(r.path, params=r.params)
            r.samples_ms.append((time.perf_counter() - t0) * 1000)
            r.status = resp.status_code
        if r.path != "/heatmaps":
            r.note = (r.note + "; " if r.note else "") + describe(resp.json())
        else:
            title = re.search(r"<title>([^<]*)</title>", resp.text)
            r.note = f"<title> {title.group(1).strip()}" if title else "no <title>"
        print(
            f"  {r.name:<50} first {fmt(r.first_ms):>6} ms  p50 {fmt(r.p50):>6} ms  "
            f"p95 {fmt(r.p95):>6} ms  max {fmt(r.max):>6} ms  {r.size:,} B",
            flush=True,
        )


def describe(body: dict[str, Any]) -> str:
    if "cells" in body:
        return (
            f"{body['page_views']:,} page views, {body['clicks']:,} clicks, "
            f"{len(body['cells']):,} cells, {body['page_count']} page(s)"
        )
    if "recordings" in body:
        return f"{body['clicks']:,} clicks, {len(body['recordings'])} recordings listed"
    if "pages" in body:
        top = body["pages"][0] if body["pages"] else {}
        return f"{len(body['pages'])} pages, first {top.get('page', '–')}"
    return ""


# ---- the server's SQL, in this process -------------------------------------------------------


@contextmanager
def captured(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The statements the server's query code runs, as sent to the driver."""
    seen: list[tuple[str, Any]] = []

    def before(conn: Any, cur: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, params))

    engines = {id(e): e for e in (db._read, db._write)}  # noqa: SLF001 (a benchmark may peek)
    for e in engines.values():
        event.listen(e, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        for e in engines.values():
            event.remove(e, "before_cursor_execute", before)


def server_sql(db: Database, s: Seeded, r: Request) -> list[tuple[str, Any]]:
    """Runs what the route runs for this request, with the server's own functions."""
    p = r.params
    device = p.get("device")
    scope = queries.scope_of(
        db, s.account_id, Clock().now_ms(), p.get("site_id"), p.get("from"), p.get("to"), device
    )
    with captured(db) as seen:
        if r.path == "/api/v1/pages":
            queries.pages_report(db, scope, p["sort"], 100)
            return seen
        keys = queries.pages_matching(db, scope, p["url"])
        if not scope.device:
            from dataclasses import replace

            scope = replace(scope, device=queries.device_for(db, scope, keys))
        if r.path == "/api/v1/heatmaps":
            queries.heatmap(db, scope, keys, None)
        else:
            place = (int(p["x"]), int(p["y"]), 20) if "x" in p else None
            queries.recordings_at(
                db, scope, keys, int(p.get("width", 1280)), selector=p.get("selector"), place=place
            )
    return seen


def time_sql(db: Database, s: Seeded, requests: list[Request]) -> None:
    """Each request's statements, each run 3 times in this process (median)."""
    for r in requests:
        if r.path == "/heatmaps" or not r.samples_ms:
            continue
        for statement, params in server_sql(db, s, r):
            runs = []
            for _ in range(3):
                with db.read() as conn:
                    t0 = time.perf_counter()
                    conn.exec_driver_sql(statement, params).fetchall()
                    runs.append((time.perf_counter() - t0) * 1000)
            r.sql.append((statement, params, statistics.median(runs)))


def explain(db: Database, statement: str, params: Any) -> str:
    with db.read() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _, detail in rows:
                d = depth.get(int(parent), -1) + 1
                depth[int(node)] = d
                lines.append("  " * d + str(detail))
            return "\n".join(lines)
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).all()
        return "\n".join(str(row[0]) for row in rows)


def plans(db: Database, requests: list[Request], n: int) -> list[Request]:
    timed = [r for r in requests if r.sql]
    chosen = sorted(timed, key=lambda r: -r.p50)[:n]
    for r in chosen:
        parts = []
        for statement, params, ms in sorted(r.sql, key=lambda x: -x[2])[:3]:
            shown = " ".join(statement.split())
            parts.append(f"{fmt(ms)} ms: {shown}\n{explain(db, statement, params)}")
        r.plan = "\n\n".join(parts)
    return chosen


# ---- the run -------------------------------------------------------------------------------


def fmt(ms: float) -> str:
    if ms != ms:  # NaN
        return "–"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}"


def postgres_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return str(args.database_url)
    base = os.environ.get("FOOTAGE_TEST_POSTGRES_URL", "")
    if not base:
        raise BenchError(
            'PostgreSQL: give --database-url, or start one: eval "$(scripts/start-postgres)"'
        )
    return str(make_url(base).set(database="footage_heatmaps").render_as_string(False))


def ensure_pg_database(url: str) -> None:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": u.database}
        ).first()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{u.database}"')
    admin.dispose()


def drop_pg_database(url: str) -> None:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    admin.dispose()


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--database-url", default="", help="PostgreSQL (default: see above)")
    ap.add_argument("--recordings", type=int, default=50_000, help="on the product page")
    ap.add_argument("--noise", type=int, default=200_000, help="other sites, pages, devices")
    ap.add_argument("--batch", type=int, default=500, help="recordings per transaction")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep (and reuse) the seeded database in DIR",
    )
    ap.add_argument("--repeat", type=int, default=30, help="timed requests each")
    ap.add_argument("--warmup", type=int, default=2, help="untimed requests after the first")
    ap.add_argument(
        "--explain", type=int, default=4, metavar="N", help="plans of the N slowest requests"
    )
    ap.add_argument(
        "--cold",
        action="store_true",
        help="SQLite: drop the database files from the OS cache before the server starts (for\n"
        "PostgreSQL, restart it and drop its data files from the OS cache yourself)",
    )
    ap.add_argument("--seed-only", action="store_true", help="seed (with --keep) and stop")
    ap.add_argument("--no-wait", action="store_true", help="do not wait for an idle machine")
    ap.add_argument("--json", type=Path, default=None, help="default: bench/out/heatmaps-DB.json")
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    backend = "postgresql" if args.backend == "postgres" else "sqlite"
    temporary = args.keep is None
    data_dir = Path(tempfile.mkdtemp(prefix="footage-heatmaps-")) if temporary else args.keep
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'footage.db'}"
    if backend == "postgresql":
        url = postgres_url(args)
        ensure_pg_database(url)
    db = Database(url)
    try:
        db.migrate()
        s = load_or_seed(db, data_dir, args)
        if args.seed_only:
            return 0
        requests = requests_of(s)
        pg_url = url if backend == "postgresql" else ""
        pg_settings, pg_pid = postgres_facts(db)
        if pg_settings:
            print("PostgreSQL:", ", ".join(f"{k} {v}" for k, v in pg_settings.items()))
        wall, cpu, load = over_http(data_dir, pg_url, s, requests, pg_pid, args)
        # Counted after the requests: counting reads whole tables, which would warm the caches
        # the first requests are meant to find cold.
        s.rows = row_counts(db)
        headline_rows = target_rows(db, s)
        s.size_bytes, table_bytes = database_size(db, data_dir)
        time_sql(db, s, requests)
        explained = plans(db, requests, args.explain)
        report(backend, s, headline_rows, table_bytes, requests, explained, wall, cpu, load, args)
    finally:
        db.dispose()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
            if backend == "postgresql":
                drop_pg_database(url)
    return 0


def evict(data_dir: Path) -> int:
    """Drops the SQLite files' pages from the OS cache (only theirs), so the server's first
    requests read from the disk; returns the bytes evicted."""
    total = 0
    for path in data_dir.glob("footage.db*"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages are not dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            total += os.fstat(fd).st_size
        finally:
            os.close(fd)
    return total


def over_http(
    data_dir: Path,
    database_url: str,
    s: Seeded,
    requests: list[Request],
    pg_pid: int | None,
    args: argparse.Namespace,
) -> tuple[float, dict[str, float], tuple[float, float, float]]:
    port = free_port()
    if args.cold and not database_url:
        print(f"Evicted {evict(data_dir) / 1e6:,.0f} MB of SQLite files from the OS cache.")
    cmd = footage_cmd("serve", "--no-demo", "--no-background", "--port", str(port))
    cmd += ["--data-dir", str(data_dir)]
    if database_url:
        cmd += ["--database-url", database_url]
    name = "postgresql" if database_url else "sqlite"
    server = start_server("footage serve", cmd, port, OUT / f"heatmaps-serve-{name}.log")
    try:
        headers = {"Authorization": f"Bearer {s.token}"}
        with (
            httpx.Client(base_url=server.url, headers=headers, timeout=300) as client,
            httpx.Client(base_url=server.url, timeout=300) as dashboard,
        ):
            if not args.no_wait:
                wait_for_quiet(max_wait=60)
            drill_down_client = httpx.Client(base_url=server.url, headers=headers, timeout=300)
            pg0 = tree_cpu_seconds(pg_pid) if pg_pid else 0.0
            server0, all0, me0, t0 = (
                tree_cpu_seconds(server.proc.pid),
                machine_cpu_seconds(),
                time.process_time(),
                time.time(),
            )
            # The first request of each kind is the first since the server started: drill-downs
            # need the heatmap's answer first, so the headline goes first of all.
            time_requests(client, dashboard, requests[:5], args)
            drill_down(drill_down_client, requests)
            drill_down_client.close()
            if not dashboard_login(dashboard, s):
                requests[-1].note = "no dashboard login"
            time_requests(client, dashboard, requests[5:], args)
            wall = time.time() - t0
            cpu = {
                "server": tree_cpu_seconds(server.proc.pid) - server0,
                "postgresql": (tree_cpu_seconds(pg_pid) - pg0) if pg_pid else 0.0,
                "script": time.process_time() - me0,
            }
            cpu["other processes"] = max(0.0, machine_cpu_seconds() - all0 - sum(cpu.values()))
            load = os.getloadavg()
            return wall, {k: v / wall for k, v in cpu.items()}, load
    finally:
        server.stop()


def report(
    backend: str,
    s: Seeded,
    headline_rows: dict[str, int],
    table_bytes: dict[str, int],
    requests: list[Request],
    explained: list[Request],
    wall: float,
    cpu: dict[str, float],
    load: tuple[float, float, float],
    args: argparse.Namespace,
) -> None:
    rows = []
    for n, r in enumerate(requests, 1):
        sql_ms = sum(ms for _, _, ms in r.sql) if r.sql else float("nan")
        ok = "✓" if r.samples_ms and r.p95 < GOAL_MS else ("✗" if r.samples_ms else "")
        rows.append(
            [
                n,
                r.name,
                fmt(r.first_ms),
                fmt(r.p50),
                fmt(r.p95),
                fmt(r.max),
                fmt(sql_ms),
                f"{r.size:,}",
                ok,
                r.note,
            ]
        )
    print()
    print(
        f"{backend}: {s.recordings:,} recordings of {PRODUCT} (desktop) over days "
        f"{iso_day(s.first_day)} … {iso_day(s.last_day)}, {s.noise:,} more as noise; "
        f"seeded in {s.seconds:.0f} s; database {s.size_bytes / 1e6:,.0f} MB."
    )
    print(
        table(
            [
                "#",
                "request",
                "first ms",
                "p50 ms",
                "p95 ms",
                "max ms",
                "SQL ms",
                "bytes",
                "< 2 s",
                "answer",
            ],
            rows,
        )
    )
    print("\nRows: " + ", ".join(f"{k} {v:,}" for k, v in s.rows.items()))
    print(
        "Rows the headline heatmap sums: "
        + ", ".join(f"{k} {v:,}" for k, v in headline_rows.items())
    )
    if table_bytes:
        print(
            "Bytes (table + indexes): "
            + ", ".join(f"{k} {v / 1e6:,.1f} MB" for k, v in table_bytes.items())
        )
    used = ", ".join(f"{who} {share:.0%}" for who, share in cpu.items() if share)
    print(
        f"CPU during the {wall:.0f} s of requests, in cores: {used}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}."
    )
    for r in explained:
        print(f"\n--- plans: {r.name} (p50 {fmt(r.p50)} ms) ---")
        print(r.plan)
    out = args.json or OUT / f"heatmaps-{backend}.json"
    write_json(
        out,
        {
            "machine": machine(),
            "backend": backend,
            "recordings": s.recordings,
            "noise": s.noise,
            "seed_seconds": s.seconds,
            "rows": s.rows,
            "headline_rows": headline_rows,
            "size_bytes": s.size_bytes,
            "table_bytes": table_bytes,
            "repeat": args.repeat,
            "wall_s": wall,
            "cpu_cores": cpu,
            "loadavg": load,
            "requests": [
                {
                    "name": r.name,
                    "path": r.path,
                    "params": r.params,
                    "status": r.status,
                    "bytes": r.size,
                    "first_ms": r.first_ms,
                    "p50_ms": r.p50,
                    "p95_ms": r.p95,
                    "max_ms": r.max,
                    "runs": len(r.samples_ms),
                    "note": r.note,
                    "sql": [{"sql": sql, "ms": ms} for sql, _, ms in r.sql],
                    "plan": r.plan,
                }
                for r in requests
            ],
        },
    )
    print(f"\nResults: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"heatmaps.py: {exc}", file=sys.stderr)
        sys.exit(1)
