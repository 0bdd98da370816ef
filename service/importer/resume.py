"""The ``--resume`` state file: which rows of which file the server has acknowledged.

Written after every acknowledged batch (to a temporary file, then renamed: a crash leaves the
old state or the new one, never half of one). A re-run with the same file (same size and
modification time), model, kind and batch size skips those rows; without the state file a
re-run resends them, which the server's idempotency makes harmless but not free.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Identity:
    file: str
    size: int
    modified_ns: int
    model: str
    kind: str
    batch_size: int

    @classmethod
    def of(cls, path: Path, model: str, kind: str, batch_size: int) -> Identity:
        stat = path.stat()
        return cls(str(path.resolve()), stat.st_size, stat.st_mtime_ns, model, kind, batch_size)


class StaleState(Exception):
    """The state file records another import."""


def acknowledged_rows(state: Path, identity: Identity) -> int:
    """Rows of the file already acknowledged (0 without a state file)."""
    if not state.exists():
        return 0
    saved: dict[str, Any] = json.loads(state.read_text())
    rows = saved.pop("rows_acknowledged", 0)
    if saved != asdict(identity):
        raise StaleState(
            f"{state} records an import of another file, model, kind or batch size; delete it to start over"
        )
    return int(rows)


def save(state: Path, identity: Identity, rows: int) -> None:
    temporary = state.with_name(state.name + ".tmp")
    temporary.write_text(json.dumps({**asdict(identity), "rows_acknowledged": rows}, indent=1))
    os.replace(temporary, state)
