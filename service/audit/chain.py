"""The audit log's hash chain. Pure.

hash_n = SHA-256(hash_{n-1} ‖ canonical(row_n)), hex; hash_0's predecessor is 64 zeros.
canonical(row) = UTF-8 JSON with sorted keys of the row's fields but its id and hash: ``at``
as ISO 8601 UTC with microseconds, ``before`` and ``after`` as the JSON documents stored.

What it shows: a row changed after it was written (its hash no longer matches), and a row
removed from the middle or the rows reordered (the next row's hash no longer follows). What it
cannot show alone: the newest rows removed, or the whole chain recomputed by someone who can
write the table — only a head hash exported elsewhere (``modelmon audit verify`` prints it)
catches those.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class ChainedRow:
    """The fields of an audit row the chain covers, and its stored hash."""

    id: int | None  # None while the row is being appended (the id is not hashed)
    at: datetime
    actor: str
    actor_name: str
    action: str
    target_type: str
    target: str
    before: Any
    after: Any
    chain_hash: str | None


def canonical(row: ChainedRow) -> bytes:
    document = {
        "at": row.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row.actor,
        "actor_name": row.actor_name,
        "action": row.action,
        "target_type": row.target_type,
        "target": row.target,
        "before": row.before,
        "after": row.after,
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def link(previous: str | None, row: ChainedRow) -> str:
    """The hash of ``row`` following the row whose hash is ``previous`` (None: the first row)."""
    return hashlib.sha256((previous or GENESIS).encode() + canonical(row)).hexdigest()


@dataclass(frozen=True, slots=True)
class Verdict:
    """``broken_at`` is the id of the first row whose hash does not follow (None: intact);
    ``head`` the last good hash; ``checked`` how many rows were read."""

    checked: int
    head: str | None
    broken_at: int | None
    reason: str | None


def verify(rows: Iterable[ChainedRow]) -> Verdict:
    """Walk ``rows`` in id order; stop at the first that does not follow from its predecessor."""
    previous: str | None = None
    checked = 0
    for row in rows:
        checked += 1
        if row.chain_hash != link(previous, row):
            reason = (
                "has no hash"
                if row.chain_hash is None
                else "does not follow: it was changed, or a row before it was removed or changed"
            )
            return Verdict(checked, previous, row.id, reason)
        previous = row.chain_hash
    return Verdict(checked, previous, None, None)
