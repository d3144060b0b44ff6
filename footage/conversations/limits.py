"""Limits on the visitor's chat: how many conversations and messages a client may start.

Anyone with a site's public key can write to its chat, and a script can make up a new visitor
id for every message, so the limits are per client address and per site, not per visitor id:

- `chat_ip_messages` messages a minute per address and site (a person typing never gets near);
- `chat_ip_new_conversations` new conversations an hour per address and site;
- `chat_site_new_conversations` new conversations an hour per site, so a site's inbox fills
  at a pace its agents can follow even when many addresses take part.

They are token buckets in process memory (footage/ingest/limits.py's `TokenBuckets`: bounded,
a forgotten bucket starts full), so with N server processes a client may do N times as much.
They are keyed by the site key the request names and taken before the database is asked
anything, so a refused request costs no query. Over a limit: 429 with `Retry-After`
and a message the chat box shows as it is.

The address's buckets are taken before the site's, so one address refused by its own limit
never uses up the site's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from footage.ratelimit import TokenBuckets, TooManyRequests

HOUR = 3600.0
MINUTE = 60.0
# Waiting long-polls one address may hold open at once (a visitor with several tabs open; a
# few visitors behind one network address). Each checks the database twice a second.
MAX_POLLS_PER_ADDRESS = 20


def wait_words(seconds: int) -> str:
    """`1 second`, `40 seconds`, `6 minutes`: a wait as the chat box says it."""
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


def _retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))


def _buckets(per_window: int, window: float, clock: Callable[[], float]) -> TokenBuckets:
    """`per_window` tokens, refilled evenly over `window` seconds; 0 switches it off."""
    return TokenBuckets(per_window / window, max(1, per_window), clock)


class ChatLimits:
    """The chat's three rate limits and the count of waiting polls, for one server process.
    Used from the event loop only (like TokenBuckets)."""

    def __init__(
        self,
        ip_new_conversations: int,
        site_new_conversations: int,
        ip_messages: int,
        clock: Callable[[], float],
        max_polls_per_address: int = MAX_POLLS_PER_ADDRESS,
    ) -> None:
        self.ip_conversations = _buckets(ip_new_conversations, HOUR, clock)
        self.site_conversations = _buckets(site_new_conversations, HOUR, clock)
        self.ip_messages = _buckets(ip_messages, MINUTE, clock)
        self.max_polls = max_polls_per_address
        self.polls: dict[str, int] = {}  # address → waiting polls (no entry at 0)

    @staticmethod
    def _key(ip: str | None, site_key: str) -> str:
        return f"{site_key} {ip or ''}"

    def message(self, ip: str | None, site_key: str) -> None:
        """One message from `ip` to the site (the first of a conversation too)."""
        wait = self.ip_messages.take(self._key(ip, site_key))
        if wait:
            seconds = _retry_after(wait)
            raise TooManyRequests(
                f"You are sending messages too fast; wait {wait_words(seconds)} and send it again.",
                seconds,
                code="too_many_messages",
            )

    def new_conversation(self, ip: str | None, site_key: str) -> None:
        """A conversation started from `ip` on the site: the address's limit, then the site's."""
        wait = self.ip_conversations.take(self._key(ip, site_key))
        if wait:
            seconds = _retry_after(wait)
            raise TooManyRequests(
                "Too many new conversations were started from your network; wait "
                f"{wait_words(seconds)} and try again.",
                seconds,
                code="too_many_conversations",
            )
        wait = self.site_conversations.take(site_key)
        if wait:
            seconds = _retry_after(wait)
            raise TooManyRequests(
                "This site is receiving more new conversations than it can answer right now; "
                f"wait {wait_words(seconds)} and try again.",
                seconds,
                code="site_busy",
            )

    def poll_started(self, ip: str | None) -> None:
        """A long-poll begins waiting; `poll_ended` must follow (in a finally)."""
        key = ip or ""
        if self.polls.get(key, 0) >= self.max_polls:
            raise TooManyRequests(
                f"More than {self.max_polls} chat windows are waiting for messages from your "
                "network; close some and try again.",
                5,
                code="too_many_polls",
            )
        self.polls[key] = self.polls.get(key, 0) + 1

    def poll_ended(self, ip: str | None) -> None:
        key = ip or ""
        left = self.polls.get(key, 0) - 1
        if left > 0:
            self.polls[key] = left
        else:
            self.polls.pop(key, None)
