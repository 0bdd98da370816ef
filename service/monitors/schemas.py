"""The monitor configuration of a model: windows, reference, metrics and their thresholds.

Every field has a default, so a model registered with no configuration is monitored with
24 h windows every hour over 5-minute buckets, against its uploaded reference.

Durations are accepted as seconds (``3600``) or as text with a unit (``"90s"``, ``"5m"``,
``"24h"``, ``"7d"``) and always answered as text.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.failures.schemas import FailureView
from service.kernel.durations import DAY, HOUR, MAX_LABEL_WAIT_SECONDS, MAX_WINDOW_SECONDS, Duration
from service.monitors.policy import AlertingSettings, RetrainingSettings
from service.ranges import GridMoment
from service.registry.schemas import FieldName
from service.stats.disparities import DISPARITY
from service.stats.methods import DEFAULT_METHODS, ColumnKind, methods_for

Share = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveShare = Annotated[float, Field(gt=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecisionMode(StrEnum):
    """How a figure past its threshold becomes an alert (docs/statistics.md, "Decisions").

    ``interval``: only when its interval lies wholly beyond the threshold (the evidence puts
    the true value past the tolerance); a point estimate past the threshold without that
    evidence is ``watch``. ``point``: the point estimate alone decides (the behaviour before
    decisions on intervals; intervals are then per figure, with no multiplicity adjustment).
    """

    INTERVAL = "interval"
    POINT = "point"


class ReferenceKind(StrEnum):
    UPLOADED = "uploaded"
    RANGE = "range"
    TRAILING = "trailing"


class ReferenceConfig(_Strict):
    """What each window is compared with.

    ``uploaded``: the version's uploaded reference rows (before one is uploaded, the
    first ``bootstrap_rows`` predictions of the version stand in). ``range``: the
    version's own production traffic between ``start`` and ``end``. ``trailing``: the
    window of the same length just before each window.
    """

    kind: ReferenceKind = ReferenceKind.UPLOADED
    start: GridMoment | None = None
    end: GridMoment | None = None

    @model_validator(mode="after")
    def _range_needs_bounds(self) -> ReferenceConfig:
        if self.kind is ReferenceKind.RANGE:
            if self.start is None or self.end is None:
                raise ValueError("a range reference needs both start and end")
        elif self.start is not None or self.end is not None:
            raise ValueError("start and end apply only to a range reference")
        for bound in (self.start, self.end):
            if bound is not None and bound.utcoffset() is None:
                raise ValueError("start and end need a timezone (e.g. 2026-11-01T00:00:00Z)")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class DriftSettings(_Strict):
    """A feature drifts when its BH-adjusted p-value < ``alpha`` and its effect size ≥ the
    threshold. The effect size is the chosen drift method (``service.stats.methods``):
    ``numeric_method`` for numeric columns (default Wasserstein / reference std),
    ``categorical_method`` for categorical ones (default Jensen–Shannon distance)."""

    enabled: StrictBool = True
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    numeric_threshold: Annotated[float, Field(gt=0.0)] = 0.1
    categorical_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    features: list[FieldName] | None = Field(None, description="Features to test; default: all.")
    outputs: StrictBool = Field(True, description="Also test the prediction and score columns.")
    multivariate: StrictBool = Field(
        True,
        description="Also test the rows' PCA reconstruction error (multivariate_reconstruction_error).",
    )
    numeric_method: str = Field(
        DEFAULT_METHODS["numeric"],
        description=f"Effect size of numeric columns: one of {', '.join(methods_for('numeric'))}.",
    )
    categorical_method: str = Field(
        DEFAULT_METHODS["categorical"],
        description=f"Effect size of categorical columns: one of {', '.join(methods_for('categorical'))}.",
    )

    @field_validator("numeric_method", "categorical_method")
    @classmethod
    def _known_method(cls, value: str, info: ValidationInfo) -> str:
        kind: ColumnKind = "numeric" if info.field_name == "numeric_method" else "categorical"
        if value not in methods_for(kind):
            raise ValueError(
                f"unknown {kind} drift method {value!r}; choose one of {', '.join(methods_for(kind))}"
            )
        return value


class QualitySettings(_Strict):
    """Alert when the missing rate rises by more than ``max_missing_rate_increase`` over the
    reference's, or the out-of-range / unseen-category shares exceed their maxima."""

    enabled: StrictBool = True
    max_missing_rate_increase: Share = 0.1
    max_out_of_range_share: Share = 0.05
    max_unseen_share: Share = 0.05


class Bound(_Strict):
    """An explicit bound: alert when the value is below ``min`` or above ``max``."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class PerformanceSettings(_Strict):
    """Realised (labelled rows) and estimated (label-free, binary) performance.

    A metric alerts when it crosses its explicit bound in ``thresholds`` or, without one,
    when it is worse than the reference's value by more than ``max_drop`` (absolute, in
    the metric's units; for error metrics — brier, log_loss, ece, mae, rmse, mape — worse means higher).
    """

    enabled: StrictBool = True
    estimated: StrictBool = True
    min_labelled: Annotated[int, Field(ge=1, le=1_000_000)] = 30
    max_drop: Annotated[float, Field(gt=0.0)] = 0.05
    thresholds: dict[str, Bound] = Field(default_factory=dict)


def _alerted(disparity: str) -> float:
    """The table's default bound of a disparity that alerts by default (its field is a Share)."""
    bound = DISPARITY[disparity].default_bound
    if bound is None:
        raise ValueError(f"{disparity} has no default bound: its field is Share | None")
    return bound


class FairnessSettings(_Strict):
    """Per-group rates and disparities for every protected attribute (and intersection).

    One bound per disparity of ``service.stats.disparities.DISPARITIES`` (its ``setting``; the
    defaults are the table's); a disparity without a field here keeps the table's bound. A
    bound of None (``Share | None``, for a disparity the table reports without alerting on)
    leaves the disparity reported with no threshold."""

    enabled: StrictBool = True
    min_group_size: Annotated[int, Field(ge=1, le=1_000_000)] = 30
    max_parity_difference: Share = _alerted("statistical_parity_difference")
    min_impact_ratio: PositiveShare = _alerted("disparate_impact_ratio")
    max_equal_opportunity_difference: Share = _alerted("equal_opportunity_difference")
    max_equalized_odds_difference: Share = _alerted("equalized_odds_difference")
    max_predictive_parity_difference: Share = _alerted("predictive_parity_difference")
    max_predictive_equality_difference: Share | None = Field(
        DISPARITY["predictive_equality_difference"].default_bound,
        description="Largest allowed max − min over groups of the false-positive rate; default "
        "none: reported, not alerted on (equalized odds already covers it).",
    )
    max_calibration_difference: Share = Field(
        _alerted("calibration_difference"),
        description="Largest allowed max − min over groups of calibration-in-the-large (mean score − "
        "observed positive rate); binary models with scores.",
    )
    max_mean_error_difference: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = Field(
        DISPARITY["mean_error_difference"].default_bound,
        description="Regression models: largest allowed max − min over groups of the mean error "
        "(prediction − label), in the target's unit; default none: reported, not alerted on.",
    )
    max_mae_difference: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = Field(
        DISPARITY["mae_difference"].default_bound,
        description="Regression models: largest allowed max − min over groups of the mean absolute "
        "error, in the target's unit; default none: reported, not alerted on.",
    )
    intersections: list[list[FieldName]] | None = Field(
        None,
        description="Attribute combinations evaluated together; default: every pair when a "
        "version declares two or three protected attributes.",
    )

    @field_validator("intersections")
    @classmethod
    def _at_least_two(cls, value: list[list[str]] | None) -> list[list[str]] | None:
        for combo in value or []:
            if len(combo) < 2 or len(set(combo)) != len(combo):
                raise ValueError("each intersection names two or more different attributes")
        return value


class ExplanationSettings(_Strict):
    """Explanation drift: nDCG of the feature-importance ranking against the reference."""

    enabled: StrictBool = True
    min_ndcg: Share = 0.9
    top_k: Annotated[int, Field(ge=1, le=10_000)] | None = None


class MonitorConfig(_Strict):
    """How a model is monitored. Windows end on multiples of ``step`` (UTC, from the epoch)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "window": "24h",
                    "step": "1h",
                    "reference": {"kind": "uploaded"},
                    "drift": {"alpha": 0.01, "features": ["income", "employment"]},
                    "performance": {"thresholds": {"roc_auc": {"min": 0.75}}},
                    "fairness": {"max_parity_difference": 0.08},
                }
            ]
        },
    )

    window: Duration = Field(DAY, description="Window length; 60 s to 90 d, a multiple of `bucket`.")
    step: Duration = Field(HOUR, description="Distance between window ends; equal to `window` = tumbling.")
    bucket: Duration = Field(300, description="Aggregation bucket; divides one hour (60 s to 1 h).")
    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)
    bootstrap_rows: Annotated[int, Field(ge=100, le=1_000_000)] = Field(
        10_000, description="Without an uploaded reference: the first rows that fix the bins."
    )
    min_rows: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        100, description="Fewest rows (window and reference) for a drift or quality figure."
    )
    label_coverage: PositiveShare = Field(
        0.8, description="Labelled share at which a performance window stops being provisional."
    )
    label_wait: Duration = Field(
        14 * DAY, description="How long after a window ends late labels re-evaluate it."
    )
    decision: DecisionMode = Field(
        DecisionMode.INTERVAL,
        description="`interval`: a figure alerts only when its interval lies beyond the threshold (else "
        "`watch`); `point`: the point estimate alone decides.",
    )
    confidence: Annotated[float, Field(ge=0.8, le=0.9999)] = Field(
        0.95,
        description="Confidence of the intervals decisions are made on; each family's decisions in a "
        "window are simultaneous at this level (Bonferroni).",
    )
    drift: DriftSettings = Field(default_factory=DriftSettings)
    data_quality: QualitySettings = Field(default_factory=QualitySettings)
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)
    fairness: FairnessSettings = Field(default_factory=FairnessSettings)
    explanation: ExplanationSettings = Field(default_factory=ExplanationSettings)
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)
    retraining: RetrainingSettings = Field(default_factory=RetrainingSettings)

    @field_validator("bucket")
    @classmethod
    def _bucket_divides_hour(cls, value: int) -> int:
        if not 60 <= value <= HOUR or HOUR % value:
            raise ValueError("bucket must divide one hour exactly (60 s to 1 h, e.g. 1m, 5m, 15m, 1h)")
        return value

    @field_validator("label_wait")
    @classmethod
    def _label_wait_range(cls, value: int) -> int:
        if not 0 <= value <= MAX_LABEL_WAIT_SECONDS:
            raise ValueError("label_wait must be between 0 s and 400 d")
        return value

    @model_validator(mode="after")
    def _grid(self) -> MonitorConfig:
        if not 60 <= self.window <= MAX_WINDOW_SECONDS:
            raise ValueError("window must be between 60 s and 90 d")
        if self.window % self.bucket:
            raise ValueError("window must be a multiple of bucket")
        if self.step % self.bucket or not self.bucket <= self.step <= self.window:
            raise ValueError("step must be a multiple of bucket and at most window")
        return self

    def layout_inputs(self) -> dict[str, Any]:
        """The part of the configuration that fixes the bins (a change re-aggregates)."""
        return {
            "bucket": self.bucket,
            "reference": self.reference.model_dump(mode="json"),
            "bootstrap_rows": self.bootstrap_rows,
            "intersections": self.fairness.intersections,
        }


class MonitorView(_Strict):
    """A model's monitor configuration and where its jobs stand."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "model": "credit-scoring",
                    "configured": True,
                    "config": {
                        "window": "1d",
                        "step": "1h",
                        "bucket": "5m",
                        "reference": {"kind": "uploaded"},
                    },
                    "updated_at": "2026-11-22T09:00:00Z",
                    "status": {
                        "last_window_end": "2026-11-22T10:00:00Z",
                        "pending_windows": 0,
                        "lag_seconds": 312.5,
                        "layouts": [
                            {
                                "version": "2026-11-01",
                                "source": "reference",
                                "layout_hash": "9b544fa3…",
                                "reference_hash": "3a6c2830…",
                                "reference_rows": 20000,
                            }
                        ],
                    },
                }
            ]
        },
    )

    model: str
    configured: bool = Field(description="False while the model runs on the defaults.")
    config: MonitorConfig
    updated_at: datetime | None
    status: MonitorStatus


class MonitorStatus(_Strict):
    """Progress of aggregation and evaluation for one model."""

    last_window_end: datetime | None = Field(description="End of the newest evaluated window.")
    pending_windows: int
    lag_seconds: float | None = Field(
        description="How far evaluation trails real time: how long the oldest due, unevaluated window "
        "has been due (0 when none waits; null before the first window)."
    )
    layouts: list[LayoutView]
    failures: list[FailureView] = Field(
        default_factory=list,
        description="Units of this model's work that raised and wait for their retry (the other models' "
        "units go on): its aggregation, a window's evaluation, its alerting.",
    )


class LayoutView(_Strict):
    version: str
    source: str = Field(description="reference, bootstrap or range: where the bins were fitted.")
    layout_hash: str
    reference_hash: str
    reference_rows: int


MonitorView.model_rebuild()
MonitorStatus.model_rebuild()
