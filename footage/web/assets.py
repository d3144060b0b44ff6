"""Where the static assets are: stylesheets beside this file, the built bundles of web/ in
static/build/ (web/build.mjs writes them there)."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
BUILD = STATIC / "build"


def static_files() -> StaticFiles:
    """The app mounted at /static (a missing folder answers 404s rather than failing)."""
    return StaticFiles(directory=STATIC, check_dir=False)
