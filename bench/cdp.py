"""A minimal DevTools-protocol client: Chromium launched by this process with
`--remote-debugging-pipe`, spoken to over that pipe, with only the domains its caller enables.

Playwright enables the Network domain on every page it drives, so Chromium copies each request's
body into a `Network.requestWillBeSent` message, on the page's main thread, and carries it
through the browser process to the driver. A visitor's browser does none of that. A benchmark
that measures what a page that sends requests costs its visitor can drive Chromium through this
client instead: pages, script, input, metrics; no Network domain.

    with Browser(chromium, args) as browser:
        with browser.page(width, height) as page:
            page.navigate(url)                       # returns after `load`
            page.evaluate("() => document.title")
            page.mouse_move(x, y, steps=5); page.mouse_click(x, y)
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import tempfile
import threading
import time
from typing import Any

# What Playwright adds for headless Chromium that changes what a page does: no scroll bars (the
# viewport is the same width), the pointer a mouse, muted audio.
HEADLESS_ARGS = (
    "--headless",
    "--hide-scrollbars",
    "--mute-audio",
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,"
    "primaryPointerType=4,availablePointerTypes=4",
)


class CDPError(RuntimeError):
    """Chromium answered a command with an error, closed the pipe, or did not answer."""


class Browser:
    """One Chromium process and its pipe. Commands are sent from one thread at a time; a reader
    thread files the answers and the events."""

    def __init__(
        self,
        executable: str,
        args: list[str] | tuple[str, ...] = (),
        cpus: set[int] | None = None,
    ) -> None:
        self.executable = executable
        self.args = [*HEADLESS_ARGS, *args]
        self.cpus = cpus  # the cores Chromium's processes may run on (None: any)
        self.lock = threading.Condition()
        self.answers: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.next_id = 0
        self.closed = False

    def __enter__(self) -> Browser:
        self.profile = tempfile.TemporaryDirectory(prefix="footage-cdp-")
        to_chromium_r, self.to_chromium = os.pipe()
        self.from_chromium, from_chromium_w = os.pipe()

        def fds() -> None:  # in the child: Chromium reads fd 3 and writes fd 4
            read, write = os.dup(to_chromium_r), os.dup(from_chromium_w)  # above 4 both
            os.dup2(read, 3)
            os.dup2(write, 4)
            if self.cpus:
                os.sched_setaffinity(0, self.cpus)  # its child processes inherit it

        self.proc = subprocess.Popen(
            [
                self.executable,
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile.name}",
                *self.args,
                "about:blank",
            ],
            preexec_fn=fds,
            pass_fds=(3, 4),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(to_chromium_r)
        os.close(from_chromium_w)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.version = self.send("Browser.getVersion")["product"]
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(CDPError):
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chromium)
        self.profile.cleanup()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self.from_chromium, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(1 << 16)
                if not chunk:
                    break
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                with self.lock:
                    for raw in messages:
                        message = json.loads(raw)
                        if "id" in message:
                            self.answers[message["id"]] = message
                        else:
                            self.events.append(message)
                    self.lock.notify_all()
        with self.lock:
            self.closed = True
            self.lock.notify_all()

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """A command's result; CDPError when Chromium answers with an error."""
        with self.lock:
            self.next_id += 1
            ask: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
            if session:
                ask["sessionId"] = session
            os.write(self.to_chromium, json.dumps(ask).encode() + b"\0")
            deadline = time.monotonic() + timeout
            while ask["id"] not in self.answers:
                if self.closed:
                    raise CDPError(f"Chromium closed the pipe during {method}")
                if not self.lock.wait(deadline - time.monotonic()):
                    raise CDPError(f"no answer to {method} in {timeout} s")
            answer = self.answers.pop(ask["id"])
        if "error" in answer:
            raise CDPError(f"{method}: {answer['error'].get('message')}")
        return answer.get("result", {})

    def wait_event(self, method: str, session: str | None, timeout: float = 30) -> dict[str, Any]:
        """The first event of that name (on that session) not waited for before."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for n, event in enumerate(self.events):
                    if event["method"] == method and event.get("sessionId") == session:
                        del self.events[n]
                        return event.get("params", {})
                if self.closed:
                    raise CDPError(f"Chromium closed the pipe waiting for {method}")
                if not self.lock.wait(deadline - time.monotonic()):
                    raise CDPError(f"no {method} in {timeout} s")

    def start_tracing(self, categories: list[str]) -> None:
        """A browser-wide trace of these categories (as Playwright's `start_tracing`)."""
        self.send(
            "Tracing.start",
            {"transferMode": "ReturnAsStream", "traceConfig": {"includedCategories": categories}},
        )

    def stop_tracing(self) -> bytes:
        """The trace since start_tracing, as Chromium's JSON trace file."""
        self.send("Tracing.end")
        stream = self.wait_event("Tracing.tracingComplete", None)["stream"]
        parts: list[bytes] = []
        while True:
            chunk = self.send("IO.read", {"handle": stream, "size": 1 << 20})
            data = chunk.get("data", "")
            parts.append(base64.b64decode(data) if chunk.get("base64Encoded") else data.encode())
            if chunk.get("eof"):
                break
        self.send("IO.close", {"handle": stream})
        return b"".join(parts)

    def page(self, width: int, height: int, init_script: str = "", network: bool = False) -> Page:
        """A page in a browser context of its own (empty storage: a new visitor). With
        `network`, the page's Network domain is enabled as Playwright does (no size limit on
        the request bodies copied into its events), to measure what that costs."""
        return Page(self, width, height, init_script, network)


class Page:
    """A page target in its own browser context, attached with a flat session. Enabled: Page
    (navigation), Runtime (through `evaluate`), Emulation (the viewport); Network only when
    asked for."""

    def __init__(
        self, browser: Browser, width: int, height: int, init_script: str, network: bool
    ) -> None:
        self.browser = browser
        self.network = network
        self.width, self.height = width, height
        self.init_script = init_script
        self.mouse = (0.0, 0.0)

    def __enter__(self) -> Page:
        b = self.browser
        self.context = b.send("Target.createBrowserContext", {"disposeOnDetach": True})[
            "browserContextId"
        ]
        self.target = b.send(
            "Target.createTarget", {"url": "about:blank", "browserContextId": self.context}
        )["targetId"]
        self.session = b.send("Target.attachToTarget", {"targetId": self.target, "flatten": True})[
            "sessionId"
        ]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": self.width,
                "height": self.height,
                "deviceScaleFactor": 1,
                "mobile": False,
                "screenWidth": self.width,
                "screenHeight": self.height,
            },
        )
        self.send("Page.enable")
        if self.network:
            self.send("Network.enable")
        if self.init_script:
            self.send("Page.addScriptToEvaluateOnNewDocument", {"source": self.init_script})
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(CDPError):
            self.browser.send("Target.disposeBrowserContext", {"browserContextId": self.context})
        with self.browser.lock:  # what this page and its workers said, nobody waited for
            self.browser.events = [
                e
                for e in self.browser.events
                if e.get("sessionId") is None and not e["method"].startswith("Target.")
            ]

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def navigate(self, url: str, timeout: float = 30) -> None:
        """Goes to url and returns after its `load` event."""
        with self.browser.lock:  # a `load` of the blank page the target opened with
            self.browser.events = [
                e
                for e in self.browser.events
                if not (e.get("sessionId") == self.session and e["method"] == "Page.loadEventFired")
            ]
        answer = self.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise CDPError(f"navigating to {url}: {answer['errorText']}")
        deadline = time.monotonic() + timeout
        while True:
            self.browser.wait_event(
                "Page.loadEventFired", self.session, max(0.1, deadline - time.monotonic())
            )
            if self.evaluate("() => document.readyState === 'complete' && location.href") == url:
                return

    def evaluate(self, function: str, timeout: float = 30) -> Any:
        """Calls a JavaScript function (source text, no arguments) in the page, awaits what it
        returns, and gives its value as JSON."""
        answer = self.browser.send(
            "Runtime.evaluate",
            {"expression": f"({function})()", "awaitPromise": True, "returnByValue": True},
            self.session,
            timeout,
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"the page threw: {text}")
        return answer["result"].get("value")

    def mouse_move(self, x: float, y: float, steps: int = 1) -> None:
        """Moves the mouse from where it is in `steps` equal moves, each dispatched and
        answered before the next (as Playwright's `mouse.move`)."""
        x0, y0 = self.mouse
        for step in range(1, steps + 1):
            at = (x0 + (x - x0) * step / steps, y0 + (y - y0) * step / steps)
            self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": at[0], "y": at[1]})
        self.mouse = (x, y)

    def mouse_click(self) -> None:
        """Presses and releases the left button where the mouse is."""
        x, y = self.mouse
        for kind, buttons in (("mousePressed", 1), ("mouseReleased", 0)):
            self.send(
                "Input.dispatchMouseEvent",
                {
                    "type": kind,
                    "x": x,
                    "y": y,
                    "button": "left",
                    "buttons": buttons,
                    "clickCount": 1,
                },
            )
