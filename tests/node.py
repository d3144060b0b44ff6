"""Running the browser's TypeScript in Node, to compare it with its Python twin."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[1] / "web"


def bundle_for_node(source: str, out_dir: Path) -> tuple[str, Path]:
    """Node's path and a CommonJS bundle of web/src/`source` (esbuild from web/node_modules)."""
    node = shutil.which("node")
    esbuild = WEB / "node_modules" / ".bin" / "esbuild"
    if node is None or not esbuild.exists():
        pytest.fail("Node and web/node_modules are needed: run scripts/install --test")
    bundle = out_dir / (Path(source).stem + ".cjs")
    subprocess.run(
        [
            str(esbuild),
            str(WEB / "src" / source),
            "--bundle",
            "--platform=node",
            "--format=cjs",
            f"--outfile={bundle}",
            "--log-level=warning",
        ],
        check=True,
    )
    return node, bundle
