"""The drift report's picture: per feature, baseline and serving histograms, drifted marked."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seldon_tfserving.logs.drift import FeatureDrift

DRIFT_COLOUR = "#c62828"


def write_drift_chart(
    path: Path,
    drifts: Sequence[FeatureDrift],
    baseline: Mapping[str, np.ndarray[Any, Any]],
    serving: Mapping[str, np.ndarray[Any, Any]],
) -> Path:
    """A PNG with one panel per feature (density histograms for numbers, shares for
    categories); a drifted feature's panel has a red title and frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = max(1, len(drifts))
    columns = min(3, count)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.flat[count:]:
        axis.set_visible(False)
    for axis, drift in zip(axes.flat, drifts, strict=False):
        base = _values(baseline[drift.name])
        serve = _values(serving[drift.name])
        if drift.kind == "numeric":
            both = np.concatenate([base.astype(float), serve.astype(float)])
            bins = np.histogram_bin_edges(both, bins=30)
            axis.hist(base.astype(float), bins=bins, density=True, alpha=0.55, label="baseline")
            axis.hist(serve.astype(float), bins=bins, density=True, alpha=0.55, label="serving")
        else:
            labels = sorted(set(base.astype(str)) | set(serve.astype(str)))
            positions = np.arange(len(labels))
            for offset, values, label in ((-0.2, base, "baseline"), (0.2, serve, "serving")):
                text = values.astype(str)
                shares = [float(np.mean(text == item)) for item in labels]
                axis.bar(positions + offset, shares, width=0.4, alpha=0.8, label=label)
            axis.set_xticks(positions, labels, rotation=45, fontsize=7)
        mark = "DRIFT  " if drift.drifted else ""
        axis.set_title(
            f"{mark}{drift.name}\np={drift.p_value_corrected:.2g}  PSI={drift.psi:.3f}",
            fontsize=9,
            color=DRIFT_COLOUR if drift.drifted else "black",
        )
        if drift.drifted:
            for spine in axis.spines.values():
                spine.set_edgecolor(DRIFT_COLOUR)
                spine.set_linewidth(2.0)
        axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _values(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if values.dtype.kind == "f":
        return np.asarray(values[~np.isnan(values)])
    return np.asarray([v for v in values.tolist() if v is not None], dtype=object)
