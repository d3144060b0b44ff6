"""Creating and looking up accounts, users, sites and API tokens."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from footage.accounts.passwords import hash_password, new_secret, secret_hash
from footage.accounts.plans import DEFAULT_PLANS, PlanError, Plans
from footage.accounts.usage import TimeZoneError, check_time_zone
from footage.clock import Clock
from footage.store.db import Database, new_id, q

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """Input for an account, user or site that cannot be used; the message says why."""


@dataclass(frozen=True)
class NewAccount:
    account_id: str
    user_id: str
    site_id: str
    site_key: str
    api_token: str

    def as_dict(self) -> dict[str, str]:
        return {
            "account_id": self.account_id,
            "user_id": self.user_id,
            "site_id": self.site_id,
            "site_key": self.site_key,
            "api_token": self.api_token,
        }


def origin_of(url: str) -> str:
    """`https://shop.example:8443/x` → `https://shop.example:8443`; raises on a non-URL."""
    wrong = AccountError(f"site URL must look like https://www.example.com, not {url!r}")
    try:  # an unclosed [IPv6] bracket, a port that is not a number from 0 to 65535
        parts = urlsplit(url.strip())
        hostname, port_number = parts.hostname, parts.port
    except ValueError:
        raise wrong from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise wrong
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{port_number}" if port_number and port_number != default_port else ""
    return f"{parts.scheme}://{hostname.lower()}{port}"


def create_account(
    db: Database,
    clock: Clock,
    *,
    name: str,
    plan: str,
    email: str,
    password: str,
    site_url: str = "",
    site_name: str = "",
    is_demo: bool = False,
    plans: Plans = DEFAULT_PLANS,
) -> NewAccount:
    """Create an account with its owner, a first site and an API token."""
    try:
        plans.get(plan)
    except PlanError as exc:
        raise AccountError(str(exc)) from None
    if not name.strip():
        raise AccountError("account name must not be empty")
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not an e-mail address")
    if len(password) < 8:
        raise AccountError("password must be at least 8 characters long")
    origins = origin_of(site_url) if site_url else ""
    now = clock.now_ms()
    account_id, user_id, site_id = new_id("acc"), new_id("usr"), new_id("site")
    site_key = "s_" + secrets.token_urlsafe(15)
    token = new_secret("ft")
    with db.write() as conn:
        if q(conn, "SELECT 1 FROM users WHERE email = :e", e=email.lower()):
            raise AccountError(f"a user with e-mail {email} already exists")
        q(
            conn,
            "INSERT INTO accounts (id, name, plan, created_at) VALUES (:id, :n, :p, :t)",
            id=account_id,
            n=name.strip(),
            p=plan,
            t=now,
        )
        q(
            conn,
            "INSERT INTO users (id, account_id, email, password_hash, role, created_at) "
            "VALUES (:id, :a, :e, :h, 'owner', :t)",
            id=user_id,
            a=account_id,
            e=email.lower(),
            h=hash_password(password),
            t=now,
        )
        q(
            conn,
            "INSERT INTO sites (id, account_id, name, url, site_key, allowed_origins, "
            "recording_enabled, is_demo, created_at) "
            "VALUES (:id, :a, :n, :u, :k, :o, 1, :demo, :t)",
            id=site_id,
            a=account_id,
            n=site_name or (urlsplit(site_url).hostname if site_url else name.strip()),
            u=site_url,
            k=site_key,
            o=origins,
            demo=int(is_demo),
            t=now,
        )
        _insert_token(conn, account_id, token, "default", now)
    return NewAccount(account_id, user_id, site_id, site_key, token)


def _insert_token(conn: Connection, account_id: str, token: str, name: str, now: int) -> None:
    q(
        conn,
        "INSERT INTO api_tokens (id, account_id, token_hash, name, created_at) "
        "VALUES (:id, :a, :h, :n, :t)",
        id=new_id("tok"),
        a=account_id,
        h=secret_hash(token),
        n=name,
        t=now,
    )


def account_for_token(db: Database, token: str, now_ms: int = 0) -> dict[str, Any] | None:
    """The account of a valid (not revoked) API token; notes when the token was last used."""
    row = db.one(
        "SELECT a.*, t.id AS token_id, t.last_used_at AS token_last_used_at "
        "FROM api_tokens t JOIN accounts a ON a.id = t.account_id "
        "WHERE t.token_hash = :h AND t.revoked_at IS NULL",
        {"h": secret_hash(token)},
    )
    if row is None:
        return None
    # At most one write a minute per token: reads stay reads.
    if now_ms and (row["token_last_used_at"] or 0) < now_ms - 60_000:
        db.run(
            "UPDATE api_tokens SET last_used_at = :now WHERE id = :t",
            {"now": now_ms, "t": row["token_id"]},
        )
    return row


def site_by_key(db: Database, site_key: str) -> dict[str, Any] | None:
    return db.one(
        "SELECT s.*, a.plan, a.time_zone FROM sites s JOIN accounts a ON a.id = s.account_id "
        "WHERE s.site_key = :k",
        {"k": site_key},
    )


def sites_of(db: Database, account_id: str) -> list[dict[str, Any]]:
    return db.all(
        "SELECT * FROM sites WHERE account_id = :a ORDER BY created_at", {"a": account_id}
    )


def demo_site(db: Database) -> dict[str, Any] | None:
    return db.one("SELECT * FROM sites WHERE is_demo = 1 ORDER BY created_at LIMIT 1")


def find_account(db: Database, ref: str) -> dict[str, Any] | None:
    """An account by its id, or by the e-mail of one of its users."""
    account = db.one("SELECT * FROM accounts WHERE id = :r", {"r": ref})
    if account is None:
        account = db.one(
            "SELECT a.* FROM accounts a JOIN users u ON u.account_id = a.id WHERE u.email = :e",
            {"e": ref.strip().lower()},
        )
    return account


def update_account(
    db: Database,
    plans: Plans,
    account_id: str,
    *,
    plan: str | None = None,
    time_zone: str | None = None,
) -> dict[str, Any]:
    """Change the plan (at once: remaining = new limit − used this month) or the time zone."""
    changes: dict[str, Any] = {}
    if plan is not None:
        try:
            changes["plan"] = plans.get(plan).name
        except PlanError as exc:
            raise AccountError(str(exc)) from None
    if time_zone is not None:
        try:
            changes["time_zone"] = check_time_zone(time_zone)
        except TimeZoneError as exc:
            raise AccountError(str(exc)) from None
    if changes:
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        db.run(f"UPDATE accounts SET {assignments} WHERE id = :id", {"id": account_id, **changes})
    account = db.one("SELECT * FROM accounts WHERE id = :id", {"id": account_id})
    if account is None:
        raise AccountError(f"no account {account_id!r}")
    return account


def add_user(
    db: Database, clock: Clock, account_id: str, *, email: str, password: str, role: str
) -> str:
    """Add a user to an account: another `owner`, or an `agent` (chats and watches recordings,
    changes no settings or plan). Returns the user's id."""
    if role not in ("owner", "agent"):
        raise AccountError(f"role must be 'owner' or 'agent', not {role!r}")
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not an e-mail address")
    if len(password) < 8:
        raise AccountError("password must be at least 8 characters long")
    user_id = new_id("usr")
    with db.write() as conn:
        if not q(conn, "SELECT 1 FROM accounts WHERE id = :a", a=account_id):
            raise AccountError(f"no account {account_id!r}")
        if q(conn, "SELECT 1 FROM users WHERE email = :e", e=email.lower()):
            raise AccountError(f"a user with e-mail {email} already exists")
        q(
            conn,
            "INSERT INTO users (id, account_id, email, password_hash, role, created_at) "
            "VALUES (:id, :a, :e, :h, :r, :t)",
            id=user_id,
            a=account_id,
            e=email.lower(),
            h=hash_password(password),
            r=role,
            t=clock.now_ms(),
        )
    return user_id
