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


def test_serve_with_two_worker_processes(tmp_path):
    """`footage serve --workers 2`: both processes ingest and finalize; each visit once."""
    import os
    import signal
    import time

    import httpx

    from tests.conftest import batch, click, free_port, full_snapshot, gz, meta, new_ids

    created = json.loads(
        footage(
            "accounts",
            "create",
            "--name",
            "Shop",
            "--plan",
            "pro",
            "--email",
            "o@shop.example",
            "--password",
            "long enough pw",
            "--site-url",
            "https://shop.example",
            "--json",
            data_dir=tmp_path,
        ).stdout
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "footage",
            "serve",
            "--workers",
            "2",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--no-demo",
            "--leave-grace-seconds",
            "0.5",
            "--finalizer-interval-seconds",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        t0 = 1_795_000_000_000
        with httpx.Client(base_url=base, headers={"Origin": "https://shop.example"}) as http:
            for _ in range(20):
                ids = new_ids()
                r = http.post(
                    "/api/v1/ingest",
                    content=gz(
                        batch(
                            created["site_key"],
                            ids,
                            0,
                            [meta(t0), full_snapshot(t0 + 1), click(t0 + 9)],
                            url="https://shop.example/",
                            left=True,
                        )
                    ),
                )
                assert r.status_code == 200, r.text
            auth = {"Authorization": f"Bearer {created['api_token']}"}
            deadline = time.monotonic() + 20
            while len(http.get("/api/v1/recordings", headers=auth).json()["items"]) < 20:
                assert time.monotonic() < deadline, "recordings did not become ready"
                time.sleep(0.2)
            items = http.get("/api/v1/recordings", headers=auth).json()["items"]
        assert len({i["id"] for i in items}) == 20
        assert all(i["click_count"] == 1 for i in items)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    pids = {
        line.split("[")[1].split("]")[0]
        for line in output.splitlines()
        if "Started server process" in line
    }
    assert len(pids) == 2, output


SHARE_TOKEN = "Zx9" + "a" * 40  # shaped like a share token; no link has it (404, still logged)
API_TOKEN = "ft_" + "b" * 43


def test_the_access_log_never_holds_a_token():
    """uvicorn's access line as its formatter prints it, through the filter `footage serve`
    installs (footage/logs.py): the request is there, the secrets are not."""
    import logging

    from uvicorn.logging import AccessFormatter

    from footage.logs import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            f"/share/{SHARE_TOKEN}/events.json?token={API_TOKEN}",
            "1.1",
            200,
        ),
        None,
    )
    assert RedactSecrets().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert (
        line
        == '127.0.0.1:5000 - "GET /share/[redacted]/events.json?token=[redacted] HTTP/1.1" 200 OK'
    )
    assert RedactSecrets().filter(
        record := logging.LogRecord(
            "footage", logging.INFO, __file__, 1, "sent %s", (f"Bearer {API_TOKEN}",), None
        )
    )
    assert record.getMessage() == "sent Bearer [redacted]"


def test_serve_with_workers_redacts_tokens_in_its_access_log(tmp_path):
    """Each worker process of `footage serve --workers 2` sets up its own logging (uvicorn's):
    the filter is installed there too."""
    import os
    import signal
    import time

    import httpx

    from tests.conftest import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "footage", "serve", "--workers", "2", "--port", str(port)]
        + ["--data-dir", str(tmp_path), "--no-demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "FOOTAGE_LOG_LEVEL": "info"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        for _ in range(4):  # more than one connection: both workers answer some
            with httpx.Client(base_url=base) as http:
                assert http.get(f"/share/{SHARE_TOKEN}").status_code == 404
                http.get("/api/v1/recordings", params={"api_token": API_TOKEN})
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    assert '"GET /share/[redacted] HTTP/1.1" 404' in output, output
    assert "api_token=[redacted]" in output
    assert SHARE_TOKEN not in output and API_TOKEN not in output


def test_every_command_is_offered_serve_first():
    """The feature commands register themselves; `footage` lists them after its own."""
    r = subprocess.run(
        [sys.executable, "-m", "footage", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "{serve,worker,migrate,accounts,retention,dev,export}" in r.stdout


def test_a_bad_plans_definition_stops_the_start_with_what_to_fix(tmp_path):
    r = footage("worker", "--plans", "{not json", data_dir=tmp_path)
    assert r.returncode == 2
    assert "footage: error: FOOTAGE_PLANS: the plans setting is not valid JSON" in r.stderr
