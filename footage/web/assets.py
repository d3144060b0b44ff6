"""Every file the dashboard and the recorder load by URL, sent the way a CDN sends it.

The stylesheets are beside this file, the bundles of web/ in static/build/ (web/build.mjs
writes them there, and a brotli copy of each file named by its content's digest). A file is
read once per version (its size and modification time) and kept in memory as identity, gzip
and — when the build left one for exactly that content — brotli; a request gets the smallest
its `Accept-Encoding` allows, with `Vary: Accept-Encoding`, a strong ETag per encoding (304
when `If-None-Match` matches), `HEAD` and `Content-Length`.

Pages name a file by its hashed address (`asset('build/player.js')` in a template gives
`/static/build/player.<digest>.js`), cached for a year: a new release has new addresses. The
plain address keeps working for whatever still asks for it, revalidated on every use. A
hashed address whose digest is not the current one is a 404.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router

STATIC = Path(__file__).resolve().parent / "static"
BUILD = STATIC / "build"

IMMUTABLE = "public, max-age=31536000, immutable"
# A plain address may change content at any release: the browser asks again every time (a
# 304 when nothing changed).
REVALIDATE = "no-cache"
DIGEST_LENGTH = 16
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Smallest first: among encodings the client likes equally, the first one here wins.
PREFERENCE = ("br", "gzip", "identity")
HASHED = re.compile(
    rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<suffix>\.[a-z0-9]+)$"
)


def digest(content: bytes) -> str:
    """The digest that names a version of a file (twin of `digest` in web/build.mjs)."""
    return hashlib.sha256(content).hexdigest()[:DIGEST_LENGTH]


@dataclass(frozen=True)
class Asset:
    """One version of one file, in every encoding it is sent in."""

    name: str  # under static/, e.g. "build/player.js"
    media_type: str
    digest: str
    bodies: dict[str, bytes]  # encoding → bytes; always "identity"

    @property
    def hashed_name(self) -> str:
        """`build/player.js` → `build/player.<digest>.js`."""
        stem, dot, suffix = self.name.rpartition(".")
        return f"{stem}.{self.digest}.{suffix}" if dot else f"{self.name}.{self.digest}"

    def etag(self, encoding: str) -> str:
        """Strong and different per encoding: the bytes differ."""
        return f'"{self.digest}"' if encoding == "identity" else f'"{self.digest}.{encoding}"'


def _compress(name: str, content: bytes, build: Path) -> Asset:
    version = digest(content)
    bodies = {"identity": content}
    # mtime=0: the same content gives the same bytes (and ETag) in every process.
    compressed = gzip.compress(content, compresslevel=9, mtime=0)
    if len(compressed) < len(content):
        bodies["gzip"] = compressed
    brotli = build / f"{version}.br"
    if brotli.is_file():
        bodies["br"] = brotli.read_bytes()
    media_type = MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream")
    return Asset(name=name, media_type=media_type, digest=version, bodies=bodies)


class AssetStore:
    """The files under one folder, each read and compressed once per version."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int, bool], Asset]] = {}

    def path_of(self, name: str) -> Path | None:
        """The file `name` names under the root, or None for anything else (a folder, a
        hidden file, a way out of the root, a kind of file that is not served)."""
        parts = name.split("/")
        if not name or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return None
        if "\\" in name or "\x00" in name or Path(name).suffix not in MEDIA_TYPES:
            return None
        path = self.root.joinpath(*parts)
        return path if path.is_file() else None

    def get(self, name: str) -> Asset | None:
        """The current version of `name`, or None when there is no such file."""
        path = self.path_of(name)
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        with self._lock:
            cached = self._cache.get(name)
        # The brotli copy is written after the bundle: look again while it is missing.
        if (
            cached
            and cached[0][:2] == (stat.st_mtime_ns, stat.st_size)
            and (cached[0][2] or not (self.root / "build" / f"{cached[1].digest}.br").is_file())
        ):
            return cached[1]
        asset = _compress(name, path.read_bytes(), self.root / "build")
        with self._lock:
            self._cache[name] = ((stat.st_mtime_ns, stat.st_size, "br" in asset.bodies), asset)
        return asset

    def url(self, name: str) -> str:
        """`/static/<name with its digest>`: the address pages use. A file that is not there
        (web/ not built) keeps its plain address, which answers 404."""
        asset = self.get(name)
        return f"/static/{asset.hashed_name if asset else name}"


assets = AssetStore(STATIC)


def asset_url(name: str) -> str:
    """The hashed address of a file under static/ (templates: `asset('build/player.js')`)."""
    return assets.url(name)


def accepted_encoding(header: str | None, offered: list[str] | tuple[str, ...]) -> str:
    """The encoding to send: the one the client weighs highest (q-values) among `offered`,
    the smallest on a tie; identity when it accepts none of them or sends no header."""
    if not header:
        return "identity"
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, *params = (p.strip() for p in item.split(";"))
        coding = coding.lower()
        if not coding:
            continue
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0  # an unreadable weight accepts nothing
        weights["gzip" if coding == "x-gzip" else coding] = weight
    default = weights.get("*")

    def weight_of(coding: str) -> float:
        if coding in weights:
            return weights[coding]
        # Identity, when not named, stays the answer of last resort below any compression.
        return default if default is not None else 0.0

    best = max(
        (c for c in PREFERENCE if c in offered),
        key=lambda c: (weight_of(c), -PREFERENCE.index(c)),
    )
    return best if weight_of(best) > 0 else "identity"


def matches(if_none_match: str | None, etag: str) -> bool:
    """`If-None-Match` names this ETag (weak comparison, as RFC 9110 asks), or is `*`."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def send(
    request: Request,
    asset: Asset,
    cache_control: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """`asset` in the encoding the request accepts: 200, 304 or a bodiless HEAD."""
    encoding = accepted_encoding(request.headers.get("accept-encoding"), tuple(asset.bodies))
    body = asset.bodies[encoding]
    common = {
        "Cache-Control": cache_control,
        "ETag": asset.etag(encoding),
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        **(headers or {}),
    }
    if matches(request.headers.get("if-none-match"), common["ETag"]):
        return Response(status_code=304, headers=common)
    full = {**common, "Content-Type": asset.media_type, "Content-Length": str(len(body))}
    if encoding != "identity":
        full["Content-Encoding"] = encoding
    return Response(b"" if request.method == "HEAD" else body, headers=full)


def not_found(name: str, hint: str = "") -> Response:
    return PlainTextResponse(
        f"no file {name}{hint}", status_code=404, headers={"Cache-Control": "no-cache"}
    )


def serve_static(request: Request) -> Response:
    """/static/<name>: a hashed address for a year, a plain one revalidated each time."""
    name: str = request.path_params["name"]
    asset = assets.get(name)
    if asset is not None:
        return send(request, asset, REVALIDATE)
    hashed = HASHED.match(name)
    if hashed is None:
        return not_found(name, ": check the address")
    plain = hashed["stem"] + hashed["suffix"]
    asset = assets.get(plain)
    if asset is None or asset.digest != hashed["digest"]:
        current = f" (the current version is /static/{asset.hashed_name})" if asset else ""
        return not_found(name, f": this version is not served{current}; reload the page")
    return send(request, asset, IMMUTABLE)


def static_files() -> Router:
    """The app mounted at /static (GET and HEAD; other methods get 405)."""
    return Router([Route("/{name:path}", serve_static, methods=["GET", "HEAD"])])


def built(name: str) -> Asset | None:
    """A bundle of web/ (e.g. `footage.js`), or None when web/ is not built."""
    return assets.get(f"build/{name}")
