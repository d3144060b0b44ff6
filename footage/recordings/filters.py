"""Filters for the recordings list: one declarative list drives parsing, SQL, the API's
OpenAPI parameters and the dashboard's empty state ("which filter removed the most").

Every filter is a query parameter; they combine with AND. The SQL works on SQLite and
PostgreSQL alike: what differs is spelled by the database's dialect (store/dialect.py).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from footage.errors import BadRequest, NotFound
from footage.signals import BY_KIND, SIGNALS, Signal
from footage.store.db import Database
from footage.store.dialect import Dialect
from footage.store.ipkey import ip_range
from footage.store.regex import PatternError, compile_pattern

Clause = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Filter:
    name: str
    kind: str  # int | bool | text | choice | time
    label: str
    help: str
    choices: tuple[str, ...] = ()


def _signal_filter(signal: Signal) -> Filter:
    return Filter(signal.filter, "bool", signal.plural, signal.filter_help)


FILTERS: list[Filter] = [
    Filter("site_id", "text", "Site", "Only recordings of this site (its id)."),
    Filter("from", "time", "From", "Started at or after (ISO 8601, e.g. 2026-11-20T00:00:00Z)."),
    Filter("to", "time", "To", "Started before (ISO 8601; a date alone: through that day)."),
    Filter("min_duration_ms", "int", "Shortest", "Lasted at least this many milliseconds."),
    Filter("max_duration_ms", "int", "Longest", "Lasted at most this many milliseconds."),
    Filter("min_active_ms", "int", "Least active", "Active (input) time of at least this."),
    Filter("max_active_ms", "int", "Most active", "Active (input) time of at most this."),
    Filter("url", "text", "Visited page", "A page visited during the recording (see url_match)."),
    Filter(
        "url_match",
        "choice",
        "Page match",
        "How `url` matches: contains (default, any case), equals, or regex (RE2 syntax: no "
        "lookaround or backreferences).",
        ("contains", "equals", "regex"),
    ),
    Filter("entry_url", "text", "Entry page", "The first page's address contains this."),
    Filter("exit_url", "text", "Exit page", "The last page's address contains this."),
    Filter("min_pages", "int", "Fewest pages", "At least this many page views."),
    Filter("max_pages", "int", "Most pages", "At most this many page views."),
    Filter("device", "choice", "Device", "Device type.", ("desktop", "mobile", "tablet", "bot")),
    Filter("browser", "text", "Browser", "Browser family, e.g. Chrome, Safari, Firefox."),
    Filter(
        "os", "text", "OS", "Operating system as recorded: Windows, Mac OS X, iOS, Android, Linux …"
    ),
    Filter(
        "screen",
        "choice",
        "Screen",
        "Screen width: small (< 768 px), medium (768–1279 px), large (≥ 1280 px).",
        ("small", "medium", "large"),
    ),
    Filter("country", "text", "Country", "ISO 3166 country code, e.g. DE (several: DE,AT,CH)."),
    Filter("referrer", "text", "Referrer", "The referring address contains this."),
    Filter("utm_source", "text", "UTM source", "utm_source equals this."),
    Filter("utm_medium", "text", "UTM medium", "utm_medium equals this."),
    Filter("utm_campaign", "text", "UTM campaign", "utm_campaign equals this."),
    Filter("min_clicks", "int", "Clicks", "At least this many clicks."),
    # Rage clicks stand with the clicks (the summary counts them); the signals the analysis
    # finds come after the errors.
    _signal_filter(BY_KIND["rage_click"]),
    Filter("has_errors", "bool", "JavaScript errors", "true: with JavaScript errors."),
    *(_signal_filter(s) for s in SIGNALS if s.kind != "rage_click"),
    Filter("has_conversation", "bool", "Conversation", "true: the visitor chatted."),
    Filter(
        "visitor_id",
        "text",
        "Visitor id",
        "The visitor's id (exact), or the id your site gave with footage('identify', …).",
    ),
    Filter("visitor_name", "text", "Visitor name", "The visitor's name contains this."),
    Filter("visitor_email", "text", "Visitor e-mail", "The visitor's e-mail contains this."),
    Filter(
        "visitor_ip",
        "text",
        "Visitor IP",
        "An IP address or a CIDR range (only sites that keep IPs have them).",
    ),
    Filter(
        "visitor_type",
        "choice",
        "New or returning",
        "new: the visitor's first recording; returning: seen before.",
        ("new", "returning"),
    ),
    Filter("event", "text", "Custom event", "Has this custom event (footage('event', name))."),
    Filter("event_property", "text", "Event property", "With `event`: this property …"),
    Filter("event_value", "text", "Event value", "… equals this value."),
]
BY_NAME = {f.name: f for f in FILTERS}
SORTS = {
    "newest": ("started_at", "DESC"),
    "oldest": ("started_at", "ASC"),
    "longest": ("duration_ms", "DESC"),
    "most_active": ("active_ms", "DESC"),
}
PAGING = ("sort", "cursor", "limit")
# The dashboard's duration fields, written as people write durations (`20s`, `2m`, `1h30m`;
# a plain number is seconds): each sets the millisecond filter the API takes.
HUMAN_DURATIONS = {
    "min_duration": "min_duration_ms",
    "max_duration": "max_duration_ms",
    "min_active": "min_active_ms",
    "max_active": "max_active_ms",
}
_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(hours?|h|minutes?|mins?|ms|m|seconds?|secs?|s)", re.I
)
_UNIT_MS = {"h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
MAX_TEXT = 500
# The largest whole number a filter takes: what a 4-byte integer column holds on PostgreSQL
# (24 days in milliseconds; more pages or clicks than any recording has). A larger one is
# refused with this range instead of reaching the database, which cannot compare it.
MAX_INT = 2_147_483_647
_WHOLE_NUMBER = re.compile(r"[0-9]{1,10}")
_PROPERTY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def parse_time(name: str, value: str) -> int:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"'{name}' must be a date and time in ISO 8601, e.g. 2026-11-20T00:00:00Z",
            code="bad_filter",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_duration(name: str, value: str) -> int:
    """`20s`, `2m`, `1h30m`, `1.5 min`, `90` (seconds) → milliseconds."""
    text = value.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        text += "s"
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise BadRequest(
            f"'{name}' must be a duration such as 20s, 2m or 1h30m (a number alone is seconds)",
            code="bad_filter",
        )
    ms = sum(float(n) * _UNIT_MS["ms" if u == "ms" else u[0]] for n, u in parts)
    if ms > MAX_INT:
        raise BadRequest(f"'{name}' must be at most 24 days", code="bad_filter")
    return int(ms)


def human_duration(ms: int) -> str:
    """`1h30m`, `2m`, `20s`: the dashboard's way of writing a duration filter."""
    seconds, rest = divmod(ms, 1000)
    if rest:
        return f"{ms}ms"
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{seconds}s" if seconds or not text else "")


def parse(
    params: Mapping[str, str], *, strict: bool = True, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    """Query parameters → typed filter values; raises BadRequest naming the one to fix.

    With `errors` (the dashboard's form), a field that cannot be read is left out and its
    message goes there under the field's name, so the list keeps the other filters."""
    values: dict[str, Any] = {}
    for name, raw in params.items():
        try:
            _parse_one(values, name, raw, strict)
        except BadRequest as exc:
            if errors is None:
                raise
            errors[name] = exc.message
    _check_combinations(values)
    return values


def _parse_one(values: dict[str, Any], name: str, raw: str, strict: bool) -> None:
    if name in HUMAN_DURATIONS:
        if raw.strip():
            values[HUMAN_DURATIONS[name]] = parse_duration(name, raw)
        return
    f = BY_NAME.get(name)
    if f is None:
        if strict and name not in PAGING:
            raise BadRequest(
                f"unknown parameter {name!r}; the filters are: {', '.join(BY_NAME)}",
                code="bad_filter",
            )
        return
    raw = raw.strip()
    if raw == "":
        return  # an empty form field means "any"
    if len(raw) > MAX_TEXT:
        raise BadRequest(f"'{name}' is longer than {MAX_TEXT} characters", code="bad_filter")
    if f.kind == "int":
        # ASCII digits only: str.isdigit() also takes '²', which int() then refuses.
        if not _WHOLE_NUMBER.fullmatch(raw) or int(raw) > MAX_INT:
            raise BadRequest(
                f"'{name}' must be a whole number from 0 to {MAX_INT}", code="bad_filter"
            )
        values[name] = int(raw)
    elif f.kind == "bool":
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise BadRequest(f"'{name}' must be true or false", code="bad_filter")
        values[name] = raw.lower() in ("true", "1", "yes")
    elif f.kind == "choice":
        if raw.lower() not in f.choices:
            raise BadRequest(f"'{name}' must be one of: {', '.join(f.choices)}", code="bad_filter")
        values[name] = raw.lower()
    elif f.kind == "time":
        values[name] = parse_time(name, raw)
        if name == "to" and len(raw) == 10:  # a date alone: up to the end of that day
            values[name] += 86_400_000
    else:
        values[name] = raw


def _check_combinations(values: dict[str, Any]) -> None:
    if values.get("url_match") == "regex" and "url" in values:
        # RE2 on both databases' behalf: the SQLite REGEXP function runs it, and PostgreSQL's
        # own `~` is given only patterns RE2 accepts, so both take the same syntax.
        try:
            compile_pattern(values["url"])
        except PatternError as exc:
            raise BadRequest(f"'url': {exc}", code="bad_filter") from None
    if "visitor_ip" in values:
        try:
            ipaddress.ip_network(values["visitor_ip"], strict=False)
        except ValueError:
            raise BadRequest(
                "'visitor_ip' must be an IP address or a range like 203.0.113.0/24",
                code="bad_filter",
            ) from None
    if ("event_property" in values or "event_value" in values) and "event" not in values:
        raise BadRequest("'event_property' and 'event_value' need 'event'", code="bad_filter")
    if ("event_property" in values) != ("event_value" in values):
        raise BadRequest("send 'event_property' and 'event_value' together", code="bad_filter")
    if "event_property" in values and not _PROPERTY.match(values["event_property"]):
        raise BadRequest(
            "'event_property' is a property name: letters, digits, '_' or '-'",
            code="bad_filter",
        )


def check_sites(db: Database, account_id: str, values: dict[str, Any]) -> None:
    """A `site_id` filter must name one of the account's sites: another account's site is
    unknown here (404), and no query runs against it — not even an empty one, whose time
    would tell what that site recorded."""
    site_id = values.get("site_id")
    if site_id is None:
        return
    own = db.one(
        "SELECT 1 AS x FROM sites WHERE id = :s AND account_id = :a",
        {"s": site_id, "a": account_id},
    )
    if own is None:
        raise NotFound("no such site in this account (the 'site_id' filter)", code="unknown_site")


# ---- SQL ------------------------------------------------------------------------------------


def _like(value: str) -> str:
    """A LIKE pattern that finds `value` anywhere, with its own % and _ taken literally."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


Builder = Callable[[dict[str, Any], Dialect], Clause | None]


def _eq(column: str, name: str) -> Builder:
    return lambda v, _: (f"{column} = :{name}", {name: v[name]})


def _cmp(column: str, op: str, name: str) -> Builder:
    return lambda v, _: (f"{column} {op} :{name}", {name: v[name]})


def _contains(column: str, name: str) -> Builder:
    return lambda v, sql: (sql.contains(column, name), {name: _like(v[name])})


def _sites(v: dict[str, Any]) -> str:
    """The sites a sub-select may look at: the one filtered on, or the account's."""
    if "site_id" in v:
        return ":site_id"
    return "SELECT id FROM sites WHERE account_id = :account"


def _visited(v: dict[str, Any], sql: Dialect) -> Clause:
    how = v.get("url_match", "contains")
    if how == "equals":
        cond, value = "p.url = :url", v["url"]
    elif how == "regex":
        cond, value = sql.regex("p.url", "url"), v["url"]
    else:
        cond, value = sql.contains("p.url", "url"), _like(v["url"])
    # One pass over the site's pages (index site_id, url), not a probe per recording: a
    # page nobody visited is then found absent at once.
    return (
        f"{sql.unindexed('r.id')} IN (SELECT p.recording_id FROM recording_pages p "
        f"WHERE p.site_id IN ({_sites(v)}) AND {cond})",
        {"url": value},
    )


def _country(v: dict[str, Any], _: Dialect) -> Clause:
    codes = [c.strip().upper() for c in v["country"].split(",") if c.strip()]
    names = {f"country{i}": c for i, c in enumerate(codes)}
    return f"r.country IN ({', '.join(':' + n for n in names)})", names


def _screen(v: dict[str, Any], _: Dialect) -> Clause:
    return {
        "small": ("r.screen_width < 768", {}),
        "medium": ("r.screen_width >= 768 AND r.screen_width < 1280", {}),
        "large": ("r.screen_width >= 1280", {}),
    }[v["screen"]]


def _flag(column: str, name: str) -> Builder:
    return lambda v, _: (f"{column} > 0" if v[name] else f"COALESCE({column}, 0) = 0", {})


def _conversation(v: dict[str, Any], _: Dialect) -> Clause:
    return (
        "r.conversation_id IS NOT NULL" if v["has_conversation"] else "r.conversation_id IS NULL",
        {},
    )


def _visitor_id(v: dict[str, Any], _: Dialect) -> Clause:
    # The browser's id, or the site's own id from footage('identify'): both become a list of
    # visitor ids first, so the recordings' index on visitor_id does the rest.
    return (
        "r.visitor_id IN (SELECT :visitor_id UNION ALL SELECT vx.id FROM visitors vx "
        f"WHERE vx.external_id = :visitor_id AND vx.site_id IN ({_sites(v)}))",
        {"visitor_id": v["visitor_id"]},
    )


def _visitor_text(column: str, name: str) -> Builder:
    def build(v: dict[str, Any], sql: Dialect) -> Clause:
        return (
            f"r.visitor_id IN (SELECT vx.id FROM visitors vx WHERE vx.site_id IN "
            f"({_sites(v)}) AND {sql.contains('vx.' + column, name)})",
            {name: _like(v[name])},
        )

    return build


def _visitor_ip(v: dict[str, Any], _: Dialect) -> Clause:
    # An address or a range, as a range of sortable keys (store/ipkey.py): one index range
    # on (site_id, ip_key) on both databases, and `::ffff:1.2.3.4` finds 1.2.3.4.
    low, high = ip_range(v["visitor_ip"])
    if low == high:
        return "r.ip_key = :ip_low", {"ip_low": low}
    return "r.ip_key BETWEEN :ip_low AND :ip_high", {"ip_low": low, "ip_high": high}


def _visitor_type(v: dict[str, Any], _: Dialect) -> Clause:
    if v["visitor_type"] == "returning":
        return "r.returning_visitor = 1", {}
    return "COALESCE(r.returning_visitor, 0) = 0", {}


def _event(v: dict[str, Any], sql: Dialect) -> Clause:
    # The site's events of that name (index site_id, kind, name, recording_id), read once;
    # a property value is then tested on those alone, not on the account's.
    cond = f"m.site_id IN ({_sites(v)}) AND m.kind = 'event' AND m.name = :event"
    params: dict[str, Any] = {"event": v["event"]}
    if "event_property" in v:
        cond += f" AND {sql.json_text('m.detail', 'event_property')} = :event_value"
        params.update(event_property=v["event_property"], event_value=v["event_value"])
    return f"r.id IN (SELECT m.recording_id FROM recording_moments m WHERE {cond})", params


BUILDERS: dict[str, Builder] = {
    "site_id": _eq("r.site_id", "site_id"),
    "from": _cmp("r.started_at", ">=", "from"),
    "to": _cmp("r.started_at", "<", "to"),
    "min_duration_ms": _cmp("r.duration_ms", ">=", "min_duration_ms"),
    "max_duration_ms": _cmp("r.duration_ms", "<=", "max_duration_ms"),
    "min_active_ms": _cmp("r.active_ms", ">=", "min_active_ms"),
    "max_active_ms": _cmp("r.active_ms", "<=", "max_active_ms"),
    "url": _visited,
    "entry_url": _contains("r.entry_url", "entry_url"),
    "exit_url": _contains("r.exit_url", "exit_url"),
    "min_pages": _cmp("r.page_count", ">=", "min_pages"),
    "max_pages": _cmp("r.page_count", "<=", "max_pages"),
    "device": _eq("r.device", "device"),
    "browser": _eq("r.browser", "browser"),
    "os": _eq("r.os", "os"),
    "screen": _screen,
    "country": _country,
    "referrer": _contains("r.referrer", "referrer"),
    "utm_source": _eq("r.utm_source", "utm_source"),
    "utm_medium": _eq("r.utm_medium", "utm_medium"),
    "utm_campaign": _eq("r.utm_campaign", "utm_campaign"),
    "min_clicks": _cmp("r.click_count", ">=", "min_clicks"),
    "has_errors": _flag("r.error_count", "has_errors"),
    **{s.filter: _flag(f"r.{s.count_column}", s.filter) for s in SIGNALS},
    "has_conversation": _conversation,
    "visitor_id": _visitor_id,
    "visitor_name": _visitor_text("name", "visitor_name"),
    "visitor_email": _visitor_text("email", "visitor_email"),
    "visitor_ip": _visitor_ip,
    "visitor_type": _visitor_type,
    "event": _event,
}
# Parameters that only qualify another filter.
MODIFIERS = {"url_match": "url", "event_property": "event", "event_value": "event"}


def clauses(db: Database, values: dict[str, Any]) -> list[tuple[str, Clause]]:
    """(filter name, (SQL condition, params)) for every filter given."""
    sql = db.dialect
    out: list[tuple[str, Clause]] = []
    for name, value in values.items():
        builder = BUILDERS.get(name)
        if builder is not None and value is not None:
            clause = builder(values, sql)
            if clause is not None:
                out.append((name, clause))
    return out


def without(values: dict[str, Any], name: str) -> dict[str, Any]:
    """The filters with one removed (and whatever only qualified it)."""
    return {k: v for k, v in values.items() if k != name and MODIFIERS.get(k) != name}


def describe(values: dict[str, Any], name: str) -> str:
    """`Country: DE` — a filter as the empty state names it."""
    f = BY_NAME[name]
    value = values[name]
    if f.kind == "bool":
        return f"{f.label}: {'yes' if value else 'no'}"
    if f.kind == "time":
        return f"{f.label}: {datetime.fromtimestamp(value / 1000, tz=UTC):%Y-%m-%d %H:%M} UTC"
    if name in HUMAN_DURATIONS.values():
        return f"{f.label}: {human_duration(value)}"
    return f"{f.label}: {value}"


def openapi_parameters() -> list[dict[str, Any]]:
    """The filters as OpenAPI query parameters (the endpoint reads them from the query)."""
    types: dict[str, dict[str, Any]] = {
        "int": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
        "bool": {"type": "boolean"},
        "time": {"type": "string", "format": "date-time"},
        "text": {"type": "string"},
    }
    params = []
    for f in FILTERS:
        schema: dict[str, Any] = (
            {"type": "string", "enum": list(f.choices)} if f.kind == "choice" else types[f.kind]
        )
        params.append(
            {
                "name": f.name,
                "in": "query",
                "required": False,
                "description": f.help,
                "schema": schema,
            }
        )
    for name, target in HUMAN_DURATIONS.items():
        params.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": f"`{target}` written as 20s, 2m or 1h30m (a number alone is "
                "seconds).",
                "schema": {"type": "string"},
            }
        )
    return params
