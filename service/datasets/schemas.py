"""What an export is asked for, and what it writes: the format, the columns, the plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# Longest [from, to) one export may cover: a year of traffic plus a month of slack.
MAX_EXPORT_RANGE = timedelta(days=400)


class ExportFormat(StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"


MEDIA_TYPES = {ExportFormat.NDJSON: "application/x-ndjson", ExportFormat.CSV: "text/csv; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """The validated query parameters."""

    start: datetime
    end: datetime
    format: ExportFormat
    version: str | None
    labelled: bool
    limit: int | None


@dataclass(frozen=True, slots=True)
class Columns:
    """The nested fields that CSV flattens, in a fixed order: features in schema order
    (versions in registration order, each name once), protected attributes and classes sorted."""

    features: tuple[str, ...]
    attributes: tuple[str, ...]
    classes: tuple[str, ...]  # of multiclass versions: one ``scores.<class>`` column each

    def header(self) -> list[str]:
        return [
            "prediction_id",
            "version",
            "event_time",
            *(f"feature.{name}" for name in self.features),
            "prediction",
            "score",
            *(f"scores.{name}" for name in self.classes),
            *(f"attribute.{name}" for name in self.attributes),
            "label",
            "outcome_time",
        ]


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """Everything the stream needs, settled before the first byte is sent (so that every
    error is a proper 4xx): the model, the rows' id range, the columns."""

    model_id: int
    model: str
    request: ExportRequest
    version_id: int | None  # None: every version
    version_names: dict[int, str]
    id_range: tuple[int, int] | None  # first and last prediction id in the window; None: empty
    columns: Columns
