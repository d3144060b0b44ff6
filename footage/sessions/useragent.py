"""Device type, browser and OS from a User-Agent header."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

_TABLET = re.compile(r"iPad|Tablet|PlayBook|Silk|Kindle|(Android(?!.*Mobile))", re.I)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Windows Phone|Opera Mini", re.I)
_BOT = re.compile(r"bot|crawl|spider|slurp|Headless", re.I)


@dataclass(frozen=True)
class Agent:
    device: str  # desktop, mobile, tablet or bot
    browser: str
    os: str


@lru_cache(maxsize=4096)
def parse_agent(user_agent: str | None) -> Agent:
    ua = user_agent or ""
    result = parse(ua)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_name = result.os.family if result.os else "Other"
    if _BOT.search(ua) and "HeadlessChrome" not in ua:
        device = "bot"
    elif _TABLET.search(ua):
        device = "tablet"
    elif _MOBILE.search(ua):
        device = "mobile"
    else:
        device = "desktop"
    browser = browser.replace("HeadlessChrome", "Chrome").replace("Mobile Safari", "Safari")
    return Agent(device, browser or "Other", os_name or "Other")
