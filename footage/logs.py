"""Secrets never reach the logs.

A share link is its token (`/share/<token>`), an API token (`ft_…`) or a chat visitor's secret
(`fc_…`) is a key to an account's recordings or a conversation: whoever reads the logs (an
operator, a log service, a backup) must not be able to use them. uvicorn's access log prints
every request's path and query, so the tokens in them are replaced by `[redacted]` before
any handler formats the line. Footage never logs request headers (`Authorization`, `Cookie`);
a `Bearer …` value in a message is redacted all the same.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# `/share/<token>` and `/share/<token>/events.json`: the token is the path segment.
_SHARE = re.compile(r"(/share/)[^/?#\s\"']+")
# Query values whose name says they are secret: ?token=…, &api_token=…, ?secret=…
_QUERY = re.compile(r"([?&](?:[A-Za-z0-9_]*token|secret|password|key)=)[^&#\s\"']*", re.I)
# API tokens and chat visitor secrets wherever they appear (43 characters after the prefix).
_SECRETS = re.compile(r"\b(ft_|fc_)[A-Za-z0-9_-]{20,}")
_BEARER = re.compile(r"(Bearer\s+)[^\s\"',;]+", re.I)


def redact(text: str) -> str:
    """`text` with every share token, secret query value, API token and Bearer value replaced."""
    if "/share/" in text:
        text = _SHARE.sub(r"\1" + REDACTED, text)
    if "=" in text:
        text = _QUERY.sub(r"\1" + REDACTED, text)
    if "_" in text:
        text = _SECRETS.sub(r"\1" + REDACTED, text)
    if "earer" in text:
        text = _BEARER.sub(r"\1" + REDACTED, text)
    return text


def _clean(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and arguments in place. uvicorn's access formatter unpacks
    the arguments (client, method, path, version, status), so their shape is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return True


# uvicorn replaces these loggers' handlers when it starts (its dictConfig), but keeps filters
# set on the loggers themselves; they do not propagate to the root logger.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def install() -> None:
    """Puts the filter on uvicorn's loggers and on every handler of the root logger (which
    receives Footage's own loggers). Safe to call more than once."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in SERVER_LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())
