"""Fetching a stylesheet, image or font that a recorded page used, without becoming an SSRF tool.

The address comes from a visitor's browser, so it is hostile: only allowed origins are fetched,
every address a host name resolves to must be public (unless the operator allows private ones),
the connection goes to the address that was checked (a second DNS answer cannot swap it, which
defeats DNS rebinding), every redirect is checked again, and size, time and type are bounded.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import math
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from urllib.parse import quote, urljoin, urlsplit

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

USER_AGENT = "Footage-asset-capture/1"
CHUNK_BYTES = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# What a replay needs from a page besides its DOM. Pages, scripts and JSON are refused: the
# capture must not turn into a way to read arbitrary documents from an allowed site.
ASSET_TYPES = frozenset(
    {"text/css"}
    | {f"image/{t}" for t in ("png", "jpeg", "gif", "webp", "avif", "svg+xml", "x-icon", "bmp")}
    | {"image/vnd.microsoft.icon"}
    | {f"font/{t}" for t in ("woff", "woff2", "ttf", "otf", "sfnt")}
    | {f"application/{t}" for t in ("font-woff", "x-font-woff", "font-woff2", "x-font-ttf")}
    | {"application/x-font-otf", "application/vnd.ms-fontobject"}
)
# Cloud metadata services hand out credentials; no intranet setting makes them an asset host.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Printable ASCII except space: the characters a request target may carry as they are.
_TARGET_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


@dataclass(frozen=True)
class Fetched:
    url: str  # the final URL after redirects
    body: bytes
    content_type: str  # media type only, lower-case, no parameters, e.g. "text/css"
    etag: str | None


class AssetRefused(Exception):
    """Why an address was not fetched; `reason` is a short sentence for logs and the API."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def system_resolve(host: str, port: int) -> list[str]:
    """Every address `host` has for a TCP connection (getaddrinfo), in the system's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class FetchPolicy:
    allowed_origins: tuple[str, ...]  # scheme://host[:port], compared normalised
    allow_private_addresses: bool = False  # intranet installs (and tests on loopback)
    max_bytes: int = 5_000_000
    timeout_seconds: float = 10.0  # the whole fetch, redirects included
    max_redirects: int = 5
    resolve: Callable[[str, int], list[str]] = system_resolve


def fetch_asset(
    url: str, policy: FetchPolicy, *, if_none_match: str | None = None
) -> Fetched | None:
    """Fetches url under policy; None when the server answered 304 to if_none_match.

    Raises AssetRefused for every address, answer or network failure it does not accept.
    """
    if if_none_match is not None and not _is_header_value(if_none_match):
        raise AssetRefused("the If-None-Match value is not a valid header value")
    deadline = time.monotonic() + policy.timeout_seconds
    allowed = _allowed(policy.allowed_origins)
    current = url
    for _ in range(policy.max_redirects + 1):
        outcome = _fetch_once(current, policy, allowed, deadline, if_none_match)
        if not isinstance(outcome, str):
            return outcome
        current = outcome  # a redirect: checked from the start like the first address
    raise AssetRefused(f"the site redirected more than {policy.max_redirects} times")


def _fetch_once(
    url: str, policy: FetchPolicy, allowed: set[str], deadline: float, if_none_match: str | None
) -> Fetched | str | None:
    """One request: the answer, or the next address (a str) when the site redirects."""
    try:
        scheme, host, port, target = _split(url)
    except ValueError as exc:
        raise AssetRefused(str(exc)) from None
    origin = _origin(scheme, host, port)
    if origin not in allowed and not _under_wildcard(origin, allowed):
        raise AssetRefused(f"{origin} is not an allowed origin")
    addresses = _checked_addresses(host, port, policy)
    connection: http.client.HTTPConnection | None = None
    try:
        pinned = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = pinned(host, port, addresses, deadline)
        connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        # Exactly these headers: nothing of the visitor's or the operator's (no Cookie, no
        # Authorization) ever leaves with the request.
        connection.putheader("Host", origin.split("://", 1)[1])
        connection.putheader("User-Agent", USER_AGENT)
        connection.putheader("Accept", "*/*")
        connection.putheader("Accept-Encoding", "identity")  # the bytes stored are the bytes used
        if if_none_match is not None:
            connection.putheader("If-None-Match", if_none_match)
        connection.endheaders()
        with connection.getresponse() as response:
            return _answer(url, response, policy, deadline, if_none_match)
    except (OSError, http.client.HTTPException) as exc:
        raise _refusal(exc, policy, deadline) from None
    finally:
        if connection is not None:
            connection.close()


def _answer(
    url: str,
    response: http.client.HTTPResponse,
    policy: FetchPolicy,
    deadline: float,
    if_none_match: str | None,
) -> Fetched | str | None:
    status = response.status
    if status in REDIRECTS:
        location = (response.getheader("Location") or "").strip()
        if not location:
            raise AssetRefused(f"the site answered {status} without a Location")
        try:
            return urljoin(url, location)
        except ValueError:
            raise AssetRefused("the site redirected to an invalid address") from None
    if status == 304 and if_none_match is not None:
        return None
    if status != 200:
        raise AssetRefused(f"the site answered {status}")
    content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    if not content_type:
        raise AssetRefused("the site sent no content type")
    if content_type not in ASSET_TYPES:
        raise AssetRefused(f"{content_type} is not a stylesheet, image or font")
    too_large = AssetRefused(f"the body is larger than {policy.max_bytes} bytes")
    if response.length is not None and response.length > policy.max_bytes:
        raise too_large  # refused before a byte of the body is read
    body = bytearray()
    # One byte past the limit is enough to know the body is too large, whatever was announced.
    while len(body) <= policy.max_bytes:
        if time.monotonic() >= deadline:
            raise TimeoutError
        # read1: whatever arrived, so a body that trickles in still reaches the deadline check.
        chunk = response.read1(min(CHUNK_BYTES, policy.max_bytes + 1 - len(body)))
        if not chunk:
            break
        body += chunk
    if len(body) > policy.max_bytes:
        raise too_large
    if response.length:  # http.client counts down what Content-Length promised
        raise AssetRefused("the connection closed before the whole body arrived")
    etag = response.getheader("ETag")
    return Fetched(
        url, bytes(body), content_type, etag if etag and _is_header_value(etag) else None
    )


def _refusal(exc: Exception, policy: FetchPolicy, deadline: float) -> AssetRefused:
    if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
        return AssetRefused(f"the site took longer than {policy.timeout_seconds:g} s")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return AssetRefused(f"the site's certificate was not accepted ({exc.verify_message})")
    if isinstance(exc, ssl.SSLError):
        return AssetRefused("the TLS connection to the site failed")
    if isinstance(exc, http.client.HTTPException):
        return AssetRefused("the site's answer is not valid HTTP")
    assert isinstance(exc, OSError)
    return AssetRefused(f"the connection to the site failed ({exc.strerror or type(exc).__name__})")


def _split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, request target); ValueError with a reason for what is not fetched."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. an unclosed [IPv6] bracket
        raise ValueError("the address is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"only http and https addresses are fetched, not {scheme or 'this'}")
    if "@" in parts.netloc:  # credentials would be sent, or would hide the real host
        raise ValueError("an address with a user name or password is not fetched")
    host = parts.hostname or ""
    if not host or not host.isascii():
        raise ValueError("the address has no valid host name")
    with contextlib.suppress(ValueError):
        host = str(ipaddress.ip_address(host))  # one spelling per literal address
    try:
        port = DEFAULT_PORTS[scheme] if parts.port is None else parts.port
    except ValueError:
        raise ValueError("the address has no valid port") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, quote(target, safe=_TARGET_SAFE)


def _origin(scheme: str, host: str, port: int) -> str:
    name = f"[{host}]" if ":" in host else host
    return f"{scheme}://{name}" if port == DEFAULT_PORTS[scheme] else f"{scheme}://{name}:{port}"


def _under_wildcard(origin: str, allowed: set[str]) -> bool:
    """`https://*.example.com` (as the site's allowed origins may say) allows every
    subdomain of example.com over https, on the default port, and nothing else."""
    scheme, _, host = origin.partition("://")
    if ":" in host:  # another port, or an IPv6 literal: never under a wildcard
        return False
    for entry in allowed:
        entry_scheme, _, domain = entry.partition("://*.")
        if domain and entry_scheme == scheme and host.endswith("." + domain):
            return True
    return False


def _allowed(origins: tuple[str, ...]) -> set[str]:
    """The allowed origins, normalised; an entry that is no http(s) origin allows nothing
    (but for `scheme://*.domain`, kept as it is, lower-case)."""
    allowed = set()
    for entry in origins:
        if "://*." in entry:
            allowed.add(entry.strip().rstrip("/").lower())
            continue
        with contextlib.suppress(ValueError):
            scheme, host, port, _ = _split(entry)
            allowed.add(_origin(scheme, host, port))
    return allowed


def _checked_addresses(host: str, port: int, policy: FetchPolicy) -> list[str]:
    """The addresses to connect to; refused unless every one of them may be reached."""
    try:
        addresses = [str(ipaddress.ip_address(host))]  # a literal address needs no lookup
    except ValueError:
        try:
            addresses = list(policy.resolve(host, port))
        except (OSError, UnicodeError):
            raise AssetRefused(f"{host} could not be resolved") from None
    if not addresses:
        raise AssetRefused(f"{host} resolves to no address")
    # Every answer, not just the first: the connection may go to any of them.
    for address in addresses:
        problem = _address_problem(address, policy.allow_private_addresses)
        if problem:
            where = f"{host} is" if address == host else f"{host} resolves to {address},"
            raise AssetRefused(f"{where} {problem}")
    return addresses


def _address_problem(text: str, allow_private: bool) -> str | None:
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(text)
    except ValueError:
        return "not an IP address"
    # IPv6 forms that carry an IPv4 address reach that address: judge the IPv4 one.
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        ip = embedded or ip
    if ip.is_unspecified:  # connecting to 0.0.0.0 or :: reaches this very machine
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in METADATA_ADDRESSES:
        return "the cloud metadata address"
    if allow_private:
        return None
    for test, name in (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip in CGNAT, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    ):
        if test:
            return name
    return None


def _is_header_value(value: str) -> bool:
    return all(0x20 <= ord(c) < 0x7F for c in value)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _open_socket(addresses: list[str], port: int, deadline: float) -> socket.socket:
    """A TCP connection to the first checked address that answers; never a new DNS lookup."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=_remaining(deadline))
        except OSError as exc:
            error = exc
    raise error


class _DeadlineSocket(socket.socket):
    """Each read waits at most until the deadline, so a trickle of headers cannot outlast it."""

    deadline = math.inf

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(_remaining(self.deadline))
        return super().recv_into(buffer, nbytes, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The same for TLS (the handshake is bounded by the timeout set before it)."""

    deadline = math.inf

    def recv_into(self, buffer: WriteableBuffer, nbytes: int | None = None, flags: int = 0) -> int:
        self.settimeout(_remaining(self.deadline))
        return super().recv_into(buffer, nbytes, flags)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to addresses checked beforehand, not to whatever `host` resolves to now."""

    def __init__(self, host: str, port: int, addresses: list[str], deadline: float) -> None:
        super().__init__(host, port, timeout=_remaining(deadline))
        self._addresses, self._deadline = addresses, deadline

    def connect(self) -> None:
        raw = _open_socket(self._addresses, self.port, self._deadline)
        sock = _DeadlineSocket(raw.family, raw.type, raw.proto, raw.detach())
        sock.deadline = self._deadline
        self.sock = sock


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address; the certificate is verified against the URL's host name."""

    def __init__(self, host: str, port: int, addresses: list[str], deadline: float) -> None:
        self._tls = ssl.create_default_context()
        self._tls.sslsocket_class = _DeadlineSSLSocket
        super().__init__(host, port, timeout=_remaining(deadline), context=self._tls)
        self._addresses, self._deadline = addresses, deadline

    def connect(self) -> None:
        raw = _open_socket(self._addresses, self.port, self._deadline)
        try:
            tls = self._tls.wrap_socket(raw, server_hostname=self.host)
        finally:
            raw.close()  # detached by a successful wrap; closed here after a failed one
        cast(_DeadlineSSLSocket, tls).deadline = self._deadline
        self.sock = tls
