"""``modelmon keys create|list|revoke``, and the admin key the embedded default starts with.

Keys are printed with ``print`` to the terminal, never through ``logging``: log lines are
shipped and kept, a key must not be.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.auth import repository
from service.auth.service import create_key, revoke_key
from service.clock import system_clock
from service.config import Settings
from service.errors import ApiError
from service.kernel.principal import Principal, Role
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from service.storage.trust_tables import ApiKey


def _operator() -> Principal:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers with an arbitrary uid)
        user = "unknown"
    return Principal(f"cli:{user}", "modelmon keys", Role.ADMIN)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="create a key; the key alone is printed on the last line")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--models", help="comma-separated models an ingest key may write to")
    create.add_argument("--name", help="who or what uses the key (default: the role)")
    listing = actions.add_parser("list", help="list keys (prefix, name, role, models, last used)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    revoke = actions.add_parser("revoke", help="revoke a key by its prefix (mmk_ and 8 characters)")
    revoke.add_argument("prefix")


def run(settings: Settings, args: argparse.Namespace) -> None:
    engine = create_database_engine(settings)
    sessions = create_session_factory(engine)
    try:
        with unit_of_work(sessions) as session:
            if args.keys_command == "create":
                _create(session, args)
            elif args.keys_command == "revoke":
                row = revoke_key(session, _operator(), args.prefix, system_clock())
                print(f"revoked {row.prefix} ({row.name}, {row.role})")
            else:
                _list(repository.all_keys(session, include_revoked=args.all))
    except ApiError as error:
        reasons = "".join(f"; {problem.field}: {problem.message}" for problem in error.errors)
        raise SystemExit(f"modelmon: {error.detail}{reasons}") from None
    finally:
        engine.dispose()


def _create(session: Session, args: argparse.Namespace) -> None:
    role = Role(args.role)
    models = [name.strip() for name in (args.models or "").split(",") if name.strip()] or None
    name = args.name or f"{role.value} key"
    row, key = create_key(session, _operator(), role=role, name=name, models=models, now=system_clock())
    scope = f" for {', '.join(row.models)}" if row.models else ""
    print(f"created {row.role} key {row.prefix} ({row.name}){scope}; it is shown once, store it now:")
    print(key)


def _list(rows: Sequence[ApiKey]) -> None:
    header = ("PREFIX", "NAME", "ROLE", "MODELS", "CREATED", "LAST USED", "REVOKED")
    lines = [header] + [
        (
            row.prefix,
            row.name,
            row.role,
            ",".join(row.models or ()) or "-",
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            row.last_used_at.strftime("%Y-%m-%d %H:%M") if row.last_used_at else "never",
            row.revoked_at.strftime("%Y-%m-%d %H:%M") if row.revoked_at else "-",
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def bootstrap_admin(settings: Settings) -> None:
    """On the embedded default (SQLite, development), create an admin key when none exists
    and print it once to stderr, so a first `modelmon serve` is usable and never open."""
    if not settings.auth or settings.admin_key is not None or not settings.is_sqlite:
        return
    engine = create_database_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as session:
            if repository.any_active_admin(session):
                return
            system = Principal("system", "first start", Role.ADMIN)
            row, key = create_key(
                session, system, role=Role.ADMIN, name="first admin", models=None, now=system_clock()
            )
    finally:
        engine.dispose()
    print(
        f"\nmodelmon: created the first admin key {row.prefix} (shown once; store it now, "
        "e.g. export MODELMON_KEY=...):\n\n    " + key + "\n",
        file=sys.stderr,
        flush=True,
    )
