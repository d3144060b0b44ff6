"""The attacks of docs/security.md §5 against a real `footage serve`, side by side with the
same server idle, in one run.

    .venv/bin/python bench/attacks.py [--database-url postgresql://…] [--seconds 8]

For each attack: what the attacker got (statuses), and how another tenant fared meanwhile —
a process of its own sending `/healthz` and batches for another site from another address
(tests/attacks/probe.py): its median and worst answer, and the worst as a multiple of the
worst with no attack in the same run (on a shared machine only such ratios hold). The server's
resident memory is read from /proc after each attack. Prints a Markdown table for
bench/RESULTS.md §10.

The attacks themselves are the ones the tests in tests/attacks/ perform (imported from
there), run longer here and measured rather than asserted.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from footage.store import Database  # noqa: E402
from tests.attacks.server import Probe, ServedFootage, body, gz, ids, serve, small_events  # noqa: E402
from tests.attacks.test_ingest_front import answers, heavy_batch, stall, status  # noqa: E402
from tests.attacks.test_read_side import seed  # noqa: E402

ALICE = {"Origin": "https://alice.example", "Content-Type": "text/plain"}
BODY_TIMEOUT = 5.0  # the default


def idle(served: ServedFootage, seconds: float) -> str:
    time.sleep(seconds)
    return "no attack"


def slow_bodies(served: ServedFootage, seconds: float) -> str:
    started = time.monotonic()
    sockets = stall(served, 1000)
    try:
        got = answers(sockets, started + BODY_TIMEOUT + max(seconds, 5))
    finally:
        for s in sockets:
            s.close()
    counts = Counter(status(a) for a in got.values())
    return "1,000 stalled bodies from one address: " + ", ".join(
        f"{n} × {code or 'no answer'}" for code, n in sorted(counts.items())
    )


def heavy_batches(served: ServedFootage, seconds: float) -> str:
    data = heavy_batch(served.alice.site_key)
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def attack(n: int) -> None:
        with served.client(f"127.0.1.{n + 1}", timeout=120) as http:
            while not stop.is_set():
                statuses[http.post("/api/v1/ingest", content=data, headers=ALICE).status_code] += 1

    threads = [threading.Thread(target=attack, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    return f"8 clients, {len(data) // 1000} KB gzip → 19 MB each: " + ", ".join(
        f"{n} × {code}" for code, n in sorted(statuses.items())
    )


def backtracking_pattern(served: ServedFootage, seconds: float) -> str:
    took: list[float] = []
    codes: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {served.alice.api_token}"}
    until = time.monotonic() + seconds
    with served.client("127.0.0.8") as http:
        while time.monotonic() < until:
            started = time.monotonic()
            r = http.get(
                "/api/v1/recordings",
                params={"url": "(a+)+$", "url_match": "regex"},
                headers=headers,
            )
            took.append(time.monotonic() - started)
            codes[r.status_code] += 1
    return (
        f"`url_match=regex&url=(a+)+$` over 300 addresses of 2,000 characters, {len(took)} "
        f"requests ({dict(codes)}), slowest {max(took) * 1000:.0f} ms"
    )


def quota_burn(served: ServedFootage, seconds: float) -> str:
    now = int(time.time() * 1000)

    def start(http: httpx.Client, i: int) -> int:
        batch = body(served.alice.site_key, ids(), 0, small_events(now + i))
        batch["page"]["url"] = "https://alice.example/"
        return http.post("/api/v1/ingest", content=gz(batch), headers=ALICE).status_code

    started = time.monotonic()
    with (
        served.client("127.0.0.9") as http,
        concurrent.futures.ThreadPoolExecutor(4) as pool,
    ):
        counts = Counter(pool.map(lambda i: start(http, i), range(439)))
    took = time.monotonic() - started
    return f"439 new recordings from one address in {took:.1f} s: " + ", ".join(
        f"{n} × {code}" for code, n in sorted(counts.items())
    )


def chat_flood(served: ServedFootage, seconds: float) -> str:
    def first(http: httpx.Client) -> int:
        visitor = f"vis-{uuid.uuid4().hex}"
        message = {"site_key": served.alice.site_key, "visitor_id": visitor, "text": "Hi"}
        return http.post(
            "/api/v1/chat/messages", content=json.dumps({**message, "id": visitor}), headers=ALICE
        ).status_code

    with (
        served.client("127.0.0.66") as http,
        concurrent.futures.ThreadPoolExecutor(2) as pool,
    ):
        counts = Counter(pool.map(lambda _: first(http), range(500)))
    return "500 new conversations from one address (new visitor ids): " + ", ".join(
        f"{n} × {code}" for code, n in sorted(counts.items())
    )


def decades(served: ServedFootage, seconds: float) -> str:
    now = int(time.time() * 1000)
    who = ids()
    first = body(served.alice.site_key, who, 0, small_events(now), url="https://alice.example/")
    old = small_events(now)
    old[1]["timestamp"] = 978_307_200_000  # 2001
    later = body(served.alice.site_key, who, 1, old, url="https://alice.example/")
    with served.client("127.0.0.5") as http:
        a = http.post("/api/v1/ingest", content=gz(first), headers=ALICE).status_code
        r = http.post("/api/v1/ingest", content=gz(later), headers=ALICE)
    return f"a batch reaching back to 2001 after one of now: {a}, then {r.status_code} " + (
        r.json()["error"]["code"] if r.status_code != 200 else ""
    )


def embedded_download(served: ServedFootage, seconds: float) -> str:
    """What a replayed `<img src=…/download?format=mp4>` sends: the login cookie, as an image."""
    db = Database(served.database_url or f"sqlite:///{served.data_dir / 'footage.db'}")
    try:
        rec = db.one(
            "SELECT id FROM recordings WHERE site_id = :s LIMIT 1", {"s": served.alice.site_id}
        )
    finally:
        db.dispose()
    rid = rec["id"] if rec else "rec_unknown"
    from tests.conftest import login

    with served.client() as http:
        login(http, "alice@example.com")
        codes = Counter(
            http.get(
                f"/api/v1/recordings/{rid}/download",
                params={"format": "mp4"},
                headers={"Sec-Fetch-Dest": "image", "Sec-Fetch-Mode": "no-cors"},
            ).status_code
            for _ in range(20)
        )
    return (
        "20 loads of a recording's MP4 download as an image, with the login cookie: "
        + ", ".join(f"{n} × {code}" for code, n in sorted(codes.items()))
    )


ATTACKS: list[tuple[str, Callable[[ServedFootage, float], str]]] = [
    ("idle (reference)", idle),
    ("slow bodies (5)", slow_bodies),
    ("heavy batches (6)", heavy_batches),
    ("backtracking pattern (4)", backtracking_pattern),
    ("quota burn (7)", quota_burn),
    ("chat flood (8)", chat_flood),
    ("decades (1)", decades),
    ("MP4 as an image (2)", embedded_download),
]


def run(database_url: str, seconds: float) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        served = serve(Path(tmp), database_url, chat_site_new_conversations=50)
        try:
            seed(Path(tmp), served)
            db = Database(database_url or f"sqlite:///{served.data_dir / 'footage.db'}")
            db.run("UPDATE sites SET chat_enabled = 1 WHERE id = :s", {"s": served.alice.site_id})
            db.dispose()
            for name, attack in ATTACKS:
                with Probe(served) as probe:
                    outcome = attack(served, seconds)
                times = [t for ts in probe.timings.values() for t in ts]
                rows.append(
                    {
                        "attack": name,
                        "outcome": outcome,
                        "probe": len(times),
                        "failures": len(probe.failures),
                        "p50_ms": statistics.median(times) * 1000,
                        "worst_ms": max(times) * 1000,
                        "rss_mb": served.rss_mb(),
                        "alive": served.alive(),
                    }
                )
                print(rows[-1], file=sys.stderr)
        finally:
            served.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of timed attacks")
    args = parser.parse_args()
    rows = run(args.database_url, args.seconds)
    idle_worst = rows[0]["worst_ms"]
    print(
        "| attack (finding) | what the attacker got | other tenant: requests | median | worst "
        "| worst ÷ idle worst | server RSS after |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['attack']} | {r['outcome']} | {r['probe']} ({r['failures']} failed) | "
            f"{r['p50_ms']:.0f} ms | {r['worst_ms']:.0f} ms | {r['worst_ms'] / idle_worst:.1f} | "
            f"{r['rss_mb']:.0f} MB{'' if r['alive'] else ' (server died)'} |"
        )


if __name__ == "__main__":
    main()
