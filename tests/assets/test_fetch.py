"""fetch_asset against real HTTP servers on loopback: origins, addresses, redirects, limits.

Host names go through a fake resolver (no real DNS); address refusals happen before any
connection, so those tests need no server at all.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from footage.assets.fetch import AssetRefused, Fetched, FetchPolicy, fetch_asset

CSS = b"body { color: teal }"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)
NAMES = {
    "shop.test": ["127.0.0.1"],
    "other.test": ["127.0.0.1"],
    "intranet.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["93.184.216.34", "127.0.0.1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "cdn.shop.test": ["10.0.0.6"],
    "a.b.shop.test": ["10.0.0.7"],
}


def fake_dns(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "unknown name")
    return NAMES[host]


class Site(ThreadingHTTPServer):
    """A web site on loopback; `seen` holds every request's headers, `away` a redirect target."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[dict[str, str]] = []
        self.away = ""
        self.stop = threading.Event()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Site

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        pass

    def head(self, status: int, content_type: str | None = "text/css", **headers: str) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def reply(
        self, status: int, body: bytes = b"", content_type: str | None = "text/css", **h: str
    ) -> None:
        self.head(status, content_type, Content_Length=str(len(body)), **h)
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.seen.append(dict(self.headers.items()))
        path = self.path
        try:
            if path.startswith("/chain/"):  # /chain/N redirects N times, then serves CSS
                left = int(path.removeprefix("/chain/"))
                self.reply(302, Location=f"/chain/{left - 1}") if left else self.reply(200, CSS)
            elif path == "/style.css" and self.headers.get("If-None-Match") == '"v1"':
                self.reply(304, content_type=None)
            elif path == "/style.css":
                self.reply(200, CSS, "text/css; charset=utf-8", ETag='"v1"')
            elif path == "/logo.png":
                self.reply(200, PNG, "image/png")
            elif path == "/old/sheet":
                self.reply(301, Location="../style.css")
            elif path == "/away":
                self.reply(302, Location=self.server.away)
            elif path == "/cookie":
                self.reply(302, Set_Cookie="session=secret", Location="/style.css")
            elif path == "/page":
                self.reply(200, b"<html></html>", "text/html")
            elif path == "/bare":
                self.reply(200, CSS, None)
            elif path == "/huge":  # announces more than the limit, sends nothing
                self.head(200, Content_Length="10000000", Connection="close")
            elif path == "/short":  # promises 1000 bytes, closes after 10
                self.head(200, Content_Length="1000", Connection="close")
                self.wfile.write(b"a" * 10)
            elif path == "/chunked":
                self.head(200, Transfer_Encoding="chunked")
                for _ in range(20):
                    self.wfile.write(b"400\r\n" + b"a" * 1024 + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            elif path == "/unbounded":  # no length at all: the body ends when the connection does
                self.head(200, Connection="close")
                self.wfile.write(b"a" * 20_000)
            elif path == "/slow":  # a byte every 50 ms until the test ends
                self.head(200, Content_Length="100000")
                while not self.server.stop.wait(0.05):
                    self.wfile.write(b"a")
            elif path == "/garbage":
                self.wfile.write(b"NOT HTTP\r\n\r\n")
            else:
                self.reply(404, b"", "text/plain")
        except OSError:  # the client hung up, as it should on a refused body
            pass


def running(server: Site) -> Iterator[Site]:
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def site() -> Iterator[Site]:
    yield from running(Site())


@pytest.fixture
def other_site() -> Iterator[Site]:
    yield from running(Site())


def policy_for(*origins: str, **overrides: Any) -> FetchPolicy:
    settings: dict[str, Any] = {"allow_private_addresses": True, "timeout_seconds": 5.0}
    settings["resolve"] = fake_dns
    return FetchPolicy(allowed_origins=origins, **(settings | overrides))


def refusal(url: str, policy: FetchPolicy, **kwargs: Any) -> str:
    with pytest.raises(AssetRefused) as refused:
        fetch_asset(url, policy, **kwargs)
    return refused.value.reason


def test_a_stylesheet_and_an_image_are_fetched_from_an_allowed_loopback_site(site: Site) -> None:
    policy = policy_for(site.origin)
    css = fetch_asset(f"{site.origin}/style.css", policy)
    assert css == Fetched(f"{site.origin}/style.css", CSS, "text/css", '"v1"')
    png = fetch_asset(f"{site.origin}/logo.png", policy)
    assert png is not None and (png.body, png.content_type, png.etag) == (PNG, "image/png", None)


def test_the_request_carries_its_own_few_headers_and_never_a_cookie(site: Site) -> None:
    fetch_asset(f"{site.origin}/cookie", policy_for(site.origin))  # Set-Cookie, then redirect
    assert len(site.seen) == 2
    for headers in site.seen:
        assert set(headers) == {"Host", "User-Agent", "Accept", "Accept-Encoding"}
        assert headers["Host"] == f"127.0.0.1:{site.server_port}"
        assert headers["User-Agent"] == "Footage-asset-capture/1"
        assert (headers["Accept"], headers["Accept-Encoding"]) == ("*/*", "identity")


def test_a_host_name_is_resolved_once_and_the_checked_address_is_connected_to(site: Site) -> None:
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    origin = f"http://shop.test:{site.server_port}"
    fetched = fetch_asset(f"{origin}/style.css", policy_for(origin, resolve=resolve))
    assert fetched is not None and fetched.body == CSS
    assert asked == [("shop.test", site.server_port)]
    assert site.seen[0]["Host"] == f"shop.test:{site.server_port}"


def test_an_unchanged_asset_answers_none_to_its_etag(site: Site) -> None:
    url, policy = f"{site.origin}/style.css", policy_for(site.origin)
    assert fetch_asset(url, policy, if_none_match='"v1"') is None
    assert site.seen[0]["If-None-Match"] == '"v1"'
    assert fetch_asset(url, policy, if_none_match='"v0"') is not None
    assert "If-None-Match" in refusal(url, policy, if_none_match='"v1"\r\nCookie: a=b')


def test_a_relative_redirect_is_followed(site: Site) -> None:
    fetched = fetch_asset(f"{site.origin}/old/sheet", policy_for(site.origin))
    assert fetched is not None and fetched.url == f"{site.origin}/style.css"


def test_redirects_up_to_the_limit_are_followed_and_more_are_refused(site: Site) -> None:
    policy = policy_for(site.origin)
    assert fetch_asset(f"{site.origin}/chain/5", policy) is not None
    assert "more than 5" in refusal(f"{site.origin}/chain/6", policy)
    assert "more than 0" in refusal(
        f"{site.origin}/old/sheet", policy_for(site.origin, max_redirects=0)
    )


def test_a_redirect_to_another_origin_is_refused(site: Site, other_site: Site) -> None:
    site.away = f"{other_site.origin}/style.css"
    reason = refusal(f"{site.origin}/away", policy_for(site.origin))
    assert reason == f"{other_site.origin} is not an allowed origin"
    assert other_site.seen == []


def test_a_redirect_to_a_host_name_outside_the_allowed_origins_is_refused(site: Site) -> None:
    site.away = f"http://intranet.test:{site.server_port}/style.css"
    assert "not an allowed origin" in refusal(f"{site.origin}/away", policy_for(site.origin))


def test_a_redirect_to_an_allowed_origin_has_its_addresses_checked_too(site: Site) -> None:
    site.away = "http://metadata.test/latest/meta-data/"
    policy = policy_for(site.origin, "http://metadata.test")  # private addresses allowed
    assert "metadata" in refusal(f"{site.origin}/away", policy)


def test_loopback_is_refused_unless_private_addresses_are_allowed(site: Site) -> None:
    policy = policy_for(site.origin, allow_private_addresses=False)
    assert "loopback" in refusal(f"{site.origin}/style.css", policy)
    origin = f"http://shop.test:{site.server_port}"
    policy = policy_for(origin, allow_private_addresses=False)
    assert "loopback" in refusal(f"{origin}/style.css", policy)
    assert site.seen == []


@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("metadata.test", "metadata"),
        ("intranet.test", "private"),
        ("mixed.test", "loopback"),  # one public answer does not excuse the other
        ("mapped.test", "loopback"),
        ("100.64.0.1", "CGNAT"),
        ("169.254.1.1", "link-local"),
        ("[fe80::1]", "link-local"),
        ("[fd00::1]", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("[2002:7f00:1::]", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("240.0.0.1", "reserved"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("[::]", "unspecified"),
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, word: str) -> None:
    policy = policy_for(f"http://{address}", allow_private_addresses=False)
    assert word in refusal(f"http://{address}/style.css", policy)


@pytest.mark.parametrize(
    "address",
    ["0.0.0.0", "[::]", "224.0.0.1", "[ff02::1]", "metadata.test", "[::ffff:169.254.169.254]"],
)
def test_allowing_private_addresses_never_allows_these(address: str) -> None:
    reason = refusal(f"http://{address}/x.css", policy_for(f"http://{address}"))
    assert any(word in reason for word in ("unspecified", "multicast", "metadata"))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://shop.test/style.css", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("/style.css", "only http and https"),
        ("http://user:pass@shop.test/style.css", "user name or password"),
        ("http://@shop.test/style.css", "user name or password"),
        ("http://shop.test:8081/style.css", "not an allowed origin"),
        ("https://shop.test/style.css", "not an allowed origin"),
        ("http://sub.shop.test/style.css", "not an allowed origin"),
        ("http://shop.test:99999/", "port"),
        ("http:///style.css", "host name"),
    ],
)
def test_addresses_outside_the_allowed_origins_are_refused(url: str, words: str) -> None:
    assert words in refusal(url, policy_for("http://shop.test"))


def test_allowed_origins_are_compared_normalised() -> None:
    # The refusal is about the address, so the origin check let these through.
    policy = policy_for("HTTPS://Intranet.TEST:443/", allow_private_addresses=False)
    for url in ("https://intranet.test/a.css", "HTTPS://INTRANET.test:443/a.css"):
        assert "private" in refusal(url, policy)


def test_a_wildcard_origin_allows_its_subdomains_over_its_scheme_only() -> None:
    policy = policy_for("https://*.shop.test", allow_private_addresses=False)
    # Through the origin check (then refused for the address it resolves to):
    for url in ("https://cdn.shop.test/a.css", "https://a.b.shop.test/a.css"):
        assert "private" in refusal(url, policy)
    for url in ("https://shop.test/a.css", "http://cdn.shop.test/a.css", "https://evilshop.test/a"):
        assert "not an allowed origin" in refusal(url, policy)
    assert "not an allowed origin" in refusal("https://cdn.shop.test:8443/a.css", policy)


@pytest.mark.parametrize("path", ["/huge", "/chunked", "/unbounded"])
def test_bodies_over_the_limit_are_refused(site: Site, path: str) -> None:
    max_bytes = 5_000_000 if path == "/huge" else 5000
    policy = policy_for(site.origin, max_bytes=max_bytes)
    assert f"larger than {max_bytes} bytes" in refusal(f"{site.origin}{path}", policy)


def test_a_body_that_trickles_past_the_deadline_is_refused(site: Site) -> None:
    started = time.monotonic()
    policy = policy_for(site.origin, timeout_seconds=0.5)
    assert "longer than 0.5 s" in refusal(f"{site.origin}/slow", policy)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/page", "text/html is not a stylesheet, image or font"),
        ("/bare", "the site sent no content type"),
        ("/missing", "the site answered 404"),
        ("/short", "the connection closed before the whole body arrived"),
        ("/garbage", "the site's answer is not valid HTTP"),
    ],
)
def test_answers_that_are_not_whole_assets_are_refused(site: Site, path: str, reason: str) -> None:
    assert refusal(f"{site.origin}{path}", policy_for(site.origin)) == reason


def test_network_failures_are_refusals() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        closed = f"http://127.0.0.1:{listener.getsockname()[1]}"
    assert "connection to the site failed" in refusal(f"{closed}/a.css", policy_for(closed))
    with socket.create_server(("127.0.0.1", 0)) as listener:  # answers TLS with plain text
        plain = f"https://127.0.0.1:{listener.getsockname()[1]}"

        def answer() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer)
        thread.start()
        assert "TLS" in refusal(f"{plain}/a.css", policy_for(plain))
        thread.join()


def test_the_certificate_is_checked_against_the_host_name_not_the_address(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "shop.test")])
    now, day = datetime.datetime.now(datetime.UTC), datetime.timedelta(days=1)
    cert = (
        x509.CertificateBuilder(name, name, key.public_key(), 1, now - day, now + day)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("shop.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(pem, pkcs8, serialization.NoEncryption()))
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    site.socket = server_tls.wrap_socket(site.socket, server_side=True)
    monkeypatch.setenv(
        "SSL_CERT_FILE", str(tmp_path / "cert.pem")
    )  # the client trusts the test certificate

    shop, other = (f"https://{host}:{site.server_port}" for host in ("shop.test", "other.test"))
    fetched = fetch_asset(f"{shop}/style.css", policy_for(shop, other))
    assert fetched is not None and fetched.body == CSS
    assert "certificate" in refusal(f"{other}/style.css", policy_for(shop, other))
