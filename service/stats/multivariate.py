"""Multivariate drift: PCA fitted on the reference, and each row's reconstruction error.

A change in how numeric features move together (a correlation flipping sign with the
marginals unchanged) is invisible to every per-feature test. The reconstruction error sees
it: fitted once on the reference, the model

1. standardises each numeric feature j: z_j = (x_j − μ_j) / σ_j, with μ_j and σ_j the
   reference mean and population standard deviation of its representable values; a missing
   value (NaN, ±inf, |x| > 1e50, or a column absent from the batch) is imputed with the
   reference mean, z_j = 0; a row with no numeric value at all has no error (it counts as
   missing); features constant in the reference (σ_j = 0) are left out, their univariate
   drift sees any change;
2. keeps the k principal axes v_1 … v_k of the reference's standardised rows (SVD) whose
   eigenvalues λ_i = s_i² / n are at least ``MIN_EIGENVALUE`` = 1 (Kaiser's rule: a kept
   axis carries at least one standardised feature's variance), with 1 ≤ k ≤ d − 1 so that
   the error is not identically 0. The discarded axes are then the directions in which the
   reference hardly varies, which is where a broken dependence between features shows. A
   share-of-variance rule (keep 95 %) discards only the few smallest axes: with 5 pairs of
   features correlated at 0.8 it keeps 8 of 10 axes and discards an arbitrary 2 of the 5
   equally small ones, so on 40 seeded references only 38 % of one pair's low-variance
   direction lay, on average, where the error sees it (under 10 % on 7 of them), against
   100 % with Kaiser's rule (benchmarks/multivariate.py);
3. scores a row by its reconstruction error e = ‖z − V Vᵀ z‖₂ (V the d × k axes), the
   Euclidean distance between the standardised row and its projection, in reference
   standard deviations (dimensionless, ≥ 0; e² is the sum of the squared scores on the
   discarded axes).

Cross-fitting: steps 1 and 2 use the reference's even rows only; the odd rows are held out,
and their errors give the error's bins (quantile edges, ``bins.fit_numeric``) and the
reference profile's multivariate summary (``profile.reference_profile``). Errors of the rows
the axes were fitted on are biased low (the axes minimise exactly their residual; the bias
grows like k(d − k)/n), and a window's fresh rows are not; held out, the two-sample test
compares like with like at any reference size (benchmarks/multivariate.py measures both).

Every bucket profile carries the error's bin counts and sums (``Profile.multivariate``),
which merge by addition; the drift decision treats the error as one more numeric column
(``verdict.py``). Needs at least two non-constant numeric features and ``MIN_ROWS`` rows with
a numeric value in each half of the reference; otherwise there is no model and no figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.stats.bins import FloatArray, NumericBins, fit_numeric, representable

NAME = "multivariate_reconstruction_error"
MIN_EIGENVALUE = 1.0
MIN_ROWS = 30
# A standardised value is clipped at ±1e6 reference stds: no real shift needs more to
# show, and it keeps e² finite (d × 1e12) whatever the σ (a σ of 1e-300 would overflow).
Z_CLIP = 1e6


@dataclass(frozen=True, slots=True)
class MultivariateModel:
    """The fitted standardisation, principal axes and error bins (module docstring).

    ``features`` in the order of ``means`` / ``scales`` and of each axis's coordinates;
    ``axes`` the k kept principal axes (unit vectors, each of length d); ``explained`` the
    share of the reference's standardised variance they explain (0 to 1); ``bins`` the
    quantile bins of the reference errors.
    """

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    axes: tuple[tuple[float, ...], ...]
    explained: float
    bins: NumericBins
    _axes: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        d = len(self.features)
        if d < 2 or len(self.means) != d or len(self.scales) != d:
            raise ValueError("a multivariate model needs at least two features, each with a mean and scale")
        if not 1 <= len(self.axes) < d or any(len(axis) != d for axis in self.axes):
            raise ValueError("a multivariate model keeps between 1 and d − 1 axes of length d")
        if any(not s > 0 for s in self.scales):
            raise ValueError("every scale must be positive")
        axes = np.asarray(self.axes, dtype=np.float64)
        axes.flags.writeable = False
        object.__setattr__(self, "_axes", axes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "means": list(self.means),
            "scales": list(self.scales),
            "axes": [list(axis) for axis in self.axes],
            "explained": self.explained,
            "bins": self.bins.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultivariateModel:
        return cls(
            features=tuple(str(f) for f in data["features"]),
            means=tuple(float(m) for m in data["means"]),
            scales=tuple(float(s) for s in data["scales"]),
            axes=tuple(tuple(float(c) for c in axis) for axis in data["axes"]),
            explained=float(data["explained"]),
            bins=NumericBins.from_dict(data["bins"]),
        )

    def errors(self, numeric: Mapping[str, Any], rows: int) -> FloatArray:
        """Reconstruction error of each row (NaN for a row without any numeric value)."""
        z, present = _standardised(numeric, rows, self.features, self.means, self.scales)
        out = _residual_norms(z, self._axes)
        out[~present] = np.nan
        return out


def _standardised(
    numeric: Mapping[str, Any],
    rows: int,
    features: tuple[str, ...],
    means: tuple[float, ...],
    scales: tuple[float, ...],
) -> tuple[FloatArray, np.ndarray[Any, np.dtype[np.bool_]]]:
    """(n × d standardised values with missing ones 0, whether each row has any value)."""
    # Column-major: each feature is written into contiguous memory, not every d-th number
    # (0.08 s against 0.30 s of CPU for 15 features of 10^6 rows), and ``_residual_norms``
    # reads it a column at a time.
    z = np.zeros((rows, len(features)), dtype=np.float64, order="F")
    present = np.zeros(rows, dtype=bool)
    for j, name in enumerate(features):
        column = numeric.get(name)
        if column is None:
            continue
        x = np.asarray(column, dtype=np.float64)
        keep = representable(x)
        out = z[:, j]
        np.subtract(x, means[j], out=out)
        np.divide(out, scales[j], out=out)
        out[~keep] = 0.0
        np.clip(out, -Z_CLIP, Z_CLIP, out=out)
        present |= keep
    return z, present


def _moments(numeric: Mapping[str, Any], min_rows: int) -> dict[str, tuple[float, float]]:
    """Reference (mean, population std) of every numeric feature with ``min_rows``
    representable values and a positive std."""
    out: dict[str, tuple[float, float]] = {}
    for name, column in numeric.items():
        x = np.asarray(column, dtype=np.float64)
        x = x[representable(x)]
        if x.size < min_rows:
            continue
        mean = float(x.mean())
        std = float(np.sqrt(np.mean((x - mean) ** 2)))
        if std > 0 and np.isfinite(std):
            out[name] = (mean, std)
    return out


def kept_axes(eigenvalues: FloatArray, minimum: float = MIN_EIGENVALUE) -> int:
    """k: how many eigenvalues are at least ``minimum``, clamped to [1, d − 1]."""
    k = int(np.count_nonzero(eigenvalues >= minimum))
    return max(1, min(k, eigenvalues.size - 1))


def halves(numeric: Mapping[str, Any], rows: int) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
    """(even rows, odd rows) of every column: the fitting half and the held-out half."""
    columns = {name: np.asarray(column, dtype=np.float64) for name, column in numeric.items()}
    return {n: c[0:rows:2] for n, c in columns.items()}, {n: c[1:rows:2] for n, c in columns.items()}


def held_out_errors(model: MultivariateModel, numeric: Mapping[str, Any], rows: int) -> FloatArray:
    """The reconstruction errors of the reference's held-out (odd) rows: what the reference
    profile's multivariate summary holds (module docstring, "cross-fitting")."""
    _, held = halves(numeric, rows)
    return model.errors(held, rows // 2)


def fit_multivariate(
    numeric: Mapping[str, Any],
    *,
    rows: int,
    min_eigenvalue: float = MIN_EIGENVALUE,
    bins: int = 100,
    coarse_bins: int = 10,
    min_rows: int = MIN_ROWS,
) -> MultivariateModel | None:
    """The model of the module docstring: standardisation and axes fitted on the even rows of
    the reference's numeric columns, error bins on the odd rows' errors; None with fewer than
    two usable features or ``min_rows`` rows carrying a numeric value in either half."""
    fitting, held = halves(numeric, rows)
    moments = _moments(fitting, min_rows)
    if len(moments) < 2:
        return None
    features = tuple(moments)
    means = tuple(m for m, _ in moments.values())
    scales = tuple(s for _, s in moments.values())
    z, present = _standardised(fitting, (rows + 1) // 2, features, means, scales)
    z = z[present]
    held_z, held_present = _standardised(held, rows // 2, features, means, scales)
    if min(z.shape[0], int(held_present.sum())) < min_rows:
        return None
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    eigenvalues = singular**2 / z.shape[0]
    if not float(eigenvalues.sum()) > 0:
        return None
    k = kept_axes(eigenvalues, min_eigenvalue)
    return MultivariateModel(
        features=features,
        means=means,
        scales=scales,
        axes=tuple(tuple(float(c) for c in axis) for axis in vt[:k]),
        explained=float(eigenvalues[:k].sum() / eigenvalues.sum()),
        bins=fit_numeric(
            NAME, _residual_norms(held_z[held_present], vt[:k]), bins=bins, coarse_bins=coarse_bins
        ),
    )


def _residual_norms(z: FloatArray, axes: FloatArray) -> FloatArray:
    """‖z − V Vᵀ z‖₂ per row (``axes`` = Vᵀ, k × d), as √(‖z‖² − Σ_m (v_m · z)²) (orthonormal
    axes), clamped at 0 against rounding (the subtraction loses ~1e-16 × ‖z‖² in e², negligible
    against the error bins' widths).

    Summed feature by feature in a fixed order with elementwise operations, so that a row's
    error has the same bits whatever rows share the call: a bucket's profile must equal its
    part of a batch's. A matrix product does not promise that: OpenBLAS gave some rows other
    last bits by their position and the matrix's size (one AMD EPYC; a 1-row matrix goes
    through another routine on every machine). In blocks of ``_BLOCK`` rows, which stay in
    cache: 0.06 s of CPU for 15 features, 6 axes and 10^6 rows, as the matrix product took."""
    weights = np.asarray(axes, dtype=np.float64)
    out = np.empty(z.shape[0], dtype=np.float64)
    for start in range(0, z.shape[0], _BLOCK):
        block = np.asfortranarray(z[start : start + _BLOCK])
        total = _weighted_sum(block, block.T)
        for axis in weights:
            score = _weighted_sum(block, axis)
            total -= score * score
        np.sqrt(np.maximum(total, 0.0, out=total), out=out[start : start + _BLOCK])
    return out


_BLOCK = 16_384


def _weighted_sum(block: FloatArray, factors: FloatArray) -> FloatArray:
    """Σ_j block[:, j] · factors[j], accumulated in the order j = 0, 1, …: a weighted sum with
    one number per feature, or the sum of squares with ``factors`` = ``block.T``."""
    total: FloatArray = block[:, 0] * factors[0]
    scratch = np.empty_like(total)
    for j in range(1, block.shape[1]):
        total += np.multiply(block[:, j], factors[j], out=scratch)
    return total
