"""The audit log: what was done to an account's data, when, and by whom.

An entry outlives the data it describes (that is its purpose), so callers put only counts and
kinds into `detail`, never personal data of visitors: no visitor ids, e-mail addresses or IPs.
"""

from __future__ import annotations

import json
import time
from typing import Any

from footage.store.db import Database, new_id, q

MAX_ENTRIES = 1000


def record(
    conn: Any,
    account_id: str,
    actor: str,
    action: str,
    detail: dict[str, Any],
    *,
    at: int | None = None,
) -> str:
    """Add an entry inside the caller's transaction, so it exists exactly if the action does.

    `actor` names who did it (`user:<id>`, `token:<id>`); `at` defaults to the wall clock, and
    callers with a Clock pass its time so frozen-clock tests see consistent times.
    """
    entry_id = new_id("aud")
    q(
        conn,
        "INSERT INTO audit_log (id, account_id, at, actor, action, detail) "
        "VALUES (:id, :a, :at, :actor, :action, :detail)",
        id=entry_id,
        a=account_id,
        at=int(time.time() * 1000) if at is None else at,
        actor=actor,
        action=action,
        detail=json.dumps(detail, sort_keys=True, separators=(",", ":")),
    )
    return entry_id


def entries(db: Database, account_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The account's newest entries first, `detail` decoded."""
    rows = db.all(
        "SELECT id, account_id, at, actor, action, detail FROM audit_log "
        "WHERE account_id = :a ORDER BY at DESC, id DESC LIMIT :n",
        {"a": account_id, "n": max(1, min(limit, MAX_ENTRIES))},
    )
    return [{**row, "detail": json.loads(row["detail"])} for row in rows]
