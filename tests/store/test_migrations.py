"""Migrations on a database that already holds data, as an upgrade meets it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from footage.store import db as db_module
from footage.store.db import Database
from footage.store.ipkey import ip_key, ip_range
from footage.store.migrations import MIGRATIONS
from tests.conftest import _pg_execute, _with_db, postgres_admin_url


@pytest.fixture
def blank_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (the shared test template is already migrated)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    admin = postgres_admin_url()
    name = f"footage_blank_{uuid.uuid4().hex[:12]}"
    _pg_execute(admin, f"CREATE DATABASE {name}")
    yield _with_db(admin, name)
    _pg_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _migrate_to(db: Database, version: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(db_module, "MIGRATIONS", [mig for mig in MIGRATIONS if mig[0] <= version])
        db.migrate()


def test_migration_9_fills_ip_keys_and_moment_sites(
    blank_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(blank_url)
    _migrate_to(db, 8, monkeypatch)
    db.run("INSERT INTO accounts (id, name, plan, created_at) VALUES ('a', 'A', 'pro', 0)")
    db.run(
        "INSERT INTO sites (id, account_id, name, url, site_key, allowed_origins, "
        "recording_enabled, is_demo, created_at) "
        "VALUES ('s', 'a', 'S', 'https://s.example', 'k', '', 1, 0, 0)"
    )
    for rid, ip in [("r1", "203.0.113.9"), ("r2", "2001:db8::7"), ("r3", None)]:
        db.run(
            "INSERT INTO recordings (id, account_id, site_id, visitor_id, session_id, status, "
            "created_at, last_seen_at, ip) VALUES (:id, 'a', 's', 'v', :id, 'ready', 0, 0, :ip)",
            {"id": rid, "ip": ip},
        )
        db.run(
            "INSERT INTO recording_moments (recording_id, kind, at, name) "
            "VALUES (:id, 'event', 1, 'signup')",
            {"id": rid},
        )

    assert 9 in db.migrate()

    keys = {r["id"]: r["ip_key"] for r in db.all("SELECT id, ip_key FROM recordings")}
    assert keys == {"r1": ip_key("203.0.113.9"), "r2": ip_key("2001:db8::7"), "r3": None}
    sites = {r["site_id"] for r in db.all("SELECT site_id FROM recording_moments")}
    assert sites == {"s"}
    if not db.is_sqlite:
        # pg_trgm comes with PostgreSQL and the test server's user owns the database.
        index = db.one(
            "SELECT 1 AS ok FROM pg_indexes WHERE indexname = 'recording_pages_url_trgm'"
        )
        assert index is not None
    db.dispose()


def test_ip_keys_sort_like_addresses() -> None:
    addresses = ["9.255.255.255", "10.0.0.0", "10.0.0.1", "10.255.255.255", "11.0.0.0"]
    assert sorted(addresses, key=lambda a: ip_key(a) or "") == addresses
    low, high = ip_range("10.0.0.0/8")
    assert [a for a in addresses if low <= (ip_key(a) or "") <= high] == addresses[1:4]
    low, high = ip_range("2001:db8::/32")
    assert low <= (ip_key("2001:db8:ffff::1") or "") <= high
    assert not low <= (ip_key("2001:db9::") or "") <= high
    assert ip_key("::ffff:10.0.0.1") == ip_key("10.0.0.1")
    assert ip_key("not an address") is None
    with pytest.raises(ValueError):
        ip_range("10.0.0.0/33")
