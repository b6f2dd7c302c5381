"""The demo's last step: the request logs it kept, and `skew` finding a feature that moved.

Every request of the journey went through the log sink (`up --log-sink`); the step reads the
rows back (with the feedback joined: accuracy per version, as the sink saw it), then sends a
stream whose one feature is shifted and runs the drift report on that window against the
training set, which flags the shifted feature and none of the others.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from seldon_tfserving.runner.demo_models import Dataset

#: the feature the shifted stream moves, and by how much (in units of the blobs' spread)
SHIFTED_FEATURE = 2
SHIFT = 2.5


def wait_for_rows(folder: Path, since: datetime | None, count: int, timeout_s: float) -> Any:
    """The logged rows once `count` are written (the sink writes every second)."""
    from seldon_tfserving.logs.baseline import serving_window

    deadline = time.monotonic() + timeout_s
    while True:
        rows = serving_window(folder, since, None)
        if rows.num_rows >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def logged_traffic(folder: Path, sent: int) -> dict[str, Any]:
    """What the sink kept of the journey: rows, and each version's accuracy from feedback."""
    from seldon_tfserving.logs.accuracy import version_scores

    rows = wait_for_rows(folder, None, sent, timeout_s=30.0)
    scores = version_scores(rows)
    print(f"  the sink wrote {rows.num_rows} rows (one per instance) under {folder}")
    for score in scores:
        accuracy = "-" if score.mean_reward is None else f"{score.mean_reward:.1%}"
        print(
            f"    version {score.model_version}: {score.rows} rows, {score.rewarded} with "
            f"feedback, mean reward (accuracy) {accuracy}"
        )
    return {
        "rows": rows.num_rows,
        "versions": {s.model_version: s.mean_reward for s in scores},
    }


def shifted_stream(client: Any, data: Dataset, count: int, seed: int = 23) -> int:
    """`count` test rows with one feature shifted, sent as the journey's own traffic is."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(data.test_y), size=count)
    sent = 0
    for row in rows:
        x = data.test_x[row : row + 1].copy()
        x[0, SHIFTED_FEATURE] += SHIFT
        if client.predict(data=x).success:
            sent += 1
    return sent


def drift_report(
    folder: Path, since: datetime, data: Dataset, output: Path, sent: int
) -> dict[str, Any]:
    """`skew` on the shifted window against the training features (f0..f3 as logged)."""
    from seldon_tfserving.logs.baseline import table_columns
    from seldon_tfserving.logs.drift import feature_drift
    from seldon_tfserving.logs.drift_chart import write_drift_chart
    from seldon_tfserving.logs.rows import FEATURE_PREFIX

    baseline_path = output / "training-features.npy"
    np.save(baseline_path, data.train_x)
    window = wait_for_rows(folder, since, sent, timeout_s=30.0)
    serving = table_columns(window, FEATURE_PREFIX)
    baseline = {f"f{i}": data.train_x[:, i] for i in range(data.train_x.shape[1])}
    drifts = feature_drift(baseline, serving)
    chart = write_drift_chart(output / "skew.png", drifts, baseline, serving)
    print(f"  seldon-tfserving skew --logs {folder} --since {since.isoformat()} \\")
    print(f"      --baseline {baseline_path} --png {chart}")
    for d in drifts:
        verdict = "DRIFT" if d.drifted else "ok"
        print(f"    {d.name}: {d.test} p={d.p_value_corrected:.2g} PSI={d.psi:.3f}  {verdict}")
    return {
        "window_rows": window.num_rows,
        "shifted_feature": f"f{SHIFTED_FEATURE}",
        "drifted": sorted(d.name for d in drifts if d.drifted),
        "png": str(chart),
    }


def skew_step(
    client: Any, data: Dataset, folder: Path, output: Path, sent: int, count: int
) -> dict[str, Any]:
    """Read the journey's logs back, send the shifted stream, report its drift."""
    kept = logged_traffic(folder, sent)
    since = datetime.now(UTC)
    print(f"  now {count} requests with feature f{SHIFTED_FEATURE} shifted by +{SHIFT}")
    shifted = shifted_stream(client, data, count)
    report = drift_report(folder, since, data, output, shifted)
    return {"logged": kept, "shifted_sent": shifted, **report}
