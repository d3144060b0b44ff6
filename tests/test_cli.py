"""The `footage` command, run as a user runs it."""

import json
import subprocess
import sys


def footage(*args, data_dir):
    return subprocess.run(
        [sys.executable, "-m", "footage", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_accounts_create_prints_one_json_object(tmp_path):
    r = footage(
        "accounts",
        "create",
        "--name",
        "Shop",
        "--plan",
        "standard",
        "--email",
        "owner@shop.example",
        "--password",
        "long enough pw",
        "--site-url",
        "https://shop.example",
        "--json",
        data_dir=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"account_id", "site_id", "site_key", "api_token"} <= set(out)


def test_accounts_create_explains_bad_input(tmp_path):
    r = footage(
        "accounts",
        "create",
        "--name",
        "Shop",
        "--plan",
        "pro",
        "--email",
        "nope",
        "--password",
        "long enough pw",
        "--json",
        data_dir=tmp_path,
    )
    assert r.returncode == 2 and "is not an e-mail address" in r.stderr
    r = footage(
        "accounts",
        "create",
        "--name",
        "Shop",
        "--plan",
        "pro",
        "--email",
        "a@b.example",
        "--password",
        "long enough pw",
        "--site-url",
        "shop",
        data_dir=tmp_path,
    )
    assert r.returncode == 2 and "site URL must look like" in r.stderr


def test_migrate_is_idempotent(tmp_path):
    from footage.store.migrations import MIGRATIONS

    versions = [v for v, _ in MIGRATIONS]
    assert f"applied migrations: {versions}" in footage("migrate", data_dir=tmp_path).stdout
    assert "up to date" in footage("migrate", data_dir=tmp_path).stdout
