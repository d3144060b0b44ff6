"""Retention: every recording is deleted once its account's plan stops keeping it.

`sweeper.Retention.run_once(now_ms)` does the work; `command` offers it as
`footage retention run`.
"""

from footage.retention.sweeper import DAY_MS, Retention

__all__ = ["DAY_MS", "Retention"]
