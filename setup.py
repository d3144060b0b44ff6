"""Packaging: everything is in pyproject.toml; this only refuses to build a wheel or an sdist
without the built recorder, chat box, player and dashboard scripts (web/, built with Node),
which an installed Footage serves and cannot build. scripts/build-dist builds them first."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUILD = Path(__file__).resolve().parent / "footage" / "web" / "static" / "build"
NEEDED = (
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


class BuildWithScripts(build_py):
    def run(self) -> None:
        missing = [name for name in NEEDED if not (BUILD / name).is_file()]
        # An editable install (scripts/install) builds them afterwards, in place.
        if missing and not getattr(self, "editable_mode", False):
            raise SystemExit(
                f"footage/web/static/build/ lacks {', '.join(missing)}: build them first with "
                "`cd web && npm ci && node build.mjs` (scripts/build-dist does it, then the wheel)"
            )
        super().run()


setup(cmdclass={"build_py": BuildWithScripts})
