"""Uploaded bucket profiles: checked, stored once per (layout, bucket, source), merged as a
delta into the stored bucket, hour and day profiles, and their windows queued.

The result is what a fold of the same rows would have stored (``build_profile`` of a bucket's
rows merged with whatever else the bucket holds), so windows are evaluated as if the rows had
been ingested. The upload holds the model's aggregation cursor while it merges (``uploads.lock_cursor``)
and is a generation of its own, so cached copies of the profiles it rewrites are not reused.

A refit makes a new layout: uploads of the old one stay stored, counted as stale by the
layout view, and are in no window until their producer uploads again on the new layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from service.aggregation import queries as aggregation_queries
from service.aggregation import uploads
from service.aggregation.layouts import layout_of
from service.aggregation.service import STORE_EVERY, PassResult, VersionState, fold_profiles
from service.aggregation.uploads import LayoutRecord
from service.errors import Conflict, FieldError, Invalid
from service.kernel import grid
from service.monitors.plans import window_grid
from service.monitors.service import load_config
from service.profiles.schemas import ActiveLayout, ProfileIn, ProfileUpload, UploadResult
from service.profiles.validation import decode, parse
from service.registry.service import RegisteredModel, pick_version
from service.stats.layout import Layout
from service.stats.profile import Profile
from service.stats.serialize import profile_to_bytes
from service.windows.commands import force_schedule


def _no_layout(model: RegisteredModel, version: str) -> Conflict:
    problem = (
        f"version {version!r} of {model.name!r} has no layout yet: upload a reference "
        "(POST /v1/models/{name}/reference) and let a worker pass fit it"
    )
    return Conflict(problem, [FieldError(None, "version", "no layout yet")])


def active_row(session: Session, model: RegisteredModel, version: str | None) -> LayoutRecord:
    spec = pick_version(model, version)
    row = aggregation_queries.active_layout(session, spec.version_id)
    if row is None:
        raise _no_layout(model, spec.version)
    return row


def has_layout(session: Session, model: RegisteredModel, version: str | None) -> bool:
    spec = pick_version(model, version)
    return aggregation_queries.active_layout(session, spec.version_id) is not None


def layout_view(session: Session, model: RegisteredModel, version: str | None) -> ActiveLayout:
    spec = pick_version(model, version)
    row = active_row(session, model, version)
    counts = uploads.upload_counts(session, spec.version_id)
    stale = sum(n for layout_id, (n, _) in counts.items() if layout_id != row.id)
    return ActiveLayout(
        model=model.name, version=spec.version, layout_id=row.id, layout_hash=row.layout_hash,
        bucket_seconds=row.bucket_seconds, source=row.source, created_at=row.created_at,
        layout=row.layout, uploaded_buckets=counts.get(row.id, (0, 0))[0], stale_uploaded_buckets=stale,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Bounds:
    """Bucket starts an upload may carry: [earliest, latest] (the ingestion event horizon)."""

    earliest: datetime
    latest: datetime

    @classmethod
    def around(cls, now: datetime, *, horizon_days: int, skew_seconds: int) -> Bounds:
        return cls(now - timedelta(days=horizon_days), now + timedelta(seconds=skew_seconds))


@dataclass(frozen=True, slots=True)
class Checked:
    start: datetime
    digest: str
    profile: Profile


def _check_one(
    item: ProfileIn, index: int, layout: Layout, bucket: int, bounds: Bounds
) -> Checked | FieldError:
    """The parsed profile of item ``index``, or what is wrong with it."""
    start = item.start
    if not grid.on_grid(start) or grid.seconds_since_epoch(start) % bucket:
        return FieldError(index, "start", f"{start.isoformat()} is not on the {bucket}-second bucket grid")
    if not bounds.earliest <= start <= bounds.latest:
        return FieldError(index, "start", f"{start.isoformat()} is outside the event horizon")
    try:
        data, digest = decode(item.body)
        return Checked(grid.floor(start, bucket), digest, parse(data, layout))
    except ValueError as error:
        return FieldError(index, "body", str(error))


def check_profiles(upload: ProfileUpload, layout: Layout, bucket: int, bounds: Bounds) -> list[Checked]:
    """Every profile checked; 422 listing each bad one (index and problem), nothing stored."""
    checked: list[Checked] = []
    errors: list[FieldError] = []
    seen: dict[datetime, int] = {}
    for index, item in enumerate(upload.profiles):
        one = _check_one(item, index, layout, bucket, bounds)
        if isinstance(one, FieldError):
            errors.append(one)
        elif one.start in seen:
            errors.append(FieldError(index, "start", f"bucket also sent at index {seen[one.start]}"))
        else:
            seen[one.start] = index
            checked.append(one)
    if errors:
        raise Invalid(f"{len(errors)} of {len(upload.profiles)} profiles are invalid; none stored", errors)
    return checked


def _current(session: Session, model: RegisteredModel, upload: ProfileUpload) -> tuple[LayoutRecord, Layout]:
    row = active_row(session, model, upload.version)
    if row.id != upload.layout_id or row.layout_hash != upload.layout_hash:
        raise Conflict(
            f"layout changed: the version's active layout is {row.id} ({row.layout_hash[:12]}…), "
            f"not {upload.layout_id} ({upload.layout_hash[:12]}…): fetch it again "
            "(GET /v1/models/{name}/layout) and rebuild the profiles",
            [FieldError(None, "layout_id", "not the active layout")],
        )
    return row, layout_of(row)


def store_upload(
    session: Session, model: RegisteredModel, upload: ProfileUpload, *, now: datetime, bounds: Bounds
) -> UploadResult:
    """Check, store and merge one request's profiles (all or nothing)."""
    # Before reading the layout: a pass of the model may be refitting it.
    cursor = uploads.lock_cursor(session, model.model_id, now)
    row, layout = _current(session, model, upload)
    checked = check_profiles(upload, layout, row.bucket_seconds, bounds)
    stored = uploads.stored_digests(session, row.id, [(c.start, upload.source) for c in checked])
    _refuse_changed(checked, stored, upload.source)
    new = [c for c in checked if (c.start, upload.source) not in stored]
    uploads.add_uploads(session, [_row(row.id, upload.source, c, now) for c in new])
    scheduled = 0
    if new:
        cursor.generation += 1  # the upload is a generation of its own (see the module doc)
        target = _version_state(session, model, pick_version(model, upload.version).version, row, layout)
        result = PassResult(claimed=True, generation=cursor.generation, versions={row.version_id: target})
        for first in range(0, len(new), STORE_EVERY):
            part = new[first : first + STORE_EVERY]
            fold_profiles(session, result, target, [(c.start, c.profile) for c in part])
        scheduled = _schedule(session, target, result)
    return UploadResult(
        accepted=len(new), duplicates=len(checked) - len(new), rows=sum(c.profile.rows for c in new),
        layout_id=row.id, layout_hash=row.layout_hash, windows_scheduled=scheduled,
    )  # fmt: skip


def _refuse_changed(checked: Sequence[Checked], stored: dict[tuple[datetime, str], str], source: str) -> None:
    """409 naming every bucket this source already sent with a different profile."""
    changed = [c for c in checked if stored.get((c.start, source), c.digest) != c.digest]
    if changed:
        first = changed[0].start.isoformat()
        raise Conflict(
            f"conflict: bucket {first} (and {len(changed) - 1} more) already holds a different "
            f"profile from source {source!r}; nothing was stored. A corrected run needs a new source",
            [
                FieldError(None, "start", f"{c.start.isoformat()}: a different profile is stored")
                for c in changed
            ],
        )


def _row(layout_id: int, source: str, checked: Checked, now: datetime) -> dict[str, object]:
    return {
        "layout_id": layout_id,
        "start": checked.start,
        "source": source,
        "digest": checked.digest,
        "rows": checked.profile.rows,
        "body": profile_to_bytes(checked.profile),
        "created_at": now,
    }


def _version_state(
    session: Session, model: RegisteredModel, version: str, row: LayoutRecord, layout: Layout
) -> VersionState:
    config, _ = load_config(session, model.model_id)
    spec = model.versions[version]
    return VersionState(model.model_id, model.name, spec, window_grid(config), row, layout)


def _schedule(session: Session, target: VersionState, result: PassResult) -> int:
    """Queue every window holding a changed bucket, however old (an upload is a backfill)."""
    plan, windows = target.grid, set[grid.Window]()
    for bucket in result.touched.get(target.spec.version_id, ()):
        windows.update(
            grid.windows_containing(bucket, bucket=plan.bucket, step=plan.step, window=plan.window)
        )
    force_schedule(session, target.model_id, target.spec.version_id, sorted(windows), result.generation)
    return len(windows)
