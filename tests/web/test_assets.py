"""footage.js, the chat box and every dashboard asset, sent as a CDN would send them
(footage/web/assets.py): the encoding the browser accepts, ETags and 304s, HEAD, hashed
addresses cached for a year — and footage.js's weight over the wire within its budget."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from footage import __version__
from footage.web.assets import BUILD, STATIC, accepted_encoding, digest, matches
from tests.conftest import LiveServer, free_port, settings_for, start_server

# footage.js over the wire with `Accept-Encoding: gzip, br` (issue 17: ≤ 35 KB; lowered
# once rrweb's canvas worker, then its canvas observers were left out of it).
RECORDER_BUDGET = 33_500
YEAR = "public, max-age=31536000, immutable"
BOTH = {"Accept-Encoding": "gzip, br"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module: these files are the same whatever the database."""
    if not (BUILD / "footage.js").is_file():
        pytest.fail("web/ is not built: run scripts/install")
    tmp = tmp_path_factory.mktemp("assets")
    live = start_server(settings_for(tmp, port=free_port()))
    yield live
    live.stop()


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def wire(http: httpx.Client, path: str, headers: dict[str, str]) -> httpx.Response:
    """The answer with its body as sent (still compressed)."""
    with http.stream("GET", path, headers=headers) as r:
        r._content = b"".join(r.iter_raw())  # noqa: SLF001 — the bytes on the wire
    return r


def unbrotli(data: bytes) -> bytes:
    """Node's zlib (the build's own) decodes brotli; Python has no brotli here."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node is needed: run scripts/install --test")
    script = (
        "process.stdout.write(require('zlib').brotliDecompressSync(require('fs').readFileSync(0)))"
    )
    return subprocess.run([node, "-e", script], input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, "identity"),
        ("", "identity"),
        ("gzip, br", "br"),
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("GZIP;Q=1", "gzip"),
        ("br;q=0.4, gzip;q=0.5", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br ; q=0.9 , gzip ; q=0.8", "br"),
        ("identity", "identity"),
        ("zstd, compress, lzma", "identity"),  # none we have
        ("*", "br"),
        ("*;q=0", "identity"),  # nothing acceptable: identity all the same
        ("gzip;q=0, br;q=0, identity;q=0", "identity"),
        ("*;q=0.1, gzip;q=0.5", "gzip"),
        ("br;q=banana, gzip", "gzip"),  # an unreadable weight accepts nothing
        ("br;q=7", "br"),
        (",,;, br", "br"),
    ],
)
def test_the_encoding_follows_accept_encoding(header: str | None, chosen: str) -> None:
    assert accepted_encoding(header, ("identity", "gzip", "br")) == chosen


def test_an_encoding_the_file_lacks_is_never_chosen() -> None:
    assert accepted_encoding("br", ("identity", "gzip")) == "identity"
    assert accepted_encoding("br, gzip;q=0.1", ("identity", "gzip")) == "gzip"


@pytest.mark.parametrize(
    ("header", "hit"),
    [
        ('"abc.br"', True),
        ('W/"abc.br"', True),
        ('"x", "abc.br"', True),
        ("*", True),
        ('"abc"', False),
        ('"abc.gzip"', False),
        ("", False),
        (None, False),
    ],
)
def test_if_none_match(header: str | None, hit: bool) -> None:
    assert matches(header, '"abc.br"') is hit


def test_footage_js_over_the_wire_within_its_budget(http: httpx.Client) -> None:
    identity = (BUILD / "footage.js").read_bytes()
    r = wire(http, "/footage.js", BOTH)
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "br", "web/build.mjs writes the brotli copy"
    assert int(r.headers["content-length"]) == len(r.content)
    print(f"footage.js: {len(identity):,} bytes, {len(r.content):,} over the wire (br)")
    assert len(r.content) <= RECORDER_BUDGET
    assert unbrotli(r.content) == identity


@pytest.mark.parametrize("path", ["/footage.js", "/footage-chat.js"])
def test_the_recorder_scripts_in_every_encoding(http: httpx.Client, path: str) -> None:
    identity = (BUILD / ("footage.js" if path == "/footage.js" else "chat.js")).read_bytes()
    version = digest(identity)
    answers = {
        encoding: wire(http, path, {"Accept-Encoding": header})
        for encoding, header in [
            ("br", "gzip, deflate, br"),
            ("gzip", "gzip;q=1, br;q=0.5"),
            ("identity", "identity"),
            ("unknown", "zstd, snappy"),
        ]
    }
    assert gzip.decompress(answers["gzip"].content) == identity
    assert answers["identity"].content == identity == answers["unknown"].content
    assert "content-encoding" not in answers["identity"].headers
    assert "content-encoding" not in answers["unknown"].headers
    assert unbrotli(answers["br"].content) == identity
    assert len(answers["br"].content) < len(answers["gzip"].content) < len(identity)
    etags = set()
    for encoding, r in answers.items():
        assert r.status_code == 200
        assert r.headers["content-encoding"] if encoding in ("br", "gzip") else True
        assert r.headers["vary"] == "Accept-Encoding"
        assert r.headers["cache-control"] == "public, max-age=300"
        assert r.headers["access-control-allow-origin"] == "*"
        assert "javascript" in r.headers["content-type"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "set-cookie" not in r.headers
        assert r.headers["etag"].startswith(f'"{version}') and not r.headers["etag"].startswith(
            "W/"
        )
        assert int(r.headers["content-length"]) == len(r.content)
        etags.add(r.headers["etag"])
    assert len(etags) == 3  # br, gzip, identity: three representations, three ETags


@pytest.mark.parametrize("path", ["/footage.js", "/footage-chat.js", "/static/build/player.js"])
def test_a_matching_etag_gets_304(http: httpx.Client, path: str) -> None:
    first = wire(http, path, BOTH)
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        again = wire(http, path, {**BOTH, "If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["vary"] == "Accept-Encoding"
        assert again.headers["cache-control"] == first.headers["cache-control"]
    # The ETag of another encoding names other bytes: the full answer.
    other = wire(http, path, {"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert other.status_code == 200 and other.headers["content-encoding"] == "gzip"
    assert wire(http, path, {**BOTH, "If-None-Match": '"stale"'}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/footage.js", "/footage-chat.js", "/static/dashboard.css", "/static/build/player.js"]
)
def test_head_answers_the_headers_of_get(http: httpx.Client, path: str) -> None:
    for headers in (BOTH, {"Accept-Encoding": "gzip"}, {}):
        get = wire(http, path, headers)
        head = http.head(path, headers=headers)
        assert head.status_code == 200 and head.content == b""
        for name in ("content-length", "content-encoding", "etag", "vary", "cache-control"):
            assert head.headers.get(name) == get.headers.get(name), (path, name)


def test_the_recorder_has_a_hashed_address_for_a_year(http: httpx.Client) -> None:
    recorder = (BUILD / "footage.js").read_bytes()
    chat = (BUILD / "chat.js").read_bytes()
    # footage.js loads the chat box by its hashed address (web/build.mjs writes it in).
    chat_path = f"/footage-chat.{digest(chat)}.js"
    assert chat_path.encode() in recorder
    for path, content in ((f"/footage.{digest(recorder)}.js", recorder), (chat_path, chat)):
        r = wire(http, path, {"Accept-Encoding": "identity"})
        assert r.status_code == 200 and r.content == content
        assert r.headers["cache-control"] == YEAR
        assert r.headers["access-control-allow-origin"] == "*"
        assert "set-cookie" not in r.headers
        assert http.head(path).status_code == 200
    for wrong in ("/footage.0123456789abcdef.js", "/footage.x.js", "/footage-chat.0000.js"):
        r = http.get(wrong)
        assert r.status_code == 404, wrong
        assert "the current one is /footage" in r.text
        assert r.headers["access-control-allow-origin"] == "*"  # the site's page can tell why


def test_other_methods_are_refused(http: httpx.Client) -> None:
    for path in ("/footage.js", "/footage-chat.js", "/static/dashboard.css"):
        r = http.post(path, content=b"x")
        assert r.status_code == 405, path
        assert "GET" in r.headers["allow"] and "HEAD" in r.headers["allow"]


def served_files() -> list[str]:
    """Every file the dashboard may load by URL, as named under static/."""
    names = [p.name for p in STATIC.glob("*.css")]
    names += [f"build/{p.name}" for p in BUILD.iterdir() if p.suffix in (".js", ".css")]
    return sorted(names)


def test_every_file_has_its_brotli_copy_from_the_build() -> None:
    """web/build.mjs and footage/web/assets.py name versions alike (the same digest)."""
    for name in served_files():
        content = (STATIC / name).read_bytes()
        assert (BUILD / f"{digest(content)}.br").is_file(), f"{name}: run node build.mjs in web/"


def test_pages_name_their_files_by_hashed_addresses(http: httpx.Client) -> None:
    """The dashboard (the login page, on _base.html) and /api/docs load only hashed
    addresses, each cached for a year, compressed, with its ETag."""
    seen = 0
    for page in ("/login", "/api/docs"):
        html = http.get(page).text
        urls = re.findall(r'<(?:script[^>]*\bsrc|link[^>]*\bhref)="([^"]+)"', html)
        assert urls, page
        # The icon is a data: address in the page itself: nothing to fetch or cache.
        for url in (u for u in urls if not u.startswith("data:image/svg+xml,")):
            match = re.fullmatch(r"/static/(.+)\.([0-9a-f]{16})(\.(?:js|css))", url)
            assert match, f"{page}: {url} is not a hashed address"
            plain = match[1] + match[3]
            assert digest((STATIC / plain).read_bytes()) == match[2]
            r = wire(http, url, BOTH)
            assert r.status_code == 200, url
            assert r.headers["cache-control"] == YEAR
            assert r.headers["content-encoding"] == "br"
            assert r.headers["vary"] == "Accept-Encoding"
            assert "set-cookie" not in r.headers  # a shared cache must not hand out a cookie
            seen += 1
    assert seen >= 5


def test_plain_static_addresses_revalidate(http: httpx.Client) -> None:
    """An address without digest (an old page, a bookmark) still works, asked again each time."""
    for name in ("dashboard.css", "build/player.js", "build/player.css"):
        r = wire(http, f"/static/{name}", BOTH)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-cache", name
        assert r.headers["etag"].startswith(f'"{digest((STATIC / name).read_bytes())}')


@pytest.mark.parametrize(
    "path",
    [
        "/static/build/player.0123456789abcdef.js",  # a version not served (any more)
        "/static/dashboard.0123456789abcdef.css",
        "/static/build/player.js.0123456789abcdef",
        "/static/build/missing.js",
        "/static/%2e%2e/app.py",
        "/static/build/..%2f..%2fapp.py",
        "/static/.hidden.css",
        "/static/build",
        "/static/",
        "/static/build/footage.js.br",
        "/static/assets.py",
    ],
)
def test_what_is_not_a_served_file_is_404(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code == 404, path
    assert "set-cookie" not in r.headers


def test_a_wrong_version_names_the_current_one(http: httpx.Client) -> None:
    r = http.get("/static/build/player.0123456789abcdef.js")
    current = digest((BUILD / "player.js").read_bytes())
    assert f"/static/build/player.{current}.js" in r.text and "reload the page" in r.text


def test_every_brotli_copy_is_the_file(http: httpx.Client) -> None:
    """What a brotli answer carries is the very file (checked with Node's zlib)."""
    for name in served_files():
        r = wire(http, f"/static/{name}", BOTH)
        assert r.status_code == 200, name
        body = unbrotli(r.content) if r.headers.get("content-encoding") == "br" else r.content
        assert body == (STATIC / name).read_bytes(), name


def test_no_build_folder_paths_leak_into_urls(http: httpx.Client) -> None:
    """The asset helper gives plain absolute addresses under /static/, nothing of the disk."""
    html = http.get("/login").text
    assert str(Path(STATIC)) not in html


def test_footage_js_is_compiled_while_it_streams_in() -> None:
    """Chromium compiles a script's functions on the thread that streams it in when the script
    says all of them run on load (footage.js runs most of its code on every page): none is
    compiled on the page's main thread at the snapshot or the first input (web/build.mjs)."""
    head = (BUILD / "footage.js").read_text(encoding="utf-8").split("\n", 2)
    assert head[0] == f"/*! Footage {__version__} */"
    assert head[1] == "//# allFunctionsCalledOnLoad"
