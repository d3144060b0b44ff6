"""Footage installed like any Python tool: the sdist and wheel built from this checkout, the
wheel installed into a fresh virtual environment with no Node on PATH, and `footage serve`
from there running the demo on the embedded default. A real Chromium visits the demo shop
through the installed server, and the recording becomes ready."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from footage import __version__
from tests.browser.conftest import open_recorded
from tests.conftest import free_port, serve_process, wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# What an installed Footage serves and cannot build: the scripts built from web/ with Node.
BUILT = [
    f"footage/web/static/build/{name}"
    for name in (
        "footage.js",
        "chat.js",
        "player.js",
        "player.css",
        "live.js",
        "heatmap.js",
        "dashboard.js",
        "conversations.js",
        "frames.js",
        "api-docs.js",
        "swagger-ui-bundle.js",
    )
]
NEEDED = [
    *BUILT,
    "footage/web/templates/_base.html",
    "footage/demo/templates/shop.html",
    "footage/share/templates/share.html",
    "footage/downloads/templates/recording.html",
    "footage/store/migrations.py",
    "footage/web/static/dashboard.css",
]


def run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_installs_without_node_and_serves_the_demo(tmp_path, browser, artifacts):
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ".")
    (wheel,) = dist.glob("footage-*.whl")
    (sdist,) = dist.glob("footage-*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    listing = [f"{wheel.name}: {wheel.stat().st_size:,} bytes, {len(names)} files"]
    listing += [f"  {n}" for n in sorted(names)]
    print("\n".join(listing))
    (artifacts / "wheel-files.txt").write_text("\n".join(listing) + "\n")
    assert not [n for n in NEEDED if n not in names]
    unwanted = [
        n
        for n in names
        if "node_modules" in n or n.endswith((".map", ".ts")) or n.startswith(("tests/", "web/"))
    ]
    assert unwanted == []
    # The sdist carries the built scripts too: installing it needs no Node either.
    with tarfile.open(sdist) as archive:
        packed = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert not [n for n in BUILT if n not in packed]

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTAGE_", "VIRTUAL_ENV"))}
    env["PATH"] = str(venv / "bin")  # the installed tool, and no Node
    assert shutil.which("node", path=env["PATH"]) is None
    assert run(venv / "bin" / "footage", "--version", env=env).strip() == f"footage {__version__}"

    # As scripts/serve runs it (the demo on SQLite and local files), with quick timings.
    port, data = free_port(), tmp_path / "data"
    env.update(
        {
            "FOOTAGE_LEAVE_GRACE_SECONDS": "1",
            "FOOTAGE_FINALIZER_INTERVAL_SECONDS": "0.5",
            "FOOTAGE_HEARTBEAT_TIMEOUT_SECONDS": "10",
        }
    )
    log = tmp_path / "serve.log"
    command = [venv / "bin" / "footage", "serve", "--data-dir", data, "--port", str(port)]
    server = serve_process(command, env, log, port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        script = httpx.get(f"{base}/footage.js", headers={"Accept-Encoding": "gzip"})
        assert script.status_code == 200
        assert script.text.startswith(f"/*! Footage {__version__} */")
        brotli = httpx.head(f"{base}/footage.js", headers={"Accept-Encoding": "br"})
        assert brotli.headers["content-encoding"] == "br"  # its precompressed copy
        assert "Log in" in httpx.get(f"{base}/login").text
        login = json.loads((data / "demo-login.json").read_text())
        assert "Log in as:  demo@example.com" in log.read_text()

        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = open_recorded(context, f"{base}/demo/")
        with page.expect_response(lambda r: r.url.endswith("/api/v1/ingest")):
            page.mouse.click(400, 300)
        page.close(run_before_unload=True)
        auth = {"Authorization": f"Bearer {login['api_token']}"}

        def ready() -> list:
            return httpx.get(f"{base}/api/v1/recordings", headers=auth).json()["items"]

        wait_for(lambda: len(ready()) == 1, timeout=60)
        context.close()
        (recording,) = ready()
        assert recording["pages"][0]["url"].endswith("/demo/")
    finally:
        server.terminate()
        server.wait(timeout=40)
