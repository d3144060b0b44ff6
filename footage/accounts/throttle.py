"""Login throttling: failed dashboard logins counted per account e-mail and per client address.

The counts live in the database (`login_failures`), so several `footage serve` processes share
them. After `EMAIL_LIMIT` failures for one e-mail, or `ADDRESS_LIMIT` from one address, within
`WINDOW_MS` of the first of them, further attempts are refused (429 with `Retry-After`) until
the window is over — before the password is checked, so a guesser also costs no argon2 work.
A successful login clears its e-mail's count. The address's count is not cleared: someone
with an account of their own could otherwise reset it between guesses at other accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

from footage.store.db import Database, q

WINDOW_MS = 15 * 60_000
EMAIL_LIMIT = 5  # a person mistyping their password gets this far
ADDRESS_LIMIT = 20  # an office behind one address may hold several people


@dataclass(frozen=True)
class Keys:
    email: str
    address: str | None


def keys_for(email: str, address: str | None) -> Keys:
    return Keys(f"email:{email.strip().lower()}", f"ip:{address}" if address else None)


def _limits(keys: Keys) -> dict[str, int]:
    limits = {keys.email: EMAIL_LIMIT}
    if keys.address:
        limits[keys.address] = ADDRESS_LIMIT
    return limits


def blocked_for(db: Database, keys: Keys, now_ms: int) -> int:
    """Seconds until a login may be tried again for these keys; 0 when it may now."""
    limits = _limits(keys)
    names = {f"k{i}": k for i, k in enumerate(limits)}
    rows = db.all(
        "SELECT key, failures, first_at FROM login_failures "
        f"WHERE key IN ({', '.join(':' + n for n in names)}) AND first_at > :since",
        {**names, "since": now_ms - WINDOW_MS},
    )
    waits = [r["first_at"] + WINDOW_MS - now_ms for r in rows if r["failures"] >= limits[r["key"]]]
    return max((-(-w // 1000) for w in waits), default=0)


def record_failure(db: Database, keys: Keys, now_ms: int) -> None:
    """Count one failed login; a count whose window is over starts again at 1."""
    with db.write() as conn:
        for key in _limits(keys):
            q(
                conn,
                "INSERT INTO login_failures (key, failures, first_at) VALUES (:k, 1, :now) "
                "ON CONFLICT (key) DO UPDATE SET "
                "failures = CASE WHEN login_failures.first_at <= :since THEN 1 "
                "ELSE login_failures.failures + 1 END, "
                "first_at = CASE WHEN login_failures.first_at <= :since THEN :now "
                "ELSE login_failures.first_at END",
                k=key,
                now=now_ms,
                since=now_ms - WINDOW_MS,
            )
        # Old rows are of no use; forgetting them here keeps the table small.
        q(conn, "DELETE FROM login_failures WHERE first_at <= :since", since=now_ms - WINDOW_MS)


def clear(db: Database, keys: Keys) -> None:
    db.run("DELETE FROM login_failures WHERE key = :k", {"k": keys.email})
