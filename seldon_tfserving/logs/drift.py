"""Feature-by-feature drift of serving traffic against a training baseline.

Numbers get alibi-detect's Kolmogorov-Smirnov detector, categories its chi-squared one; the
p-values of all features are then corrected together (Bonferroni or Benjamini-Hochberg), since
alibi-detect's own correction spans one detector's features only. PSI is reported beside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Kind = Literal["numeric", "categorical"]
Correction = Literal["bonferroni", "fdr"]
PSI_BINS = 10
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's verdict."""

    name: str
    kind: Kind
    test: str
    statistic: float
    p_value: float
    #: the p-value after the correction across all features
    p_value_corrected: float
    psi: float
    #: the corrected test rejects "same distribution" at the threshold
    test_drifted: bool
    #: the verdict: the test rejects, or PSI reached its threshold
    drifted: bool
    baseline_count: int
    serving_count: int


def feature_kind(baseline: np.ndarray[Any, Any], serving: np.ndarray[Any, Any]) -> Kind:
    """Numbers (not flags) are numeric; text, flags and mixtures are categories."""
    for values in (baseline, serving):
        if values.dtype.kind not in "iuf":
            return "categorical"
    return "numeric"


def _ks(baseline: np.ndarray[Any, Any], serving: np.ndarray[Any, Any]) -> tuple[float, float]:
    from alibi_detect.cd import KSDrift

    detector = KSDrift(baseline.astype(np.float64).reshape(-1, 1), p_val=0.05)
    data = detector.predict(serving.astype(np.float64).reshape(-1, 1), drift_type="feature")
    return float(data["data"]["distance"][0]), float(data["data"]["p_val"][0])


def _codes(
    baseline: np.ndarray[Any, Any], serving: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], list[str]]:
    """Both samples as integer codes over one vocabulary (chi-squared counts categories)."""
    base_text = baseline.astype(str)
    serve_text = serving.astype(str)
    vocabulary = sorted(set(base_text.tolist()) | set(serve_text.tolist()))
    index = {value: i for i, value in enumerate(vocabulary)}
    encode = np.vectorize(index.__getitem__, otypes=[np.int64])
    return encode(base_text), encode(serve_text), vocabulary


def _chi2(baseline: np.ndarray[Any, Any], serving: np.ndarray[Any, Any]) -> tuple[float, float]:
    from alibi_detect.cd import ChiSquareDrift

    base_codes, serve_codes, vocabulary = _codes(baseline, serving)
    if len(vocabulary) < 2:
        return 0.0, 1.0  # one category on both sides: nothing can have moved
    detector = ChiSquareDrift(
        base_codes.reshape(-1, 1), p_val=0.05, categories_per_feature={0: len(vocabulary)}
    )
    data = detector.predict(serve_codes.reshape(-1, 1), drift_type="feature")
    return float(data["data"]["distance"][0]), float(data["data"]["p_val"][0])


def population_stability_index(
    baseline: np.ndarray[Any, Any], serving: np.ndarray[Any, Any], kind: Kind
) -> float:
    """PSI over the baseline's deciles (numbers) or over the categories seen."""
    if kind == "numeric":
        base = baseline.astype(np.float64)
        edges = np.unique(np.quantile(base, np.linspace(0, 1, PSI_BINS + 1)))
        if len(edges) < 2:
            edges = np.array([base.min() - 0.5, base.min() + 0.5])
        edges[0], edges[-1] = -np.inf, np.inf
        expected = np.histogram(base, edges)[0].astype(np.float64)
        actual = np.histogram(serving.astype(np.float64), edges)[0].astype(np.float64)
    else:
        base_codes, serve_codes, vocabulary = _codes(baseline, serving)
        expected = np.bincount(base_codes, minlength=len(vocabulary)).astype(np.float64)
        actual = np.bincount(serve_codes, minlength=len(vocabulary)).astype(np.float64)
    p = np.maximum(expected / max(expected.sum(), 1.0), PSI_FLOOR)
    q = np.maximum(actual / max(actual.sum(), 1.0), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def corrected(p_values: Sequence[float], method: Correction) -> list[float]:
    """Adjusted p-values: Bonferroni (p * m) or Benjamini-Hochberg's step-up."""
    m = len(p_values)
    if method == "bonferroni":
        return [min(1.0, p * m) for p in p_values]
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return adjusted


def feature_drift(
    baseline: Mapping[str, np.ndarray[Any, Any]],
    serving: Mapping[str, np.ndarray[Any, Any]],
    threshold: float = 0.05,
    correction: Correction = "bonferroni",
    categorical: Sequence[str] = (),
    psi_threshold: float = 0.25,
) -> list[FeatureDrift]:
    """Each feature present on both sides, tested; `threshold` is the corrected tests' level,
    `psi_threshold` the PSI that counts as drift on its own (0.25: the field's "major shift")."""
    names = [name for name in baseline if name in serving]
    if not names:
        raise ValueError(
            "the baseline and the serving window share no feature "
            f"(baseline: {', '.join(baseline) or 'none'}; serving: {', '.join(serving) or 'none'})"
        )
    measured: list[tuple[str, Kind, str, float, float, float, int, int]] = []
    for name in names:
        base, serve = _clean(baseline[name]), _clean(serving[name])
        if len(base) == 0 or len(serve) == 0:
            raise ValueError(f"feature {name!r} has no values on one side")
        kind: Kind = "categorical" if name in categorical else feature_kind(base, serve)
        statistic, p_value = _ks(base, serve) if kind == "numeric" else _chi2(base, serve)
        psi = population_stability_index(base, serve, kind)
        test = "kolmogorov-smirnov" if kind == "numeric" else "chi-squared"
        measured.append((name, kind, test, statistic, p_value, psi, len(base), len(serve)))
    adjusted = corrected([m[4] for m in measured], correction)
    return [
        FeatureDrift(
            name=name,
            kind=kind,
            test=test,
            statistic=statistic,
            p_value=p_value,
            p_value_corrected=p_adjusted,
            psi=psi,
            test_drifted=p_adjusted < threshold,
            drifted=p_adjusted < threshold or psi >= psi_threshold,
            baseline_count=n_base,
            serving_count=n_serve,
        )
        for (name, kind, test, statistic, p_value, psi, n_base, n_serve), p_adjusted in zip(
            measured, adjusted, strict=True
        )
    ]


def _clean(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The values that were logged: nulls and NaN left out."""
    if values.dtype.kind == "f":
        return np.asarray(values[~np.isnan(values)])
    if values.dtype.kind == "O":
        kept = [v for v in values.tolist() if v is not None and not _is_nan(v)]
        if kept and all(isinstance(v, int | float) and not isinstance(v, bool) for v in kept):
            return np.asarray(kept, dtype=np.float64)
        return np.asarray([str(v) for v in kept], dtype=object)
    return values


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)
