"""Finding recordings: list queries with filters on a big seeded database, through the API.

Seeds (once) a database with `footage dev seed` — 1,000,000 ready recordings over 100 sites,
the biggest site holding 50,000 — or reuses one seeded before, starts `footage serve
--no-demo --no-background` on it, and times `GET /api/v1/recordings` for the biggest site
with 38 filter combinations: unselective and selective ones, empty results, every sort,
second pages (cursor), text, regex, IP range, visitor and custom-event filters. Each
combination's bare SQL is timed first in this process (with a time limit: a hopeless query is
not sent to the server); then it is requested a few times untimed (warm-up) and `--repeat`
times one after the other. The script prints p50 / p95 / max per combination and over all,
and checks every answer against its filter (a filter the server ignored shows as "wrong").

`--explain N` shows the query plans of the N slowest combinations (EXPLAIN QUERY PLAN on
SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL), built with the server's own
`build_query`. `--add-index SQL` creates an index on the benchmark database before the run
(and drops it afterwards unless `--keep-indexes`), to measure what an index would change;
`--sql-only` skips the server.

    .venv/bin/python bench/filters.py                                   # SQLite
    .venv/bin/python bench/filters.py --database-url postgresql://…     # PostgreSQL
    .venv/bin/python bench/filters.py --only visitor --repeat 50 --explain 3

The seeded database is kept (default `bench/out/filters-data/`, or the PostgreSQL database
given) and reused by the next run as long as it holds at least `--recordings` recordings of
the seeded account. Seeding 1,000,000 recordings takes ~2 minutes. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

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

from footage.store import Database  # noqa: E402
from footage.store.db import sql_text  # noqa: E402

GOAL_MS = 100.0
SLOW_MS = 1_000.0  # a combination slower than this in its warm-up is repeated fewer times
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

Item = dict[str, Any]
Check = Callable[[Item], bool]


@dataclass
class Combo:
    name: str
    params: dict[str, str]
    check: Check | None = None
    page2: bool = False  # time the second page (the first page's next_cursor)
    kind: str = ""  # what it stands for: unselective, selective, empty, text, …


@dataclass
class Timing:
    combo: Combo
    samples_ms: list[float] = field(default_factory=list)
    items: int = 0
    more: bool = False
    status: int = 0
    wrong: int = 0
    error: str = ""
    sql_ms: float | None = None
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


# ---- the seeded database -------------------------------------------------------------------


def ensure_seeded(db: Database, args: argparse.Namespace, data_dir: Path) -> None:
    """Seed unless the database already holds enough recordings of the seeded account."""
    from footage.devtools.seed import seeded_account_id

    account_id = seeded_account_id(db)
    have = 0
    if account_id:
        row = db.one(
            "SELECT COUNT(*) AS n FROM recordings WHERE account_id = :a", {"a": account_id}
        )
        have = int(row["n"]) if row else 0
    if have >= args.recordings:
        print(f"Reusing the seeded database: {have:,} recordings.")
        return
    if have:
        raise BenchError(
            f"the database holds {have:,} seeded recordings, fewer than --recordings "
            f"{args.recordings:,}: give a fresh --data-dir / database, or --recordings {have}"
        )
    # `python -m footage.devtools.command seed …` is `footage dev seed …`; it works whether
    # or not the installed `footage` command knows `dev` yet.
    cmd = [sys.executable, "-m", "footage.devtools.command", "seed"]
    cmd += ["--recordings", str(args.recordings), "--sites", str(args.sites)]
    cmd += ["--seed", str(args.seed), "--data-dir", str(data_dir)]
    if args.biggest:
        cmd += ["--biggest", str(args.biggest)]
    shown = " ".join(cmd[3:])
    if args.database_url:
        cmd += ["--database-url", args.database_url]
        shown += " --database-url …"
    print(f"Seeding: footage dev {shown}", flush=True)
    done = subprocess.run(cmd, cwd=REPO)
    if done.returncode != 0:
        raise BenchError(f"seeding failed (exit code {done.returncode})")


@dataclass
class Samples:
    """Real values of the biggest site, for the filters that need one."""

    account_id: str
    site_id: str
    site_recordings: int
    account_recordings: int
    ref_ms: int  # the newest recording's start: "now" for the time filters
    visitor_id: str
    visitor_name: str
    visitor_email: str
    external_id: str
    ip_range: str
    product_url: str
    sku: str


def samples(db: Database) -> Samples:
    from footage.devtools.seed import seeded_account_id

    account_id = seeded_account_id(db)
    if account_id is None:
        raise BenchError("no seeded account in the database")
    rows = db.all(
        "SELECT site_id, COUNT(*) AS n FROM recordings WHERE account_id = :a "
        "AND status = 'ready' GROUP BY site_id ORDER BY n DESC",
        {"a": account_id},
    )
    site, n = rows[0]["site_id"], int(rows[0]["n"])
    one = db.one
    ref = one("SELECT MAX(started_at) AS t FROM recordings WHERE site_id = :s", {"s": site})
    regular = one(
        "SELECT visitor_id, COUNT(*) AS n FROM recordings WHERE site_id = :s "
        "GROUP BY visitor_id HAVING COUNT(*) BETWEEN 3 AND 10 ORDER BY visitor_id LIMIT 1",
        {"s": site},
    )
    who = one(
        "SELECT name, email, external_id FROM visitors WHERE site_id = :s "
        "AND email IS NOT NULL ORDER BY id LIMIT 1",
        {"s": site},
    )
    ip = one(
        "SELECT ip FROM recordings WHERE site_id = :s AND ip LIKE '%.%.%.%' ORDER BY id LIMIT 1",
        {"s": site},
    )
    product = one(
        "SELECT url FROM recording_pages WHERE site_id = :s AND url LIKE '%/product/%' "
        "AND url NOT LIKE '%?%' ORDER BY page_id LIMIT 1",
        {"s": site},
    )
    sku = one(
        "SELECT m.detail FROM recording_moments m JOIN recordings r ON r.id = m.recording_id "
        "WHERE r.site_id = :s AND m.kind = 'event' AND m.name = 'added_to_cart' "
        "ORDER BY r.id, m.at LIMIT 1",
        {"s": site},
    )
    total = one("SELECT COUNT(*) AS n FROM recordings WHERE account_id = :a", {"a": account_id})
    if not (ref and regular and who and ip and product and sku and total):
        raise BenchError("the biggest site lacks sample values; seed it again")
    a, b = ip["ip"].split(".")[:2]
    return Samples(
        account_id=account_id,
        site_id=site,
        site_recordings=n,
        account_recordings=int(total["n"]),
        ref_ms=int(ref["t"]),
        visitor_id=regular["visitor_id"],
        visitor_name=who["name"].split()[-1],  # a last name: several visitors share it
        visitor_email=who["email"],
        external_id=who["external_id"],
        ip_range=f"{a}.{b}.0.0/16",
        product_url=product["url"],
        sku=json.loads(sku["detail"])["sku"],
    )


# ---- the combinations ------------------------------------------------------------------------


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ms_of(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def _pages(item: Item) -> list[str]:
    return [p["url"] for p in item.get("pages") or []]


def combos(s: Samples) -> list[Combo]:
    ref = s.ref_ms
    day_from, day_to = ref - 4 * DAY_MS, ref - 3 * DAY_MS

    def c(
        name: str,
        kind: str,
        check: Check | None = None,
        page2: bool = False,
        extra: dict[str, str] | None = None,
        **p: str,
    ) -> Combo:
        return Combo(name, {"site_id": s.site_id, **(extra or {}), **p}, check, page2, kind)

    ip_prefix = s.ip_range.rsplit(".", 2)[0] + "."
    return [
        c("all, newest", "unselective"),
        c("all, newest, page 2", "unselective", page2=True),
        c("all, oldest", "sort", sort="oldest"),
        c("all, longest", "sort", sort="longest"),
        c("all, most active", "sort", sort="most_active"),
        c(
            "last 24 h",
            "time",
            lambda i: ms_of(i["started_at"]) >= ref - DAY_MS,
            extra={"from": iso(ref - DAY_MS)},
        ),
        c(
            "one day, 3 days ago, longest",
            "time",
            lambda i: day_from <= ms_of(i["started_at"]) < day_to,
            sort="longest",
            extra={"from": iso(day_from), "to": iso(day_to)},
        ),
        c(
            "≥ 10 min, longest",
            "range",
            lambda i: i["duration_ms"] >= 600_000,
            min_duration_ms="600000",
            sort="longest",
        ),
        c(
            "bounces: ≤ 10 s, 1 page",
            "range",
            lambda i: i["duration_ms"] <= 10_000 and i["page_count"] <= 1,
            max_duration_ms="10000",
            max_pages="1",
        ),
        c(
            "active ≥ 5 min, most active",
            "range",
            lambda i: i["active_ms"] >= 300_000,
            min_active_ms="300000",
            sort="most_active",
        ),
        c(
            "mobile Safari",
            "equality",
            lambda i: i["device"] == "mobile" and i["browser"] == "Safari",
            device="mobile",
            browser="Safari",
        ),
        c(
            "Android, small screen",
            "equality",
            lambda i: i["os"] == "Android" and i["screen"]["width"] < 768,
            os="Android",
            screen="small",
        ),
        c("country DE", "equality", lambda i: i["country"] == "DE", country="DE"),
        c(
            "country NZ, last 3 days",
            "selective",
            lambda i: i["country"] == "NZ",
            country="NZ",
            extra={"from": iso(ref - 3 * DAY_MS)},
        ),
        c(
            "referrer google",
            "text",
            lambda i: "google" in (i["referrer"] or ""),
            referrer="google",
        ),
        c(
            "utm newsletter / black_friday_2026",
            "equality",
            lambda i: (
                i["utm"].get("source") == "newsletter"
                and i["utm"].get("campaign") == "black_friday_2026"
            ),
            utm_source="newsletter",
            utm_campaign="black_friday_2026",
        ),
        c(
            "rage clicks",
            "flag",
            lambda i: i["rage_click_count"] > 0,
            has_rage_clicks="true",
        ),
        c(
            "errors on desktop",
            "flag",
            lambda i: i["error_count"] > 0 and i["device"] == "desktop",
            has_errors="true",
            device="desktop",
        ),
        c(
            "with a conversation",
            "flag",
            lambda i: bool(i["conversation_id"]),
            has_conversation="true",
        ),
        c(
            "returning, ≥ 5 pages",
            "range",
            lambda i: i["page_count"] >= 5,
            visitor_type="returning",
            min_pages="5",
        ),
        c("new visitors, page 2", "unselective", page2=True, visitor_type="new"),
        c(
            "visited /checkout/confirmation",
            "page",
            lambda i: any("/checkout/confirmation" in u for u in _pages(i)),
            url="/checkout/confirmation",
        ),
        c(
            "visited one product page (equals)",
            "page",
            lambda i: s.product_url in _pages(i),
            url=s.product_url,
            url_match="equals",
        ),
        c(
            "visited regex /product/(blue|red)-…",
            "page",
            lambda i: any("/product/blue-" in u or "/product/red-" in u for u in _pages(i)),
            url=r"/product/(blue|red)-[a-z]+-[0-9]+$",
            url_match="regex",
        ),
        c(
            "entry /product/, exit /cart",
            "text",
            lambda i: "/product/" in _pages(i)[0] and "/cart" in _pages(i)[-1],
            entry_url="/product/",
            exit_url="/cart",
        ),
        c("≥ 60 clicks", "range", lambda i: i["click_count"] >= 60, min_clicks="60"),
        c(
            "visitor e-mail contains",
            "visitor",
            lambda i: s.visitor_email in (i["visitor"]["email"] or ""),
            visitor_email=s.visitor_email,
        ),
        c(
            "visitor name contains",
            "visitor",
            lambda i: s.visitor_name.lower() in (i["visitor"]["name"] or "").lower(),
            visitor_name=s.visitor_name,
        ),
        c(
            "visitor id",
            "visitor",
            lambda i: i["visitor"]["id"] == s.visitor_id,
            visitor_id=s.visitor_id,
        ),
        c("visitor external id", "visitor", None, visitor_id=s.external_id),
        c(
            "visitor IP in a /16",
            "visitor",
            lambda i: (i["visitor"]["ip"] or "").startswith(ip_prefix),
            visitor_ip=s.ip_range,
        ),
        c("event added_to_cart", "event", None, event="added_to_cart"),
        c(
            "event signup, plan = pro",
            "event",
            None,
            event="signup",
            event_property="plan",
            event_value="pro",
        ),
        c(
            "event added_to_cart, one sku",
            "event",
            None,
            event="added_to_cart",
            event_property="sku",
            event_value=s.sku,
        ),
        c(
            "mobile, longest, page 2",
            "sort",
            lambda i: i["device"] == "mobile",
            page2=True,
            device="mobile",
            sort="longest",
        ),
        c("empty: country AQ", "empty", lambda i: False, country="AQ"),
        c("empty: visited /nowhere", "empty", lambda i: False, url="/nowhere"),
        c(
            "empty: tablet + rage + errors + chat, ≥ 1 h",
            "empty",
            None,
            device="tablet",
            has_rage_clicks="true",
            has_errors="true",
            has_conversation="true",
            min_duration_ms="3600000",
        ),
    ]


# ---- timing ----------------------------------------------------------------------------------


def run_combo(
    client: httpx.Client, combo: Combo, repeat: int, warmup: int, limit: int
) -> tuple[Timing, str | None]:
    """Times one combination; returns its timing and the cursor its timed requests used."""
    out = Timing(combo)
    params = {**combo.params, "limit": str(limit)}
    cursor = None
    if combo.page2:
        first = client.get("/api/v1/recordings", params=params)
        if first.status_code != 200:
            out.status, out.error = first.status_code, first.text[:300]
            return out, None
        cursor = first.json().get("next_cursor")
        if not cursor:
            out.error = "no second page"
            return out, None
        params["cursor"] = cursor
    body: dict[str, Any] = {}
    slow = False
    for _ in range(warmup):
        t0 = time.perf_counter()
        resp = client.get("/api/v1/recordings", params=params)
        slow = slow or (time.perf_counter() - t0) * 1000 > SLOW_MS
        if resp.status_code != 200:
            out.status, out.error = resp.status_code, resp.text[:300]
            return out, cursor
    for _ in range(max(5, repeat // 6) if slow else repeat):
        t0 = time.perf_counter()
        resp = client.get("/api/v1/recordings", params=params)
        out.samples_ms.append((time.perf_counter() - t0) * 1000)
        out.status = resp.status_code
        if resp.status_code != 200:
            out.error = resp.text[:300]
            return out, cursor
        body = resp.json()
    items = body.get("items", [])
    out.items, out.more = len(items), bool(body.get("next_cursor"))
    if combo.check is not None:
        out.wrong = sum(1 for item in items if not combo.check(item))
    return out, cursor


def build_sql(
    db: Database, s: Samples, combo: Combo, cursor: str | None, limit: int
) -> tuple[str, dict[str, Any]]:
    """The SQL the server runs for a combination, built with the server's own code."""
    from footage.recordings import filters

    build = getattr(filters, "build_query", None)
    if build is None:
        from footage.recordings import search

        build = search.build_query
    values = filters.parse({k: v for k, v in combo.params.items() if k != "sort"})
    sort = combo.params.get("sort", "newest")
    return build(db, s.account_id, values, sort=sort, limit=limit, cursor=cursor)  # type: ignore[no-any-return]


def timed_sql(db: Database, sql: str, params: dict[str, Any], max_s: float) -> float | None:
    """Runs the SQL once in this process; its time in ms, or None if it took longer than
    `max_s` (then it is interrupted, so a hopeless query does not hold up the server)."""
    with db.read() as conn:
        raw: Any = conn.connection.driver_connection
        if db.is_sqlite:
            deadline = time.perf_counter() + max_s
            raw.set_progress_handler(lambda: int(time.perf_counter() > deadline), 10_000)
        else:
            conn.exec_driver_sql(f"SET statement_timeout = {int(max_s * 1000)}")
        t0 = time.perf_counter()
        try:
            conn.execute(sql_text(sql), params).fetchall()
        except Exception as exc:  # interrupted (SQLite) or canceled (PostgreSQL)
            timed_out = time.perf_counter() - t0 >= max_s * 0.99
            if timed_out and ("interrupt" in str(exc).lower() or "timeout" in str(exc).lower()):
                return None
            raise
        finally:
            if db.is_sqlite:
                raw.set_progress_handler(None, 0)
            else:
                conn.rollback()
                conn.exec_driver_sql("SET statement_timeout = 0")
        return (time.perf_counter() - t0) * 1000


def explain(db: Database, sql: str, params: dict[str, Any], analyze: bool = True) -> str:
    """EXPLAIN QUERY PLAN (SQLite, as a tree) or EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL)."""
    if db.is_sqlite:
        rows = db.all("EXPLAIN QUERY PLAN " + sql, params)
        depth: dict[int, int] = {0: -1}
        lines = []
        for r in rows:
            d = depth.get(int(r["parent"]), -1) + 1
            depth[int(r["id"])] = d
            lines.append("  " * d + str(r["detail"]))
        return "\n".join(lines)
    how = "(ANALYZE, BUFFERS) " if analyze else ""
    rows = db.all(f"EXPLAIN {how}{sql}", params)
    return "\n".join(str(next(iter(r.values()))) for r in rows)


def fmt(ms: float) -> str:
    if ms != ms:  # NaN
        return "–"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=OUT / "filters-data")
    ap.add_argument("--database-url", default="", help="PostgreSQL (default: SQLite in data dir)")
    ap.add_argument("--recordings", type=int, default=1_000_000)
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--biggest", type=int, default=0, help="default: the seeder's (50,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=30, help="timed requests per combination")
    ap.add_argument("--warmup", type=int, default=3, help="untimed requests first")
    ap.add_argument("--limit", type=int, default=50, help="items per page (the API default)")
    ap.add_argument("--only", default="", help="combinations whose name contains this")
    ap.add_argument("--explain", type=int, default=5, metavar="N", help="plans of the N slowest")
    ap.add_argument("--explain-all", action="store_true", help="plans of every combination")
    ap.add_argument(
        "--add-index",
        action="append",
        default=[],
        metavar="SQL",
        help="CREATE INDEX … to create before the run (repeatable)",
    )
    ap.add_argument("--keep-indexes", action="store_true", help="keep --add-index indexes")
    ap.add_argument(
        "--analyze",
        action="store_true",
        help="SQLite: run ANALYZE first (statistics for the planner; removed afterwards "
        "unless --keep-indexes). Footage itself never runs it.",
    )
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=30.0,
        help="a combination whose bare SQL takes longer is not sent to the server (30)",
    )
    ap.add_argument(
        "--sql-only",
        action="store_true",
        help="only the bare SQL in this process, no server (quick, for trying indexes)",
    )
    ap.add_argument("--no-wait", action="store_true", help="do not wait for an idle machine")
    ap.add_argument("--json", type=Path, default=None, help="default: bench/out/filters-DB.json")
    return ap.parse_args()


@dataclass
class Run:
    """One run of the script: what was measured and what the machine did meanwhile."""

    backend: str
    samples: Samples
    results: list[Timing] = field(default_factory=list)
    hopeless: set[str] = field(default_factory=set)
    cursors: dict[str, str | None] = field(default_factory=dict)
    pg_settings: dict[str, str] = field(default_factory=dict)
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # cores, by who used them


def bare_sql(db: Database, run: Run, selected: list[Combo], args: argparse.Namespace) -> None:
    """The bare SQL of each combination, in this process, with a time limit: a query that
    cannot finish in time is not sent to the server (it would keep a core busy after the
    client gave up and skew every later figure)."""
    print(f"Bare SQL of {len(selected)} combinations (at most {args.max_seconds:.0f} s each) …")
    for combo in selected:
        timing = Timing(combo)
        run.results.append(timing)
        sql, params = build_sql(db, run.samples, combo, None, args.limit)
        first = timed_sql(db, sql, params, args.max_seconds)
        if first is None:
            run.hopeless.add(combo.name)
            timing.error = f"SQL > {args.max_seconds:.0f} s, not sent"
            print(f"  {combo.name}: interrupted after {args.max_seconds:.0f} s")
        elif first < 2_000:
            again = [timed_sql(db, sql, params, args.max_seconds) or first for _ in range(3)]
            timing.sql_ms = statistics.median(again)
        else:
            timing.sql_ms = first
        if args.sql_only:
            print(f"  {combo.name:<44} SQL {fmt(timing.sql_ms or float('nan')):>6} ms")


def over_http(
    run: Run, data_dir: Path, token: str, pg_pid: int | None, args: argparse.Namespace
) -> None:
    """Times every combination through `footage serve`, one request at a time."""
    port = free_port()
    cmd = footage_cmd("serve", "--no-demo", "--no-background", "--port", str(port))
    cmd += ["--data-dir", str(data_dir)]
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    server = start_server("footage serve", cmd, port, OUT / f"filters-serve-{run.backend}.log")
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=300) as client:
            check = client.get("/api/v1/recordings", params={"limit": "1"})
            if check.status_code != 200:
                raise BenchError(f"the API refused the seeded login: {check.text[:200]}")
            if not args.no_wait:
                wait_for_quiet()
            server0, pg0 = tree_cpu_seconds(server.proc.pid), _cpu(pg_pid)
            all0, me0, t0 = machine_cpu_seconds(), time.process_time(), time.time()
            for i, timing in enumerate(run.results, 1):
                combo = timing.combo
                if combo.name not in run.hopeless:
                    measured, run.cursors[combo.name] = run_combo(
                        client, combo, args.repeat, args.warmup, args.limit
                    )
                    measured.sql_ms = timing.sql_ms
                    run.results[i - 1] = timing = measured
                flag = " WRONG" if timing.wrong else (f" {timing.error}" if timing.error else "")
                print(
                    f"  {i:>2}/{len(run.results)} {combo.name:<44} p50 {fmt(timing.p50):>6} ms  "
                    f"p95 {fmt(timing.p95):>6} ms  items {timing.items}{flag}",
                    flush=True,
                )
            run.wall = time.time() - t0
            cpu = {
                "server": tree_cpu_seconds(server.proc.pid) - server0,
                "postgresql": _cpu(pg_pid) - pg0,
                "script": time.process_time() - me0,
            }
            cpu["other"] = max(0.0, machine_cpu_seconds() - all0 - sum(cpu.values()))
            run.cpu = {k: v / run.wall for k, v in cpu.items()}
    finally:
        server.stop()


def _cpu(pid: int | None) -> float:
    return tree_cpu_seconds(pid) if pid else 0.0


def plans(db: Database, run: Run, args: argparse.Namespace) -> list[Timing]:
    """Explains the slowest combinations (or all); returns them, slowest first."""

    def slowness(t: Timing) -> float:
        if t.combo.name in run.hopeless:
            return float("inf")
        return t.p95 if t.samples_ms else (t.sql_ms or 0.0)

    ranked = sorted(run.results, key=lambda t: -slowness(t))
    chosen = ranked if args.explain_all else ranked[: args.explain]
    for timing in chosen:
        try:
            cursor = run.cursors.get(timing.combo.name)
            sql, params = build_sql(db, run.samples, timing.combo, cursor, args.limit)
            plan = explain(db, sql, params, analyze=timing.combo.name not in run.hopeless)
            timing.plan = f"{sql}\n\n{plan}"
        except Exception as exc:  # the plan is a bonus; the timings stand without it
            timing.plan = f"(no plan: {exc})"
    return chosen


def main() -> int:
    args = parse_args()
    backend = "postgresql" if args.database_url else "sqlite"
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(args.database_url or f"sqlite:///{data_dir / 'footage.db'}")
    db.migrate()
    ensure_seeded(db, args, data_dir)

    from footage.devtools.seed import login_for

    login = login_for(db, data_dir)
    run = Run(backend, samples(db))
    run.pg_settings, pg_pid = postgres_facts(db)
    added = add_indexes(db, args.add_index)
    if args.analyze and db.is_sqlite:
        t0 = time.perf_counter()
        db.run("ANALYZE")
        print(f"ANALYZE in {time.perf_counter() - t0:.1f} s")
    s = run.samples
    print(
        f"{backend}: {s.account_recordings:,} recordings in the account; the biggest site "
        f"{s.site_id} holds {s.site_recordings:,}."
    )
    if run.pg_settings:
        print("PostgreSQL:", ", ".join(f"{k} {v}" for k, v in run.pg_settings.items()))
    selected = [c for c in combos(s) if args.only.lower() in c.name.lower()]
    try:
        bare_sql(db, run, selected, args)
        if not args.sql_only:
            over_http(run, data_dir, login["api_token"], pg_pid, args)
        explained = plans(db, run, args)
    finally:
        drop_indexes(db, added, keep=args.keep_indexes)
        if args.analyze and db.is_sqlite and not args.keep_indexes:
            db.run("DELETE FROM sqlite_stat1")  # back to no statistics, as Footage leaves it
        db.dispose()
    report(run, explained, args)
    return 0


PG_SETTINGS = (
    "server_version",
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "random_page_cost",
    "jit",
    "max_parallel_workers_per_gather",
    "fsync",
)


def postgres_facts(db: Database) -> tuple[dict[str, str], int | None]:
    """The PostgreSQL settings that matter for these queries, and its postmaster's pid (for
    its CPU time: the queries run in its processes, not in Footage's)."""
    if db.is_sqlite:
        return {}, None
    names = {f"n{i}": n for i, n in enumerate(PG_SETTINGS)}
    rows = db.all(
        "SELECT name, current_setting(name) AS value FROM pg_settings "
        f"WHERE name IN ({', '.join(':' + k for k in names)})",
        names,
    )
    facts = {r["name"]: r["value"] for r in rows}
    try:
        current = db.one("SELECT current_setting('data_directory') AS d")
        assert current is not None
        data_dir = Path(current["d"])
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except Exception:  # not superuser, another machine, no permission: CPU stays unknown
        pid = None
    return facts, pid


def add_indexes(db: Database, statements: list[str]) -> list[str]:
    """Runs each statement; returns the names of the indexes created, to drop them later.
    (Other statements, such as CREATE EXTENSION, are run and not undone.)"""
    names = []
    for sql in statements:
        t0 = time.perf_counter()
        db.run(sql)
        words = sql.replace("(", " ").split()
        upper = [w.upper() for w in words]
        if "INDEX" in upper and "ON" in upper:
            at = upper.index("INDEX") + 1
            if upper[at : at + 3] == ["IF", "NOT", "EXISTS"]:
                at += 3
            names.append(words[at])
            if not db.is_sqlite:  # statistics, also for expression indexes
                db.run("ANALYZE " + words[upper.index("ON") + 1])
        print(f"{time.perf_counter() - t0:5.1f} s  {sql}")
    return names


def drop_indexes(db: Database, names: list[str], keep: bool) -> None:
    for name in names:
        if keep:
            print(f"kept index {name}")
        else:
            db.run(f"DROP INDEX IF EXISTS {name}")


def report(run: Run, explained: list[Timing], args: argparse.Namespace) -> None:
    rows = []
    for n, t in enumerate(run.results, 1):
        ok = "✓" if t.samples_ms and t.p95 <= GOAL_MS and not t.error else "✗"
        note = "WRONG ANSWER" if t.wrong else t.error[:60]
        if not note and t.samples_ms and len(t.samples_ms) < args.repeat:
            note = f"{len(t.samples_ms)} runs (slow)"
        rows.append(
            [
                n,
                t.combo.name,
                t.combo.kind,
                f"{t.items}{'+' if t.more else ''}" if t.samples_ms else "–",
                fmt(t.p50),
                fmt(t.p95),
                fmt(t.max),
                fmt(t.sql_ms) if t.sql_ms is not None else "–",
                ok if not args.sql_only else "",
                note,
            ]
        )
    headers = ["#", "combination", "kind", "items", "p50 ms", "p95 ms", "max ms", "SQL ms"]
    print()
    print(table([*headers, "≤ 100", "note"], rows))
    every = [ms for t in run.results for ms in t.samples_ms]
    if every:
        met = sum(1 for t in run.results if t.samples_ms and t.p95 <= GOAL_MS and not t.error)
        print(
            f"\nAll requests: {len(every)}, p50 {fmt(percentile(every, 50))} ms, "
            f"p95 {fmt(percentile(every, 95))} ms, max {fmt(max(every))} ms. "
            f"{met} of {len(run.results)} combinations have p95 ≤ {GOAL_MS:.0f} ms."
        )
        used = ", ".join(f"{who} {share:.0%}" for who, share in run.cpu.items() if share)
        print(f"CPU during the {run.wall:.0f} s of timed requests, in cores: {used}.")
    for t in explained:
        sql_ms = f"{fmt(t.sql_ms)} ms in-process" if t.sql_ms is not None else "interrupted"
        print(f"\n--- plan: {t.combo.name} (p95 {fmt(t.p95)} ms; bare SQL {sql_ms}) ---")
        print(t.plan)
    out = args.json or OUT / f"filters-{run.backend}.json"
    s = run.samples
    write_json(
        out,
        {
            "machine": machine(),
            "backend": run.backend,
            "postgresql": run.pg_settings,
            "recordings": s.account_recordings,
            "site_recordings": s.site_recordings,
            "repeat": args.repeat,
            "limit": args.limit,
            "added_indexes": args.add_index,
            "analyze": args.analyze,
            "wall_s": run.wall,
            "cpu_cores": run.cpu,
            "combinations": [
                {
                    "name": t.combo.name,
                    "kind": t.combo.kind,
                    "params": {k: v for k, v in t.combo.params.items() if k != "site_id"},
                    "page2": t.combo.page2,
                    "items": t.items,
                    "more": t.more,
                    "wrong": t.wrong,
                    "error": t.error,
                    "runs": len(t.samples_ms),
                    "p50_ms": t.p50,
                    "p95_ms": t.p95,
                    "max_ms": t.max,
                    "sql_ms": t.sql_ms,
                    "plan": t.plan,
                }
                for t in run.results
            ],
        },
    )
    print(f"\nResults: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"filters.py: {exc}", file=sys.stderr)
        sys.exit(1)
