"""``modelmon audit verify``: walk the audit chain and name the first row that breaks it."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from sqlalchemy.orm import Session

from service.audit import repository
from service.audit.chain import ChainedRow, Verdict, verify
from service.config import Settings
from service.storage.database import create_database_engine, create_session_factory, unit_of_work

# Exit status when the chain is broken or the exported head is missing (sysexits.h EX_DATAERR).
EXIT_BROKEN = 65


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="check the audit log's hash chain")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    check = actions.add_parser(
        "verify", help="recompute the chain; print the head hash, or the first row that breaks it"
    )
    check.add_argument(
        "--head",
        help="a head hash printed by an earlier verify and kept outside the database: it must still be "
        "in the chain (catches the newest rows removed, or the whole chain rewritten)",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the verdict; the process's exit status (0: intact)."""
    engine = create_database_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as session:
            verdict, head_seen = _walk(session, args.head)
    finally:
        engine.dispose()
    return _report(verdict, args.head, head_seen)


def _walk(session: Session, head: str | None) -> tuple[Verdict, bool]:
    """The chain's verdict, and whether a row carries the hash ``head``."""
    seen = False

    def watched() -> Iterator[ChainedRow]:
        nonlocal seen
        for row in repository.in_order(session):
            seen = seen or row.chain_hash == head
            yield row

    return verify(watched()), seen


def _report(verdict: Verdict, head: str | None, head_seen: bool) -> int:
    if verdict.broken_at is not None:
        print(
            f"audit chain BROKEN at row {verdict.broken_at}: it {verdict.reason}; "
            f"{verdict.checked - 1} rows before it are intact (their head: {verdict.head or 'none'})"
        )
        return EXIT_BROKEN
    if head is not None and not head_seen:
        print(
            f"audit chain BROKEN: the exported head {head} is not in it ({verdict.checked} rows read): "
            "rows after it were removed, or the chain was rewritten"
        )
        return EXIT_BROKEN
    print(f"audit chain OK: {verdict.checked} rows; head {verdict.head or 'none (empty log)'}")
    return 0
