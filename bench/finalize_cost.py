"""What the finalizer spends on one recording: CPU from a visitor's last page left to the
recording ready, for recordings of 10, 60 and 240 minutes, this code beside another version.

The recordings are built as bench/replay_start.py builds them: the real recorder's page views
(bench/capture.py, footage.js in Chromium through the demo shop) one after the other, ids and
times moved, until the recording lasts long enough, each sent through the real write path
(ingest, masks, chunks) with a clock that follows their times, in a process of its own. Its
data dir is kept. Each run copies it and, in a fresh process, times one
`finalizer.run_once()` (the recording merged, its summary, its pieces, its on_ready hooks:
the heatmaps' analysis, the link to a conversation): CPU seconds of the process
(`time.process_time`), and among them the reading of the chunks (`Finalizer._read`: the
events parsed and sorted by time). With `--against CHECKOUT` (another clone of this
repository, at another commit), every run does the same with that code, the two taking turns,
so the ratio is measured side by side on a shared machine.

    .venv/bin/python bench/finalize_cost.py [--minutes 10,60,240] [--runs 5] [--against DIR]

Needs bench/out/batches.jsonl (bench/capture.py).
Results: bench/out/finalize_cost.json; bench/RESULTS.md, "Finalize latency".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ORIGIN = "http://shop.bench.example"


def settings_for(data_dir: str) -> Any:
    from footage.settings import Settings

    return Settings.load(
        env={},
        overrides={
            "data_dir": data_dir,
            "demo": False,
            "background": False,
            "max_recording_bytes": 1_000_000_000,
        },
    )


def prepare(views_file: str, data_dir: str) -> None:
    """Child: the recording through ingest, not finalized; the clock's time past its end is
    kept beside it."""
    from common import view_batches

    from footage.accounts.service import create_account
    from footage.app import build_services
    from footage.clock import FrozenClock
    from footage.ingest.wire import parse_batch
    from footage.ingest.writer import Visit

    views = json.loads(Path(views_file).read_text())
    clock = FrozenClock(views[0][0]["timestamp"] - 1_000)
    svc = build_services(settings_for(data_dir), clock)
    account = create_account(
        svc.db,
        clock,
        name="Finalize",
        plan="pro",
        email="finalize@example.com",
        password="finalize-password-123",
        site_url=ORIGIN,
    )
    visit = Visit(
        ORIGIN,
        "http://127.0.0.1",
        "127.0.0.1",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0 Safari/537.36",
    )
    session, visitor = f"ses-{uuid.uuid4()}", f"vis-{uuid.uuid4()}"
    for view in views:
        for body in view_batches(view, account.site_key, visitor, session, ORIGIN):
            last = body["events"][-1]["timestamp"]
            clock.advance(max(0, last - clock.now_ms()) / 1000)
            if svc.ingest.accept(parse_batch(body), visit).recording_id is None:
                sys.exit("a batch was refused")
    clock.advance(60)  # every page was left: past the grace period
    Path(data_dir, "bench-clock.json").write_text(json.dumps({"now_ms": clock.now_ms()}))
    svc.db.dispose()


def finalize(data_dir: str) -> None:
    """Child: one finalizer pass over the prepared recording, timed; prints JSON."""
    import gc

    from footage.app import build_services
    from footage.clock import FrozenClock

    now_ms = json.loads(Path(data_dir, "bench-clock.json").read_text())["now_ms"]
    svc = build_services(settings_for(data_dir), FrozenClock(now_ms))
    finalizer = svc.finalizer
    read_cpu = [0.0]
    read = finalizer._read

    def timed_read(chunks: Any) -> Any:
        start = time.process_time()
        try:
            return read(chunks)
        finally:
            read_cpu[0] += time.process_time() - start

    finalizer._read = timed_read
    collections = [0]
    gc.callbacks.append(lambda phase, info: collections.__setitem__(0, collections[0] + 1))
    gc.collect()
    collections[0] = 0
    cpu, wall = time.process_time(), time.perf_counter()
    done = finalizer.run_once()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if done != 1:
        sys.exit(f"finalized {done} recordings, not 1")
    events = svc.db.one("SELECT event_count FROM recordings")
    print(
        json.dumps(
            {
                "cpu_s": cpu,
                "wall_s": wall,
                "read_cpu_s": read_cpu[0],
                "gc_runs": collections[0] // 2,  # a start and a stop each
                "events": events["event_count"] if events else None,
            }
        )
    )
    svc.db.dispose()


def child(checkout: Path, *args: str) -> str:
    """This script's child mode, on the `footage` package of `checkout`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTAGE_")}
    env["PYTHONPATH"] = str(checkout)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        cwd=checkout,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout.name}: {' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--prepare":
        return prepare(sys.argv[2], sys.argv[3])
    if len(sys.argv) > 1 and sys.argv[1] == "--finalize":
        return finalize(sys.argv[2])

    sys.path.insert(0, str(HERE))
    from common import OUT, load_captured, machine, median, table, write_json
    from replay_start import build, page_views

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="10,60,240")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", help="another checkout, finalized beside this one")
    args = parser.parse_args()
    minutes = [float(m) for m in args.minutes.split(",")]
    checkouts = {"this": REPO}
    if args.against:
        other = Path(args.against).resolve()
        checkouts[f"against {other.name}"] = other

    views = page_views(load_captured())
    results: dict[str, Any] = {"machine": machine(), "minutes": {}}
    with tempfile.TemporaryDirectory(prefix="footage-finalize-") as tmp_name:
        tmp = Path(tmp_name)
        prepared: dict[tuple[str, float], Path] = {}
        for m in minutes:
            built = build(views, m, 1_767_000_000_000)
            views_file = tmp / f"views-{m:g}.json"
            views_file.write_text(json.dumps(built))
            print(f"{m:g} minutes: {sum(len(v) for v in built):,} events", flush=True)
            for name, checkout in checkouts.items():
                data = tmp / f"prepared-{m:g}-{len(prepared)}"
                t0 = time.monotonic()
                child(checkout, "--prepare", str(views_file), str(data))
                print(f"  {name}: ingested in {time.monotonic() - t0:.0f} s", flush=True)
                prepared[(name, m)] = data
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for r in range(args.runs):
            order = list(checkouts.items())
            if r % 2:
                order.reverse()
            for m in minutes:
                for name, checkout in order:
                    copy = tmp / "run"
                    shutil.rmtree(copy, ignore_errors=True)
                    shutil.copytree(prepared[(name, m)], copy)
                    out = json.loads(child(checkout, "--finalize", str(copy)).splitlines()[-1])
                    runs.setdefault(f"{m:g}", {}).setdefault(name, []).append(out)
            print(f"run {r + 1}/{args.runs} done", flush=True)

    rows = []
    for m, per in runs.items():
        summary: dict[str, Any] = {}
        for name, outs in per.items():
            summary[name] = {
                "events": outs[0]["events"],
                "cpu_ms": median([o["cpu_s"] * 1000 for o in outs]),
                "read_cpu_ms": median([o["read_cpu_s"] * 1000 for o in outs]),
                "wall_ms": median([o["wall_s"] * 1000 for o in outs]),
                "gc_runs": median([o["gc_runs"] for o in outs]),
                "runs": outs,
            }
            s = summary[name]
            rows.append(
                [
                    f"{m} min",
                    name,
                    f"{s['events']:,}",
                    f"{s['cpu_ms']:,.0f}",
                    f"{s['read_cpu_ms']:,.0f}",
                    f"{s['wall_ms']:,.0f}",
                    f"{s['gc_runs']:g}",
                ]
            )
        if len(per) == 2:
            this, other = (summary[n] for n in checkouts)
            rows.append(
                [
                    f"{m} min",
                    "ratio (this ÷ against)",
                    "",
                    f"{this['cpu_ms'] / other['cpu_ms']:.2f}",
                    f"{this['read_cpu_ms'] / other['read_cpu_ms']:.2f}",
                    f"{this['wall_ms'] / other['wall_ms']:.2f}",
                    "",
                ]
            )
        results["minutes"][m] = summary
    print(
        table(
            ["recording", "code", "events", "CPU ms", "reading, CPU ms", "wall ms", "collections"],
            rows,
        )
    )
    write_json(OUT / "finalize_cost.json", results)


if __name__ == "__main__":
    main()
