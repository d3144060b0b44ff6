"""Plans: plain data with two questions each — how many recordings a month, kept how long.

The defaults are Free (no recordings), Standard (10,000 a month) and Pro (50,000 a month),
each keeping recordings 10 days. Operators define their own with the `plans` setting: JSON, or
the path of a TOML or JSON file, mapping a plan's name to its `monthly_limit`,
`retention_days` and optional `label` (see docs/settings.md).
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class PlanError(ValueError):
    """A plan name or a plans definition that cannot be used; the message says why."""


@dataclass(frozen=True)
class Plan:
    name: str
    monthly_limit: int
    retention_days: int
    label: str = ""

    @property
    def records(self) -> bool:
        return self.monthly_limit > 0

    @property
    def title(self) -> str:
        return self.label or self.name.capitalize()


class Plans:
    """The plans this server offers, cheapest first."""

    def __init__(self, plans: Iterable[Plan]) -> None:
        self._by_name = {p.name: p for p in sorted(plans, key=lambda p: p.monthly_limit)}
        if not self._by_name:
            raise PlanError("define at least one plan")

    def __iter__(self) -> Any:
        return iter(self._by_name.values())

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> Plan:
        """The plan called `name`; raises PlanError naming the choices."""
        plan = self._by_name.get(name)
        if plan is None:
            raise PlanError(f"unknown plan {name!r}; choose one of: {', '.join(self._by_name)}")
        return plan

    def of(self, name: str) -> Plan:
        """An account's plan. One the operator has since removed records nothing (and says
        so in the log) but keeps what was recorded for the longest retention offered."""
        plan = self._by_name.get(name)
        if plan is not None:
            return plan
        log.warning("plan %r is not defined any more; its accounts record nothing", name)
        longest = max(p.retention_days for p in self._by_name.values())
        return Plan(name, 0, longest, label=f"{name} (no longer offered)")

    def next_up(self, plan: Plan) -> Plan | None:
        """The cheapest plan that allows more recordings a month, if any."""
        return next((p for p in self if p.monthly_limit > plan.monthly_limit), None)


DEFAULT_PLANS = Plans(
    [
        Plan("free", 0, 10, "Free"),
        Plan("standard", 10_000, 10, "Standard"),
        Plan("pro", 50_000, 10, "Pro"),
    ]
)


def _plan(name: str, spec: Any) -> Plan:
    if not _NAME.match(name):
        raise PlanError(
            f"plan name {name!r} must be lowercase letters, digits, '-' or '_' (up to 40)"
        )
    if not isinstance(spec, dict):
        raise PlanError(f"plan {name!r} must be a table with monthly_limit and retention_days")
    unknown = set(spec) - {"monthly_limit", "retention_days", "label"}
    if unknown:
        raise PlanError(f"plan {name!r}: unknown field(s) {', '.join(sorted(unknown))}")
    limit, days, label = spec.get("monthly_limit"), spec.get("retention_days"), spec.get("label")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise PlanError(f"plan {name!r}: monthly_limit must be a whole number ≥ 0")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        raise PlanError(f"plan {name!r}: retention_days must be a whole number from 1 to 3650")
    if label is not None and not isinstance(label, str):
        raise PlanError(f"plan {name!r}: label must be text")
    return Plan(name, limit, days, label or "")


def parse_plans(data: Any) -> Plans:
    """`{"name": {"monthly_limit": …, "retention_days": …, "label": …}, …}` → Plans."""
    if isinstance(data, dict) and isinstance(data.get("plans"), dict):
        data = data["plans"]  # a TOML file reads more naturally as [plans.pro]
    if not isinstance(data, dict) or not data:
        raise PlanError("plans must map each plan's name to its monthly_limit and retention_days")
    return Plans(_plan(name, spec) for name, spec in data.items())


def load_plans(value: str) -> Plans:
    """The `plans` setting: empty (the defaults), inline JSON, or a .toml / .json file."""
    value = value.strip()
    if not value:
        return DEFAULT_PLANS
    if value.startswith("{"):
        try:
            return parse_plans(json.loads(value))
        except json.JSONDecodeError as exc:
            raise PlanError(f"the plans setting is not valid JSON: {exc}") from None
    path = Path(value)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PlanError(f"cannot read the plans file {value}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"the plans file {value} is not valid: {exc}") from None
    return parse_plans(data)
