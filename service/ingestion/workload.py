"""The evaluation work one batch may cause: every window holding one of its buckets is
(re-)evaluated once the batch is folded, so a batch spread over many days is refused (422)
before it is stored, instead of holding the workers for minutes.

A version may get ``max_windows`` windows beyond those one bucket lies in
(window / step of them: 24 for a 24 h window stepping hourly), so one record always passes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from service.errors import Conflict, FieldError, Invalid
from service.kernel import grid
from service.monitors.plans import WindowGrid, window_grid
from service.monitors.service import config_from_stored, load_config
from service.registry.service import RegisteredModel


def windows_of(times: Iterable[datetime], plan: WindowGrid) -> int:
    """Distinct windows of ``plan`` holding the buckets of these event times."""
    return grid.count_windows_of_moments(times, bucket=plan.bucket, step=plan.step, window=plan.window)


def allowance(plan: WindowGrid, max_windows: int) -> int:
    """``max_windows`` plus the windows a single bucket lies in."""
    one = grid.count_windows_containing([grid.EPOCH], bucket=plan.bucket, step=plan.step, window=plan.window)
    return max_windows + one


def check_batch_windows(
    session: Session,
    model: RegisteredModel,
    times_by_version: dict[str, list[datetime]],
    max_windows: int,
    kind: str,
) -> None:
    """422 when the event times of one version (keys name it, e.g. "version '2'") fall in
    more windows than allowed; ``kind`` names the records ("predictions")."""
    try:
        config, _ = load_config(session, model.model_id)
    except Conflict:  # a stored configuration that no longer validates must not stop ingestion
        config = config_from_stored(None)
    plan = window_grid(config)
    limit = allowance(plan, max_windows)
    errors = []
    for version, times in times_by_version.items():
        count = windows_of(times, plan)
        if count > limit:
            message = (
                f"the {kind} of {version} fall in {count} windows, more than the {limit} one batch "
                f"may schedule (MODELMON_MAX_BATCH_WINDOWS={max_windows} plus the windows of one bucket); "
                "send records spread over many days in several batches"
            )
            errors.append(FieldError(None, "timestamp", message))
    if errors:
        raise Invalid("the batch would schedule too many window evaluations; nothing was stored", errors)


def by_version(pairs: Iterable[tuple[str, datetime]]) -> dict[str, list[datetime]]:
    grouped: dict[str, list[datetime]] = defaultdict(list)
    for version, moment in pairs:
        grouped[version].append(moment)
    return grouped
