"""The demo account, owner and site, made on a fresh installation's first start."""

from __future__ import annotations

import json
import secrets

from footage.accounts.plans import load_plans
from footage.accounts.service import create_account, demo_site
from footage.clock import Clock
from footage.settings import Settings
from footage.store import Database

DEMO_EMAIL = "demo@example.com"


def ensure_demo(settings: Settings, db: Database, clock: Clock) -> dict[str, str] | None:
    """On the first start, create the demo account, owner and site; return the login."""
    login_file = settings.data_path / "demo-login.json"
    if demo_site(db) is None:
        if db.one("SELECT id FROM accounts LIMIT 1") is not None:
            return None  # a real installation: never add a demo to it
        password = secrets.token_urlsafe(12)
        plans = load_plans(settings.plans)
        created = create_account(
            db,
            clock,
            name="Demo shop",
            # The demo shows everything: the plan with the most recordings.
            plan=max(plans, key=lambda p: p.monthly_limit).name,
            plans=plans,
            email=DEMO_EMAIL,
            password=password,
            site_name="Demo shop",
            is_demo=True,
        )
        login_file.write_text(
            json.dumps({"email": DEMO_EMAIL, "password": password, "api_token": created.api_token})
        )
        login_file.chmod(0o600)
    if login_file.exists():
        return dict(json.loads(login_file.read_text()))
    return None
