"""Plans: plain data with one question each — may this account record, and how much."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    monthly_limit: int
    retention_days: int

    @property
    def records(self) -> bool:
        return self.monthly_limit > 0


PLANS: dict[str, Plan] = {
    "free": Plan("free", 0, 0),
    "standard": Plan("standard", 10_000, 10),
    "pro": Plan("pro", 50_000, 10),
}


def get_plan(name: str) -> Plan:
    try:
        return PLANS[name]
    except KeyError:
        raise ValueError(f"unknown plan {name!r}; choose one of: {', '.join(PLANS)}") from None
