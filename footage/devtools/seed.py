"""Fill a database with many realistic, ready recordings: rows only, for lists and filters.

One account, "Seeded" (plan pro), with S sites; the first site is the biggest and gets M of
the N recordings, the others share the rest Zipf-style (never more than the first). Each
recording has the summary columns the finalizer writes, its pages (`recording_pages`), its
moments (`recording_moments`: page entries, rage clicks, errors, custom events) and a visitor
(`visitors`). Nothing is recorded: there are no chunks and no blobs, so the player has nothing
to play; everything a list or a filter reads is there.

Distributions (the data depends on `--seed`, on how many recordings the account already has
and on the hour of the day it runs, since the daily rhythm is in UTC): start times over the
last 10 days with a daily rhythm; durations log-normal (median 2 min); 1–15 pages
(geometric); ~200 URL paths per site; device desktop/mobile/tablet
60/35/5 with consistent browser, OS (as the server's User-Agent parser names them) and
screen; ~40 countries, skewed; referrers google/direct/social/newsletter; utm_* on ~20 %;
rage clicks on ~3 %, errors on ~5 %, a conversation on ~2 %, custom events on ~25 %;
~60 % of recordings by a returning visitor, ~15 % of visitors identified; IPs on the sites
that keep them (~30 % of recordings).

Rows go in with big batched transactions: `executemany` on SQLite (its own connection with
`synchronous=OFF` while seeding, then `ANALYZE`, which `footage serve` repeats every few
minutes), `COPY` on PostgreSQL (then `VACUUM ANALYZE`, which autovacuum would do shortly
anyway).
"""

from __future__ import annotations

import base64
import bisect
import json
import math
import random
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import make_url

from footage.accounts.passwords import hash_password, new_secret, secret_hash, verify_password
from footage.accounts.plans import DEFAULT_PLANS, Plans
from footage.accounts.service import create_account, origin_of
from footage.clock import Clock
from footage.heatmaps.analysis import ANALYSIS_VERSION
from footage.sessions.useragent import parse_agent
from footage.store.bulk import open_bulk_writer
from footage.store.db import Database, new_id, q
from footage.store.ipkey import ip_key

ACCOUNT_NAME = "Seeded"
ACCOUNT_EMAIL = "seeded@example.com"
PLAN = "pro"
LOGIN_FILE = "seed-login.json"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
WINDOW_DAYS = 10
BATCH_RECORDINGS = 20_000
IP_SHARE = 0.30  # of recordings, on the sites that keep IPs

T = TypeVar("T")


class Weighted(Generic[T]):
    """Items with weights; `pick(r)` maps a uniform r in [0, 1) to an item."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        items, weights = zip(*pairs, strict=True)
        self.items: tuple[T, ...] = tuple(items)
        self.cum: list[float] = list(accumulate(float(w) for w in weights))
        self.total = self.cum[-1]

    def pick(self, r: float) -> T:
        return self.items[bisect.bisect_right(self.cum, r * self.total)]


def zipf(items: Sequence[T], total: float, s: float = 1.0) -> list[tuple[T, float]]:
    """`total` weight spread over `items` by rank (the first the most)."""
    raw = [1.0 / (k**s) for k in range(1, len(items) + 1)]
    norm = sum(raw)
    return [(item, total * w / norm) for item, w in zip(items, raw, strict=True)]


def _words(text: str) -> list[str]:
    return text.split()


def _shares(text: str) -> list[tuple[str | None, float]]:
    """ "US 22 DE 10" → [("US", 22.0), ("DE", 10.0)]."""
    words = text.split()
    return [(name, float(share)) for name, share in zip(words[::2], words[1::2], strict=True)]


# --- what visitors use ----------------------------------------------------------------------

_WIN = "Windows NT 10.0; Win64; x64"
_MAC = "Macintosh; Intel Mac OS X 10_15_7"
_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"
_IOS_SAFARI = "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
# (device, share within the device, User-Agent)
_AGENTS: list[tuple[str, float, str]] = [
    ("desktop", 52, f"Mozilla/5.0 ({_WIN}) {_CHROME} Safari/537.36"),
    ("desktop", 14, f"Mozilla/5.0 ({_WIN}) {_CHROME} Safari/537.36 Edg/131.0.0.0"),
    ("desktop", 6, f"Mozilla/5.0 ({_WIN}; rv:133.0) Gecko/20100101 Firefox/133.0"),
    ("desktop", 11, f"Mozilla/5.0 ({_MAC}) {_CHROME} Safari/537.36"),
    (
        "desktop",
        10,
        f"Mozilla/5.0 ({_MAC}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
        "Safari/605.1.15",
    ),
    ("desktop", 2, f"Mozilla/5.0 ({_MAC}; rv:133.0) Gecko/20100101 Firefox/133.0"),
    ("desktop", 3, f"Mozilla/5.0 (X11; Linux x86_64) {_CHROME} Safari/537.36"),
    ("desktop", 2, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    ("mobile", 42, f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {_IOS_SAFARI}"),
    (
        "mobile",
        6,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    ),
    (
        "mobile",
        35,
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
    ),
    (
        "mobile",
        14,
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    ),
    ("mobile", 3, "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"),
    ("tablet", 70, f"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) {_IOS_SAFARI}"),
    (
        "tablet",
        20,
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    (
        "tablet",
        10,
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Safari/537.36",
    ),
]
DEVICE_SHARE = {"desktop": 0.60, "mobile": 0.35, "tablet": 0.05}
# (width, height, share) of the screen, per device; viewport = screen minus browser chrome
SCREENS: dict[str, list[tuple[int, int, float]]] = {
    "desktop": [
        (1920, 1080, 35),
        (1366, 768, 10),
        (1536, 864, 12),
        (1440, 900, 8),
        (2560, 1440, 10),
        (1280, 720, 4),
        (1680, 1050, 5),
        (1512, 982, 6),
        (1280, 800, 5),
        (3840, 2160, 3),
        (1024, 768, 2),
    ],
    "mobile": [
        (390, 844, 20),
        (393, 852, 15),
        (414, 896, 10),
        (375, 667, 8),
        (430, 932, 10),
        (412, 915, 15),
        (360, 800, 15),
        (384, 854, 7),
    ],
    "tablet": [
        (768, 1024, 25),
        (810, 1080, 25),
        (820, 1180, 20),
        (800, 1280, 20),
        (1024, 1366, 10),
    ],
}
CHROME_PX = {"desktop": (0, 130), "mobile": (0, 110), "tablet": (0, 90)}


@dataclass(frozen=True)
class Profile:
    user_agent: str
    device: str
    browser: str
    os: str
    screens: Weighted[tuple[int, int]]


def _profiles() -> Weighted[Profile]:
    pairs = []
    for device, share, agent in _AGENTS:
        parsed = parse_agent(agent)  # named exactly as the finalizer names them
        if parsed.device != device:
            raise AssertionError(f"{agent!r} parses as {parsed.device}, not {device}")
        in_device = sum(s for d, s, _ in _AGENTS if d == device)
        screens = Weighted(((w, h), s) for w, h, s in SCREENS[device])
        profile = Profile(agent, device, parsed.browser, parsed.os, screens)
        pairs.append((profile, DEVICE_SHARE[device] * share / in_device))
    return Weighted(pairs)


# ISO code and share; None: unknown (no entry in the country database)
COUNTRIES: list[tuple[str | None, float]] = [
    *_shares(
        "US 22 DE 10 GB 8 FR 6 IN 5 CA 4 NL 3.5 ES 3 IT 3 BR 3 AU 2.5 PL 2 SE 1.8 CH 1.6 "
        "AT 1.5 BE 1.4 JP 1.4 MX 1.3 DK 1 NO 1 FI 0.8 IE 0.8 PT 0.8 CZ 0.7 TR 0.7 RO 0.6 "
        "GR 0.5 HU 0.5 ZA 0.5 AR 0.5 CL 0.4 CO 0.4 SG 0.4 KR 0.4 NZ 0.3 IL 0.3 UA 0.3 PH 0.3 "
        "ID 0.3 VN 0.2"
    ),
    (None, 1.5),
]

# How the visit came: (kind, share, referrer URLs, share of visits with utm_* parameters)
SOURCES: list[tuple[str, float, list[str], float]] = [
    ("direct", 35, [""], 0.02),
    (
        "search",
        42,
        ["https://www.google.com/"] * 8
        + ["https://www.bing.com/", "https://duckduckgo.com/", "https://www.ecosia.org/"],
        0.18,
    ),
    (
        "social",
        16,
        [
            "https://www.facebook.com/",
            "https://l.instagram.com/",
            "https://t.co/",
            "https://www.linkedin.com/",
            "https://www.reddit.com/",
            "https://www.tiktok.com/",
        ],
        0.35,
    ),
    ("newsletter", 5, ["https://newsletter.example.com/", "https://mail.google.com/"], 1.0),
    ("other", 2, ["https://news.ycombinator.com/", "https://www.producthunt.com/"], 0.1),
]
CAMPAIGNS = {
    "direct": [("partner", "referral", "spring_launch")],
    "search": [
        ("google", "cpc", "brand"),
        ("google", "cpc", "generic_shoes"),
        ("google", "cpc", "black_friday_2026"),
        ("google", "cpc", "retargeting"),
        ("bing", "cpc", "brand"),
    ],
    "social": [
        ("facebook", "paid_social", "black_friday_2026"),
        ("instagram", "paid_social", "winter_collection"),
        ("instagram", "social", "influencer_nov"),
        ("linkedin", "social", "b2b_launch"),
        ("tiktok", "paid_social", "winter_collection"),
    ],
    "newsletter": [
        ("newsletter", "email", "weekly_digest"),
        ("newsletter", "email", "black_friday_2026"),
        ("newsletter", "email", "welcome_series"),
    ],
    "other": [("hn", "referral", "show_hn")],
}
TERMS = ["running shoes", "linen shirt", "gift ideas", "free shipping", "sale", "wool socks"]

CUSTOM_EVENTS: list[tuple[str, float]] = [
    ("added_to_cart", 30),
    ("removed_from_cart", 6),
    ("checkout_started", 12),
    ("purchase_completed", 6),
    ("signup", 8),
    ("subscription_upgraded", 2),
    ("newsletter_subscribed", 8),
    ("coupon_applied", 5),
    ("search_performed", 18),
    ("video_played", 5),
]
SKU_EVENTS = {"added_to_cart", "removed_from_cart", "purchase_completed"}
PLAN_EVENTS = {"signup", "subscription_upgraded"}
PLANS_SOLD = [("free", 50), ("starter", 25), ("pro", 20), ("enterprise", 5)]
ERRORS = [
    "TypeError: Cannot read properties of undefined (reading 'price')",
    "TypeError: null is not an object (evaluating 'el.dataset')",
    "ReferenceError: gtag is not defined",
    "Uncaught (in promise) Error: Network request failed",
    "SyntaxError: Unexpected token '<'",
    "Error: Minified React error #418",
    "ResizeObserver loop completed with undelivered notifications.",
    "TypeError: Failed to fetch",
]
FIRST_NAMES = _words(
    "Anna Ben Clara David Emma Felix Greta Hugo Ida Jonas Karla Leon Mia Noah Olivia Paul "
    "Quinn Rosa Sam Tara Umar Vera William Xenia Yusuf Zoe Aiko Bruno Chloe Diego Elif Farah "
    "Giulia Hamid Ines Jamal Kenji Lucia Mateo Nora"
)
LAST_NAMES = _words(
    "Schmidt Mueller Smith Johnson Garcia Rossi Dubois Nowak Kowalski Jansen Silva Tanaka "
    "Kim Nguyen Okafor Larsen Novak Weber Fischer Martin Bernard Costa Moreau Ivanova Patel "
    "Cohen Haddad Lopez Brown Wilson"
)
EMAIL_DOMAINS = [("example.com", 50), ("example.org", 20), ("example.net", 20), ("mail.test", 10)]
# IPv4 addresses come from 60 /16 networks (an ISP's range), so a CIDR filter finds a few
# visitors; one in ten visitors has an IPv6 address.
_ip_rng = random.Random("ip-prefixes")
IP_PREFIXES = sorted({(_ip_rng.randrange(24, 220), _ip_rng.randrange(256)) for _ in range(60)})

# --- each site's pages ----------------------------------------------------------------------

_ADJ = _words(
    "blue red black white green grey navy linen wool cotton leather classic slim relaxed "
    "vintage organic waterproof lightweight"
)
_NOUN = _words(
    "shirt sneaker jacket scarf backpack sock hoodie dress boot cap belt watch mug lamp "
    "notebook bottle"
)
_CATEGORIES = _words(
    "men women kids shoes accessories home outdoor sale new-arrivals gifts bags basics"
)
_SEARCHES = _words("shoes gift+for+him linen red+dress socks wool backpack sale watch lamp")
_BLOG = _words(
    "how-to-choose-running-shoes winter-care-for-wool our-factory-visit gift-guide-2026 "
    "sustainable-cotton size-guide-explained five-ways-to-wear-linen behind-the-seams "
    "meet-the-makers packing-light black-friday-preview repair-dont-replace spring-lookbook "
    "caring-for-leather the-perfect-white-shirt travel-essentials office-to-evening "
    "kids-back-to-school home-office-setup year-in-review"
)
FUNNEL = [
    ("/cart", "Your cart"),
    ("/checkout", "Checkout"),
    ("/checkout/shipping", "Checkout · Shipping"),
    ("/checkout/payment", "Checkout · Payment"),
    ("/checkout/confirmation", "Thank you for your order"),
]


@dataclass
class SiteCatalog:
    """A site's ~200 URLs and how likely a visit starts on or moves to each."""

    base: str
    entry: Weighted[tuple[str, str]]
    browse: Weighted[tuple[str, str]]
    skus: list[str]


def site_catalog(base: str, rng: random.Random) -> SiteCatalog:
    title_of = {"men": "Men", "women": "Women", "kids": "Kids"}
    products = []
    for i in range(120):
        name = f"{rng.choice(_ADJ)}-{rng.choice(_NOUN)}-{i + 1}"
        products.append((f"/product/{name}", name.rsplit("-", 1)[0].replace("-", " ").title()))
    variants = [
        (f"{path}?color={rng.choice(_ADJ[:6])}&size={rng.choice(['s', 'm', 'l', 'xl'])}", title)
        for path, title in products[:20]
    ]
    categories = [
        (f"/category/{c}", title_of.get(c, c.replace("-", " ").title())) for c in _CATEGORIES
    ]
    categories += [(f"{p}?page=2", t) for p, t in categories[:6]]
    categories += [(f"{p}?sort=price_asc", t) for p, t in categories[:6]]
    searches = [(f"/search?q={q}", "Search results") for q in _SEARCHES]
    blog = [(f"/blog/{slug}", slug.replace("-", " ").capitalize()) for slug in _BLOG]
    account = [
        ("/account/login", "Log in"),
        ("/account/register", "Create an account"),
        ("/account/orders", "Your orders"),
        ("/account/settings", "Account settings"),
        ("/account/wishlist", "Wishlist"),
        ("/account/addresses", "Addresses"),
        ("/account/password-reset", "Reset your password"),
    ] + [(f"/account/orders/{1000 + rng.randrange(9000)}", "Order details") for _ in range(5)]
    info = [
        ("/about", "About us"),
        ("/contact", "Contact"),
        ("/help/shipping", "Shipping"),
        ("/help/returns", "Returns"),
        ("/help/faq", "FAQ"),
        ("/stores", "Our stores"),
        ("/careers", "Careers"),
        ("/privacy", "Privacy policy"),
    ]
    home = [("/", "Home"), ("/shop", "Shop"), ("/sale", "Sale"), ("/new", "New arrivals")]
    rng.shuffle(products)  # popularity is per site
    entry = Weighted(
        zipf(home, 30)
        + zipf(products, 28)
        + zipf(variants, 2)
        + zipf(categories, 14)
        + zipf(blog, 12)
        + zipf(searches, 2)
        + zipf(account, 6)
        + zipf(info, 6)
    )
    browse = Weighted(
        zipf(home, 10)
        + zipf(products, 40)
        + zipf(variants, 5)
        + zipf(categories, 18)
        + zipf(searches, 8)
        + zipf(blog, 4)
        + zipf(account, 6)
        + zipf(info, 3)
        + [(FUNNEL[0], 6)]
    )
    skus = [f"SKU-{rng.randrange(10_000, 99_999)}" for _ in products]
    return SiteCatalog(base, entry, browse, skus)


# --- the account and its sites -------------------------------------------------------------


@dataclass(frozen=True)
class SeedSite:
    id: str
    name: str
    url: str
    record_ips: bool


@dataclass
class SeededAccount:
    account_id: str
    sites: list[SeedSite]
    login: dict[str, Any]


def default_biggest(recordings: int, sites: int) -> int:
    """50,000 at a million recordings or more, else N/20 — but never less than twice an even
    share, so that the first site is the biggest also with few sites."""
    if sites <= 1:
        return recordings
    base = 50_000 if recordings >= 1_000_000 else recordings // 20
    return min(recordings, max(base, math.ceil(2 * recordings / sites)))


def site_counts(recordings: int, sites: int, biggest: int) -> list[int]:
    """The first site gets `biggest`; the others share the rest by a Zipf law whose exponent
    (≤ 1) is as large as possible without any of them exceeding `biggest`."""
    if sites < 1:
        raise ValueError("--sites must be at least 1")
    if not 0 <= biggest <= recordings:
        raise ValueError("--biggest must be between 0 and --recordings")
    if sites == 1:
        return [recordings]
    rest, others = recordings - biggest, sites - 1
    if rest > others * biggest:
        raise ValueError(
            f"--biggest {biggest:,} is too small: the other {others} sites would hold "
            f"{rest / others:,.0f} recordings each"
        )

    def shares(s: float) -> list[float]:
        raw = [1.0 / (k**s) for k in range(1, others + 1)]
        total = sum(raw)
        return [rest * w / total for w in raw]

    # Clearly smaller than the first where the others' share allows it.
    cap = int(0.8 * biggest) if rest <= others * int(0.8 * biggest) else biggest
    lo, hi = 0.0, 1.0
    if shares(hi)[0] > cap:
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if shares(mid)[0] <= cap else (lo, mid)
        exact = shares(lo)
    else:
        exact = shares(hi)
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(others), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: rest - sum(counts)]:
        counts[i] += 1
    return [biggest, *counts]


def ip_sites(counts: Sequence[int]) -> set[int]:
    """Which sites keep IPs: the biggest, then the largest others while the recordings on
    sites with IPs stay at about 30 % of all."""
    total = sum(counts)
    chosen, held = {0}, counts[0]
    for i in sorted(range(1, len(counts)), key=lambda i: -counts[i]):
        if held + counts[i] <= IP_SHARE * total * 1.02:
            chosen.add(i)
            held += counts[i]
    return chosen


def site_name(i: int) -> str:
    return f"Seeded site {i + 1:03d}"


def site_url(i: int) -> str:
    return f"https://shop-{i + 1:03d}.seeded.example"


def ensure_account(
    db: Database,
    clock: Clock,
    plans: Plans,
    counts: Sequence[int],
    data_dir: Path | None,
) -> SeededAccount:
    """The "Seeded" account with (at least) `len(counts)` sites, and a working login.

    Created the first time; later runs reuse it (by name), add missing sites and reuse the
    login in DATA_DIR/seed-login.json if it still works, else issue a new API token (and a
    new password if the old one is not known)."""
    login_path = data_dir / LOGIN_FILE if data_dir else None
    saved: dict[str, Any] = {}
    if login_path and login_path.exists():
        try:
            saved = dict(json.loads(login_path.read_text()))
        except ValueError:
            saved = {}
    found_id = seeded_account_id(db)
    with_ips = ip_sites(counts)
    if found_id is None:
        password = secrets.token_urlsafe(12)
        created = create_account(
            db,
            clock,
            name=ACCOUNT_NAME,
            plan=PLAN,
            email=ACCOUNT_EMAIL,
            password=password,
            site_url=site_url(0),
            site_name=site_name(0),
            plans=plans,
        )
        account_id, token = created.account_id, created.api_token
        db.run(
            "UPDATE sites SET record_ips = :ips WHERE id = :id",
            {"ips": int(0 in with_ips), "id": created.site_id},
        )
    else:
        account_id = found_id
        ours = saved.get("account_id") == account_id
        token = str(saved.get("api_token") or "") if ours else ""
        if not token or not db.one(
            "SELECT 1 AS ok FROM api_tokens WHERE token_hash = :h AND account_id = :a",
            {"h": secret_hash(token), "a": account_id},
        ):
            token = new_secret("ft")
            db.run(
                "INSERT INTO api_tokens (id, account_id, token_hash, name, created_at) "
                "VALUES (:id, :a, :h, 'seed', :t)",
                {
                    "id": new_id("tok"),
                    "a": account_id,
                    "h": secret_hash(token),
                    "t": clock.now_ms(),
                },
            )
        password = str(saved.get("password") or "") if ours else ""
        user = db.one("SELECT password_hash FROM users WHERE email = :e", {"e": ACCOUNT_EMAIL})
        if not password or not user or not verify_password(user["password_hash"], password):
            password = secrets.token_urlsafe(12)
            db.run(
                "UPDATE users SET password_hash = :h WHERE email = :e",
                {"h": hash_password(password), "e": ACCOUNT_EMAIL},
            )
    existing = {
        r["name"]: r for r in db.all("SELECT * FROM sites WHERE account_id = :a", {"a": account_id})
    }
    sites: list[SeedSite] = []
    with db.write() as conn:
        for i in range(len(counts)):
            found = existing.get(site_name(i))
            if found is None:
                site_id = new_id("site")
                q(
                    conn,
                    "INSERT INTO sites (id, account_id, name, url, site_key, allowed_origins, "
                    "recording_enabled, is_demo, created_at, record_ips) "
                    "VALUES (:id, :a, :n, :u, :k, :o, 1, 0, :t, :ips)",
                    id=site_id,
                    a=account_id,
                    n=site_name(i),
                    u=site_url(i),
                    k="s_" + secrets.token_urlsafe(15),
                    o=origin_of(site_url(i)),
                    t=clock.now_ms(),
                    ips=int(i in with_ips),
                )
                sites.append(SeedSite(site_id, site_name(i), site_url(i), i in with_ips))
            else:
                sites.append(
                    SeedSite(found["id"], found["name"], found["url"], bool(found["record_ips"]))
                )
    login = {
        "email": ACCOUNT_EMAIL,
        "password": password,
        "api_token": token,
        "account_id": account_id,
        "biggest_site_id": sites[0].id,
        "database": redacted(db.url),
    }
    if login_path:
        login_path.parent.mkdir(parents=True, exist_ok=True)
        login_path.write_text(json.dumps(login, indent=2) + "\n")
        login_path.chmod(0o600)
    return SeededAccount(account_id, sites, login)


def seeded_account_id(db: Database) -> str | None:
    """The "Seeded" account's id, if this database has one."""
    row = db.one(
        "SELECT a.id FROM accounts a JOIN users u ON u.account_id = a.id "
        "WHERE a.name = :n AND u.email = :e",
        {"n": ACCOUNT_NAME, "e": ACCOUNT_EMAIL},
    )
    return str(row["id"]) if row else None


def login_for(
    db: Database, data_dir: Path | None, plans: Plans = DEFAULT_PLANS, clock: Clock | None = None
) -> dict[str, Any]:
    """A working login of the existing "Seeded" account (the saved one, or a new token)."""
    account_id = seeded_account_id(db)
    if account_id is None:
        raise ValueError("this database has no seeded account: run `footage dev seed` first")
    row = db.one("SELECT COUNT(*) AS n FROM sites WHERE account_id = :a", {"a": account_id})
    sites = int(row["n"]) if row else 1
    return ensure_account(db, clock or Clock(), plans, [0] * sites, data_dir).login


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# --- generating recordings -----------------------------------------------------------------

REC_COLUMNS = [
    "id",
    "account_id",
    "site_id",
    "visitor_id",
    "session_id",
    "status",
    "created_at",
    "last_seen_at",
    "claimed_at",
    "finalized_at",
    "user_agent",
    "ip",
    "ip_key",
    "country",
    "screen_width",
    "screen_height",
    "started_at",
    "ended_at",
    "duration_ms",
    "active_ms",
    "page_count",
    "click_count",
    "rage_click_count",
    "error_count",
    "event_count",
    "entry_url",
    "exit_url",
    "device",
    "browser",
    "os",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "stored_bytes",
    "conversation_id",
    "returning_visitor",
    "analysed",
]
PAGE_COLUMNS = [
    "site_id",
    "page_id",
    "recording_id",
    "url",
    "title",
    "referrer",
    "viewport_width",
    "viewport_height",
    "first_seen_at",
    "last_seen_at",
    "left_at",
    "started_at",
]
MOMENT_COLUMNS = ["recording_id", "site_id", "kind", "at", "name", "detail"]
VISITOR_COLUMNS = [
    "site_id",
    "id",
    "name",
    "email",
    "first_seen_at",
    "last_seen_at",
    "external_id",
    "variables",
]


@dataclass
class Visitor:
    id: str
    profile: Profile
    screen: tuple[int, int]
    country: str | None
    ip: str | None
    first_seen: int
    last_seen: int
    name: str | None = None
    email: str | None = None
    external_id: str | None = None
    variables: str | None = None


@dataclass
class Batch:
    recordings: list[tuple[Any, ...]] = field(default_factory=list)
    pages: list[tuple[Any, ...]] = field(default_factory=list)
    moments: list[tuple[Any, ...]] = field(default_factory=list)


def _uuid4(bits: int) -> str:
    """A version-4 UUID string from 128 random bits (str(uuid.UUID(…)) costs 3× more)."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Generator:
    """Recordings in the order they would have been created, with every row they have."""

    def __init__(
        self,
        rng: random.Random,
        account_id: str,
        sites: Sequence[SeedSite],
        now_ms: int,
        seed_value: int = 1,
    ) -> None:
        self.rng = rng
        self.account_id = account_id
        self.sites = list(sites)
        self.now_ms = now_ms
        # Each site's pages depend on its place and the seed, not on its (random) id, so the
        # same --seed gives the same URLs on every database.
        self.catalogs = [
            site_catalog(s.url, random.Random(f"catalog:{seed_value}:{i}"))
            for i, s in enumerate(sites)
        ]
        self.visitors: list[list[Visitor]] = [[] for _ in sites]
        self.profiles = _profiles()
        self.countries = Weighted(COUNTRIES)
        self.sources = Weighted((src, src[1]) for src in SOURCES)
        self.events = Weighted(CUSTOM_EVENTS)
        self.plans_sold = Weighted(PLANS_SOLD)
        self.email_domains = Weighted(EMAIL_DOMAINS)
        self.identified = 0

    def start_times(self, counts: Sequence[int]) -> list[tuple[int, int]]:
        """(started_at, site index), sorted: the last 10 days, busier in the afternoon (UTC)
        and a little quieter at weekends."""
        start = self.now_ms - WINDOW_DAYS * DAY_MS
        hours = WINDOW_DAYS * 24
        weights = []
        for h in range(hours):
            at = start + h * HOUR_MS
            hour_of_day = (at // HOUR_MS) % 24
            weekday = (at // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
            w = 1.0 + 0.8 * math.cos(2 * math.pi * (hour_of_day - 15) / 24)
            weights.append(w * (0.8 if weekday >= 5 else 1.0))
        cum = list(accumulate(weights))
        rng = self.rng
        out: list[tuple[int, int]] = []
        latest = self.now_ms - 120_000  # every recording has ended and been finalized
        for site, n in enumerate(counts):
            slots = rng.choices(range(hours), cum_weights=cum, k=n)
            for slot in slots:
                at = start + slot * HOUR_MS + int(rng.random() * HOUR_MS)
                out.append((min(at, latest - 1000), site))
        out.sort()
        return out

    def batches(self, starts: Sequence[tuple[int, int]], size: int) -> Iterator[Batch]:
        batch = Batch()
        for i, (at, site) in enumerate(starts):
            self._recording(batch, at, site)
            if (i + 1) % size == 0:
                yield batch
                batch = Batch()
        if batch.recordings:
            yield batch

    def _visitor(self, site: int, at: int) -> tuple[Visitor, bool]:
        rng = self.rng
        pool = self.visitors[site]
        if pool and rng.random() < 0.6:
            # Some visitors come back much more often than others.
            visitor = pool[int(len(pool) * rng.random() ** 2.5)]
            visitor.last_seen = at
            return visitor, True
        profile = self.profiles.pick(rng.random())
        ip = None
        if self.sites[site].record_ips:
            if rng.random() < 0.1:
                ip = (
                    f"2a02:{rng.randrange(0x8100, 0x8200):x}:{rng.randrange(65536):x}"
                    f"::{rng.randrange(1, 65536):x}"
                )
            else:
                a, b = IP_PREFIXES[int(rng.random() * len(IP_PREFIXES))]
                ip = f"{a}.{b}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        visitor = Visitor(
            id=_uuid4(rng.getrandbits(128)),
            profile=profile,
            screen=profile.screens.pick(rng.random()),
            country=self.countries.pick(rng.random()),
            ip=ip,
            first_seen=at,
            last_seen=at,
        )
        if rng.random() < 0.15:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            n = rng.randrange(1, 1000)
            domain = self.email_domains.pick(rng.random())
            visitor.name = f"{first} {last}"
            visitor.email = f"{first.lower()}.{last.lower()}{n}@{domain}"
            visitor.external_id = f"cust_{rng.randrange(100_000, 999_999)}"
            visitor.variables = _dumps(
                {
                    "plan": self.plans_sold.pick(rng.random()),
                    "orders": rng.randrange(0, 40),
                    "newsletter": rng.random() < 0.4,
                }
            )
            self.identified += 1
        pool.append(visitor)
        return visitor, False

    def _recording(self, batch: Batch, started: int, site: int) -> None:
        rng = self.rng
        random_ = rng.random
        catalog = self.catalogs[site]
        site_row = self.sites[site]
        visitor, returning = self._visitor(site, started)
        profile = visitor.profile
        rec_id = "rec_" + base64.urlsafe_b64encode(rng.randbytes(12)).decode()

        duration = int(min(3 * HOUR_MS, max(1500.0, rng.lognormvariate(math.log(120_000), 1.1))))
        duration = max(1000, min(duration, self.now_ms - 120_000 - started))
        ended = started + duration
        active = int(duration * (0.15 + 0.85 * rng.betavariate(2.0, 1.6)))

        # pages: geometric, 1–15; a few visits go through the checkout
        pages = 1
        while pages < 15 and random_() < 0.62:
            pages += 1
        paths = [catalog.entry.pick(random_())]
        buying = pages >= 3 and random_() < 0.25
        for _ in range(pages - 1):
            paths.append(catalog.browse.pick(random_()))
        if buying:
            depth = min(len(FUNNEL), pages - 1, 1 + int(random_() * len(FUNNEL)))
            paths[pages - depth :] = FUNNEL[:depth]

        source = self.sources.pick(random_())
        kind, _, referrers, utm_share = source
        referrer = referrers[int(random_() * len(referrers))]
        utm: tuple[str | None, ...] = (None, None, None, None, None)
        entry_path = paths[0][0]
        if random_() < utm_share:
            # The campaign's source matches the referrer where it can (google ↔ google.com).
            campaigns = [c for c in CAMPAIGNS[kind] if c[0] in referrer] or CAMPAIGNS[kind]
            src, medium, campaign = campaigns[int(random_() * len(campaigns))]
            term = rng.choice(TERMS) if medium == "cpc" and random_() < 0.5 else None
            content = rng.choice(["hero", "banner", "footer_link"]) if random_() < 0.3 else None
            utm = (src, medium, campaign, term, content)
            query = f"utm_source={src}&utm_medium={medium}&utm_campaign={campaign}"
            if term:
                query += "&utm_term=" + term.replace(" ", "+")
            if content:
                query += f"&utm_content={content}"
            entry_path += ("&" if "?" in entry_path else "?") + query
            paths[0] = (entry_path, paths[0][1])

        # page times: the duration cut at random points
        cuts = sorted(int(random_() * duration) for _ in range(pages - 1))
        starts_ = [started, *(started + c for c in cuts)]
        ends = [*(started + c for c in cuts), ended]
        base = catalog.base
        sw, sh = visitor.screen
        cw, ch = CHROME_PX[profile.device]
        vw, vh = sw - cw, sh - ch
        timed_out = random_() < 0.08
        page_rows = batch.pages
        moments = batch.moments
        previous = referrer
        urls = []
        for k, (path, title) in enumerate(paths):
            url = base + path
            urls.append(url)
            page_start, page_end = starts_[k], ends[k]
            last = k == pages - 1
            page_rows.append(
                (
                    site_row.id,
                    _uuid4(rng.getrandbits(128)),
                    rec_id,
                    url,
                    title,
                    previous,
                    vw,
                    vh,
                    page_start + 200,
                    page_end,
                    None if (last and timed_out) else page_end,
                    page_start,
                )
            )
            moments.append((rec_id, site_row.id, "page", page_start, url, None))
            previous = url

        clicks = int(active / 1000 * rng.lognormvariate(math.log(0.12), 0.7))
        rage = 0
        if random_() < 0.03:
            rage = 1 + int(random_() ** 2 * 5)
            clicks += 3 * rage
            # As the finalizer stores them: a time, no name, no detail.
            for _ in range(rage):
                at = started + int(random_() * duration)
                moments.append((rec_id, site_row.id, "rage_click", at, None, None))
        errors = 0
        if random_() < 0.05:
            errors = 1 + int(random_() ** 2 * 8)
            for _ in range(errors):
                k = int(random_() * pages)
                moments.append(
                    (
                        rec_id,
                        site_row.id,
                        "error",
                        starts_[k] + int(random_() * max(1, ends[k] - starts_[k])),
                        rng.choice(ERRORS),  # the message is the name
                        None,
                    )
                )
        if random_() < 0.25:
            for _ in range(1 + int(random_() ** 2 * 3)):
                name = self.events.pick(random_())
                props: dict[str, Any] = {}
                if name in SKU_EVENTS:
                    props = {"sku": catalog.skus[int(random_() ** 2 * len(catalog.skus))]}
                    props["quantity"] = 1 + int(random_() ** 3 * 4)
                elif name in PLAN_EVENTS:
                    props = {"plan": self.plans_sold.pick(random_())}
                elif name == "coupon_applied":
                    props = {"code": rng.choice(["WELCOME10", "BF2026", "FREESHIP"])}
                elif name == "search_performed":
                    props = {"query": rng.choice(_SEARCHES).replace("+", " ")}
                moments.append(
                    (
                        rec_id,
                        site_row.id,
                        "event",
                        started + int(random_() * duration),
                        name,
                        _dumps(props) if props else None,
                    )
                )
        conversation = f"conv_{rng.getrandbits(48):012x}" if random_() < 0.02 else None
        batch.recordings.append(
            (
                rec_id,
                self.account_id,
                site_row.id,
                visitor.id,
                _uuid4(rng.getrandbits(128)),
                "ready",
                started,  # created_at: the first batch
                ended,
                ended + 15_000,
                ended + 15_500,
                profile.user_agent,
                visitor.ip,
                ip_key(visitor.ip),
                visitor.country,
                sw,
                sh,
                started,
                ended,
                duration,
                active,
                pages,
                clicks,
                rage,
                errors,
                int(duration / 1000 * (2 + 6 * random_())) + 4 * pages,
                urls[0],
                urls[-1],
                profile.device,
                profile.browser,
                profile.os,
                referrer,
                *utm,
                int(duration / 60_000 * 5_000) + 4_000 * pages,
                conversation,
                int(returning),
                # no events to analyse for heatmaps: the background backfill leaves it be
                ANALYSIS_VERSION,
            )
        )

    def visitor_rows(self) -> Iterator[tuple[Any, ...]]:
        for site, pool in zip(self.sites, self.visitors, strict=True):
            for v in pool:
                yield (
                    site.id,
                    v.id,
                    v.name,
                    v.email,
                    v.first_seen,
                    v.last_seen,
                    v.external_id,
                    v.variables,
                )


# --- the whole run --------------------------------------------------------------------------


@dataclass
class SeedReport:
    account_id: str
    login: dict[str, Any]
    sites: list[tuple[SeedSite, int]]
    rows: dict[str, int]
    seconds: float
    returning: int = 0
    identified_visitors: int = 0
    recordings_with_ip: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "login": self.login,
            "sites": [
                {"id": s.id, "name": s.name, "url": s.url, "record_ips": s.record_ips, "added": n}
                for s, n in self.sites
            ],
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(self.rows_per_second),
            "returning_recordings": self.returning,
            "identified_visitors": self.identified_visitors,
            "recordings_with_ip": self.recordings_with_ip,
        }


def seed(
    db: Database,
    *,
    recordings: int,
    sites: int,
    biggest: int | None = None,
    seed_value: int = 1,
    data_dir: Path | None = None,
    plans: Plans = DEFAULT_PLANS,
    clock: Clock | None = None,
    batch_size: int = BATCH_RECORDINGS,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Add `recordings` ready recordings to the "Seeded" account's `sites` sites."""
    if recordings < 0:
        raise ValueError("--recordings must not be negative")
    clock = clock or Clock()
    say = progress or (lambda _msg: None)
    biggest = default_biggest(recordings, sites) if biggest is None else biggest
    counts = site_counts(recordings, sites, biggest)
    began = time.perf_counter()
    account = ensure_account(db, clock, plans, counts, data_dir)
    row = db.one(
        "SELECT COUNT(*) AS n FROM recordings WHERE account_id = :a", {"a": account.account_id}
    )
    already = int(row["n"]) if row else 0
    gen = Generator(
        random.Random(f"{seed_value}:{already}"),
        account.account_id,
        account.sites,
        clock.now_ms(),
        seed_value,
    )
    starts = gen.start_times(counts)
    rows = {"recordings": 0, "recording_pages": 0, "recording_moments": 0, "visitors": 0}
    returning = with_ip = 0
    sink = open_bulk_writer(db)
    try:
        for batch in gen.batches(starts, batch_size):
            sink.write("recordings", REC_COLUMNS, batch.recordings)
            sink.write("recording_pages", PAGE_COLUMNS, batch.pages)
            sink.write("recording_moments", MOMENT_COLUMNS, batch.moments)
            sink.commit()
            rows["recordings"] += len(batch.recordings)
            rows["recording_pages"] += len(batch.pages)
            rows["recording_moments"] += len(batch.moments)
            returning += sum(r[-1] for r in batch.recordings)
            with_ip += sum(1 for r in batch.recordings if r[11] is not None)
            elapsed = time.perf_counter() - began
            done = sum(rows.values())
            say(
                f"  {rows['recordings']:>10,} of {recordings:,} recordings "
                f"({done:,} rows, {done / elapsed:,.0f} rows/s)"
            )
        visitors = list(gen.visitor_rows())
        for i in range(0, len(visitors), batch_size * 2):
            sink.write("visitors", VISITOR_COLUMNS, visitors[i : i + batch_size * 2])
        sink.commit()
        rows["visitors"] = len(visitors)
        say("  statistics and checkpoint …")
        sink.finish()
    except BaseException:
        sink.abort()  # the batches committed so far stay: they are complete recordings
        raise
    return SeedReport(
        account.account_id,
        account.login,
        list(zip(account.sites, counts, strict=True)),
        rows,
        time.perf_counter() - began,
        returning=returning,
        identified_visitors=gen.identified,
        recordings_with_ip=with_ip,
    )
