"""The `footage` commands: each command module registers its own, the parser is built from them.

A command's name is its words on the command line: `serve`, or `retention run` under the group
`retention`. It says which settings it takes as flags; bootstrap offers them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from footage.bootstrap import add_setting_flags


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


@dataclass(frozen=True)
class Command:
    """One `footage` command: its words, its help, its own arguments and what it runs."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    settings: Sequence[str] | None = ()  # the settings it takes as flags; None: every one
    description: str | None = None
    formatter_class: type[argparse.HelpFormatter] = argparse.HelpFormatter


COMMANDS: dict[str, Command] = {}
GROUPS: dict[str, str] = {}  # a group's word → its help, e.g. "accounts" → "manage accounts"


def register(command: Command) -> Command:
    """Offer `command` on the `footage` command line (registered again, it is replaced)."""
    COMMANDS[command.name] = command
    return command


def group(name: str, help: str) -> None:
    """Declare the word that several commands share, e.g. `accounts` for `accounts create`."""
    GROUPS[name] = help


def top_level_words() -> set[str]:
    """The first words of every registered command."""
    return {name.split()[0] for name in COMMANDS}


def build_parser(version: str | None = None) -> argparse.ArgumentParser:
    """The `footage` parser with every registered command, in the order they registered."""
    parser = argparse.ArgumentParser(
        prog="footage", description="Self-hostable website visitor recordings."
    )
    if version:
        parser.add_argument("--version", action="version", version=f"footage {version}")
    words = parser.add_subparsers(dest="command")
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for command in COMMANDS.values():
        first, _, rest = command.name.partition(" ")
        under = words
        if rest:
            if first not in groups:
                group_parser = words.add_parser(first, help=GROUPS.get(first))
                groups[first] = group_parser.add_subparsers(dest=f"{first}_command", required=True)
            under, first = groups[first], rest
        command_parser = under.add_parser(
            first,
            help=command.help,
            description=command.description,
            formatter_class=command.formatter_class,
        )
        command.add_arguments(command_parser)
        if command.settings is None or command.settings:
            add_setting_flags(command_parser, command.settings)
        command_parser.set_defaults(func=command.run)
    return parser


def run(argv: Sequence[str], version: str | None = None) -> None:
    """Parse `argv`, run its command and exit with its status; a bad value exits 2 with why."""
    args = build_parser(version).parse_args(argv)
    try:
        sys.exit(args.func(args))
    except ValueError as exc:  # SettingsError, AccountError, PlanError…: the message says why
        print(f"footage: error: {exc}", file=sys.stderr)
        sys.exit(2)
