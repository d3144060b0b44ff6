"""A site's recording settings: what is and isn't recorded.

One declarative list (`SETTINGS`) drives validation, the API, the dashboard form and the docs
test, so a setting can't be added in one place and forgotten in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from footage.accounts.service import AccountError, origin_of
from footage.errors import BadRequest, NotFound
from footage.privacy.rules import RuleError, clean_lines, parse_networks, parse_page_patterns
from footage.store.db import Database, q
from footage.urls import split_url


@dataclass(frozen=True)
class SiteSetting:
    name: str
    kind: str  # "bool" or "lines"
    label: str
    help: str


SETTINGS: list[SiteSetting] = [
    SiteSetting(
        "recording_enabled",
        "bool",
        "Record visitors",
        "Off: the recorder on your pages sends nothing at all.",
    ),
    SiteSetting(
        "record_mobile",
        "bool",
        "Record phones and tablets",
        "Off: visitors on phones and tablets are not recorded.",
    ),
    SiteSetting(
        "record_canvas",
        "bool",
        "Record canvas pictures",
        "Charts, maps and drawings on <canvas>: copied twice a second while they change, so "
        "the replay shows them. Off: canvases replay empty. A canvas inside a "
        "data-recording-block or data-recording-ignore area is never copied.",
    ),
    SiteSetting(
        "record_forms",
        "bool",
        "Record what visitors type",
        "Off: every typed character is replaced by *, so you see that something was typed "
        "and how long it was, not what. Passwords are never recorded, whatever you choose.",
    ),
    SiteSetting(
        "record_numbers",
        "bool",
        "Record numbers",
        "Off: numbers that identify people are replaced by * in the page (phone, card, "
        "account and id numbers, any run of 7 digits or more), and every digit typed into "
        "a form; prices, quantities, dates and times stay readable.",
    ),
    SiteSetting(
        "mask_all_numbers",
        "bool",
        "Mask every number",
        "With numbers not recorded: every digit in the page is replaced by *, prices and "
        "dates included.",
    ),
    SiteSetting(
        "record_emails",
        "bool",
        "Record e-mail addresses",
        "Off: e-mail addresses in the page, in links and in form fields are replaced by *.",
    ),
    SiteSetting(
        "record_ips",
        "bool",
        "Keep visitors' IP addresses",
        "Off: the IP address is used to find the visitor's country, then dropped. "
        "On: it is stored and shown with the visitor.",
    ),
    SiteSetting(
        "excluded_pages",
        "lines",
        "Pages never recorded",
        "One per line. * matches anything: /account/* or https://shop.example.com/checkout*. "
        "Start a line with re: for a regular expression searched in the full address.",
    ),
    SiteSetting(
        "excluded_visitors",
        "lines",
        "Visitors never recorded (IP addresses)",
        "One IP address or range per line, e.g. 203.0.113.7 or 10.0.0.0/8 — your office, "
        "your own team.",
    ),
    SiteSetting(
        "respect_do_not_track",
        "bool",
        "Respect Do Not Track and Global Privacy Control",
        "On: browsers that send either signal are not recorded.",
    ),
    SiteSetting(
        "require_consent",
        "bool",
        "Wait for consent",
        "On: nothing is recorded until your page calls footage('consent', true), "
        "typically from your cookie banner.",
    ),
    SiteSetting(
        "chat_enabled",
        "bool",
        "Chat with visitors",
        "On: footage.js shows a chat button on your pages; visitors write to you and your "
        "agents answer under Conversations. The chat box itself is never recorded.",
    ),
    SiteSetting(
        "allowed_origins",
        "lines",
        "Addresses allowed to send recordings",
        "One origin per line (https://www.example.com, or https://*.example.com for every "
        "subdomain). Recordings sent from anywhere else are refused. Empty: any origin.",
    ),
]
BY_NAME = {s.name: s for s in SETTINGS}


def as_settings(site: dict[str, Any]) -> dict[str, Any]:
    """A `sites` row → the settings as the API shows them."""
    out: dict[str, Any] = {}
    for s in SETTINGS:
        value = site[s.name]
        out[s.name] = bool(value) if s.kind == "bool" else [v for v in value.splitlines() if v]
    return out


def site_of_account(db: Database, account_id: str, site_id: str) -> dict[str, Any]:
    site = db.one(
        "SELECT * FROM sites WHERE id = :s AND account_id = :a", {"s": site_id, "a": account_id}
    )
    if site is None:
        raise NotFound("no such site in this account", code="unknown_site")
    return site


def _lines(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.splitlines() if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise BadRequest(
        f"'{name}' must be a list of strings (or one string with one entry per line)",
        code="bad_setting",
    )


def normalize_origin(value: str) -> str:
    """`https://Shop.example.com/` → `https://shop.example.com`; keeps a `*.` wildcard."""
    wildcard = "://*." in value
    probe = value.replace("://*.", "://wildcard.", 1) if wildcard else value
    if split_url(probe.strip()).path not in ("", "/"):
        raise AccountError(f"an origin has no path: write {origin_of(probe)!r}, not {value!r}")
    origin = origin_of(probe)
    return origin.replace("://wildcard.", "://*.", 1) if wildcard else origin


def validate(changes: Any) -> dict[str, Any]:
    """A PATCH body → column values; raises BadRequest naming the setting to fix."""
    if not isinstance(changes, dict) or not changes:
        raise BadRequest(
            'send a JSON object with the settings to change, e.g. {"record_forms": true}',
            code="bad_setting",
        )
    columns: dict[str, Any] = {}
    for name, value in changes.items():
        setting = BY_NAME.get(name)
        if setting is None:
            raise BadRequest(
                f"unknown setting {name!r}; the settings are: {', '.join(BY_NAME)}",
                code="bad_setting",
            )
        if setting.kind == "bool":
            if not isinstance(value, bool):
                raise BadRequest(f"'{name}' must be true or false", code="bad_setting")
            columns[name] = int(value)
            continue
        lines = _lines(name, value)
        try:
            if name == "excluded_pages":
                parse_page_patterns("\n".join(lines))
            elif name == "excluded_visitors":
                parse_networks("\n".join(lines))
            elif name == "allowed_origins":
                lines = list(dict.fromkeys(normalize_origin(v) for v in lines))
        except (RuleError, AccountError) as exc:
            raise BadRequest(str(exc), code="bad_setting") from None
        columns[name] = clean_lines(lines)
    return columns


def update_settings(
    db: Database, account_id: str, site_id: str, changes: Any, now_ms: int
) -> dict[str, Any]:
    """Apply a partial update; returns the site's settings after it."""
    columns = validate(changes)
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    with db.write() as conn:
        updated = q(
            conn,
            f"UPDATE sites SET {assignments}, settings_updated_at = :now "
            "WHERE id = :site AND account_id = :account RETURNING id",
            now=now_ms,
            site=site_id,
            account=account_id,
            **columns,
        )
    if not updated:
        raise NotFound("no such site in this account", code="unknown_site")
    return as_settings(site_of_account(db, account_id, site_id))
