"""`footage accounts create | set-plan | add-user`: accounts managed from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

from footage import bootstrap
from footage.accounts.plans import load_plans
from footage.accounts.service import (
    AccountError,
    add_user,
    create_account,
    find_account,
    update_account,
)
from footage.accounts.usage import usage_of
from footage.clock import Clock
from footage.commands import Command, group, register


def create_arguments(parser: argparse.ArgumentParser) -> None:
    """The account's name and plan, its owner's login, its site."""
    parser.add_argument("--name", required=True, help="account name")
    parser.add_argument("--plan", required=True, help="the plan's name (free, standard, pro …)")
    parser.add_argument("--email", required=True, help="the owner's e-mail (their login)")
    parser.add_argument("--password", required=True, help="the owner's password (8+ characters)")
    parser.add_argument("--site-url", help="the site's address; its origin may send recordings")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def create(args: argparse.Namespace) -> int:
    """`footage accounts create`: prints the new ids, site key and API token."""
    settings = bootstrap.load_settings(args)
    db = bootstrap.open_database(settings)
    created = create_account(
        db,
        Clock(),
        name=args.name,
        plan=args.plan,
        email=args.email,
        password=args.password,
        site_url=args.site_url or "",
        plans=load_plans(settings.plans),
    )
    result: dict[str, Any] = created.as_dict()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def set_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """The account and its new plan."""
    parser.add_argument("account", help="the account's id or one of its users' e-mail")
    parser.add_argument("plan", help="the new plan's name (free, standard, pro …)")


def set_plan(args: argparse.Namespace) -> int:
    """`footage accounts set-plan`: prints the change and what is left this month."""
    settings = bootstrap.load_settings(args)
    db = bootstrap.open_database(settings)
    plans = load_plans(settings.plans)
    account = find_account(db, args.account)
    if account is None:
        raise AccountError(f"no account with id or user e-mail {args.account!r}")
    old = plans.of(account["plan"])
    updated = update_account(db, plans, account["id"], plan=args.plan)
    usage = usage_of(db, updated, plans.of(updated["plan"]), Clock().now_ms())
    print(
        f"{updated['name']}: {old.title} → {usage.plan.title}. This month: {usage.used:,} used, "
        f"{usage.remaining:,} of {usage.plan.monthly_limit:,} left."
    )
    return 0


def add_user_arguments(parser: argparse.ArgumentParser) -> None:
    """The account, the new user's login and role."""
    parser.add_argument("account", help="the account's id or one of its users' e-mail")
    parser.add_argument("--email", required=True, help="the new user's e-mail (login)")
    parser.add_argument("--password", required=True, help="their password (8+ characters)")
    parser.add_argument(
        "--role",
        choices=("agent", "owner"),
        default="agent",
        help="agent: chats with visitors and watches recordings, changes no settings or plan",
    )


def add_user_to_account(args: argparse.Namespace) -> int:
    """`footage accounts add-user`: prints who can now log in."""
    settings = bootstrap.load_settings(args)
    db = bootstrap.open_database(settings)
    account = find_account(db, args.account)
    if account is None:
        raise AccountError(f"no account with id or user e-mail {args.account!r}")
    user_id = add_user(
        db, Clock(), account["id"], email=args.email, password=args.password, role=args.role
    )
    print(f"{args.email.lower()} ({args.role}) can now log in to {account['name']}: {user_id}")
    return 0


group("accounts", "manage accounts")
register(
    Command(
        "accounts create",
        "create an account with its owner, site and API token",
        create,
        create_arguments,
        settings=["data_dir", "database_url", "plans"],
    )
)
register(
    Command(
        "accounts set-plan",
        "change an account's plan (at once; no payment is involved)",
        set_plan,
        set_plan_arguments,
        settings=["data_dir", "database_url", "plans"],
    )
)
register(
    Command(
        "accounts add-user",
        "add a user to an account: an agent (chats, watches recordings) or an owner",
        add_user_to_account,
        add_user_arguments,
        settings=["data_dir", "database_url"],
    )
)
