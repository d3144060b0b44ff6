"""`footage dev seed`: fill a database with realistic ready recordings, for trying and
measuring lists and filters at scale. Also runnable on its own as
`python -m footage.devtools.command seed …`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from footage import bootstrap, commands
from footage.accounts.plans import load_plans
from footage.commands import Command, group, register

# The settings the command reads: where the data is, and the plans (the account is on "pro").
SETTING_FLAGS = ["data_dir", "database_url", "plans", "log_level"]

SEED_DESCRIPTION = """\
Create (or reuse) one account named "Seeded" on the pro plan with --sites sites, and add
--recordings ready recordings to it: the first site (the biggest) gets --biggest of them, the
others share the rest Zipf-style. Every recording has its summary columns, pages, moments
(page entries, rage clicks, errors, custom events) and visitor, with realistic
distributions, over the last 10 days. No chunks or blobs are written — list queries and
filters do not read them, and the player has nothing to play for these recordings.

The login (e-mail, password, API token) is printed and saved to DATA_DIR/seed-login.json.
Running the command again reuses the account and its sites and adds more recordings. For
development and benchmarks only: never run it on a database with real data.
"""


def _positive_or_zero(value: str) -> int:
    try:
        number = int(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must not be negative")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """How many recordings and sites, the biggest site's share, the random seed."""
    parser.add_argument(
        "--recordings",
        type=_positive_or_zero,
        required=True,
        metavar="N",
        help="how many recordings to add, e.g. 1000000",
    )
    parser.add_argument(
        "--sites", type=_positive_or_zero, default=100, metavar="S", help="sites (default 100)"
    )
    parser.add_argument(
        "--biggest",
        type=_positive_or_zero,
        default=None,
        metavar="M",
        help="recordings of the first, biggest site (default 50,000 from N = 1,000,000 on, "
        "else N/20; at least 2·N/S so that it is the biggest)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        metavar="K",
        help="random seed (default 1); the data also depends on the hour of the day (the "
        "daily rhythm is in UTC) and on the recordings the account already has",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")


def run(args: argparse.Namespace) -> int:
    """`footage dev seed`: add the recordings, then print what was added and the login."""
    from footage.devtools.seed import seed  # a large module: loaded only to seed

    settings = bootstrap.load_settings(args)
    data_dir = bootstrap.data_dir(settings)
    quiet = bool(args.json)
    db = bootstrap.open_database(settings)
    try:
        if not quiet:
            print(f"Seeding {args.recordings:,} recordings over {args.sites} sites …", flush=True)
        report = seed(
            db,
            recordings=args.recordings,
            sites=args.sites,
            biggest=args.biggest,
            seed_value=args.seed,
            data_dir=data_dir,
            plans=load_plans(settings.plans),
            progress=None if quiet else lambda line: print(line, flush=True),
        )
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(report.as_dict()))
        return 0
    rows = report.rows
    recordings = rows["recordings"]
    print(
        f"Added {recordings:,} recordings, {rows['recording_pages']:,} pages, "
        f"{rows['recording_moments']:,} moments and {rows['visitors']:,} visitors "
        f"({report.total_rows:,} rows) in {report.seconds:.1f} s: "
        f"{report.rows_per_second:,.0f} rows/s, {recordings / report.seconds:,.0f} recordings/s."
    )
    if recordings:
        print(
            f"  returning visitors: {report.returning / recordings:.0%} of recordings; "
            f"identified: {report.identified_visitors / max(1, rows['visitors']):.0%} of new "
            f"visitors; with an IP: {report.recordings_with_ip / recordings:.0%} of recordings"
        )
    print(f'Account "Seeded" ({report.account_id}), plan pro, {len(report.sites)} sites:')
    shown = report.sites[:5]
    for site, added in shown:
        ips = ", keeps IPs" if site.record_ips else ""
        print(f"  {site.id}  {site.name}  {site.url}  +{added:,} recordings{ips}")
    if len(report.sites) > len(shown):
        rest = sum(n for _, n in report.sites[len(shown) :])
        print(f"  … and {len(report.sites) - len(shown)} more sites with +{rest:,} recordings")
    login = report.login
    print(f"Log in as:  {login['email']}  password: {login['password']}")
    print(f"API token:  {login['api_token']}")
    print(f"Saved to:   {data_dir / 'seed-login.json'}")
    return 0


group("dev", "tools for development and benchmarks")
register(
    Command(
        "dev seed",
        "fill the database with realistic ready recordings (rows only, no blobs)",
        run,
        add_arguments,
        settings=SETTING_FLAGS,
        description=SEED_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m footage.devtools.command seed …`: `footage dev seed …` with only this command."""
    commands.run(["dev", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
