"""What the demo observed, summarised: traffic split, accuracy and latency per arm and version.

Pure functions over the demo's own records and the Prometheus text the gateway and the router
expose, so the numbers printed are the ones a dashboard would show.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Answer:
    """One prediction as the client saw it."""

    arm: str
    version: int | None
    correct: bool
    latency_s: float


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(answers: Iterable[Answer]) -> dict[str, Any]:
    """Per arm and per version: requests, share, accuracy, client latency percentiles (ms)."""
    answers = list(answers)
    total = len(answers) or 1

    def group(key: str) -> dict[str, Any]:
        buckets: dict[str, list[Answer]] = defaultdict(list)
        for answer in answers:
            buckets[str(getattr(answer, key))].append(answer)
        return {
            name: {
                "requests": len(items),
                "share": len(items) / total,
                "accuracy": sum(a.correct for a in items) / len(items),
                "versions": dict(Counter(str(a.version) for a in items)),
                "latency_ms": {
                    f"p{q}": 1000 * percentile([a.latency_s for a in items], q)
                    for q in (50, 90, 99)
                },
            }
            for name, items in sorted(buckets.items())
        }

    return {"requests": len(answers), "by_arm": group("arm"), "by_version": group("version")}


def histogram_quantiles(
    prometheus_text: str, metric: str, group_label: str, quantiles: Sequence[float] = (50, 90, 99)
) -> dict[str, dict[str, float]]:
    """Quantiles (ms) of a Prometheus histogram per value of `group_label`, estimated from its
    cumulative buckets as Prometheus' histogram_quantile does."""
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for family in text_string_to_metric_families(prometheus_text):
        if family.name != metric:
            continue
        for sample in family.samples:
            if sample.name == f"{metric}_bucket":
                group = sample.labels.get(group_label, "")
                buckets[group][float(sample.labels["le"])] += sample.value
    result = {}
    for group, cumulative in buckets.items():
        bounds = sorted(cumulative)
        count = cumulative[bounds[-1]] if bounds else 0.0
        if count <= 0:
            continue
        result[group] = {
            f"p{int(q)}": 1000 * _bucket_quantile(bounds, cumulative, count * q / 100.0)
            for q in quantiles
        }
    return result


def _bucket_quantile(bounds: list[float], cumulative: Mapping[float, float], rank: float) -> float:
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        if cumulative[bound] >= rank:
            if math.isinf(bound):
                return previous_bound
            share = (rank - previous_count) / max(cumulative[bound] - previous_count, 1e-12)
            return previous_bound + (bound - previous_bound) * share
        previous_bound, previous_count = bound, cumulative[bound]
    return previous_bound


def samples_by_label(prometheus_text: str, name: str, label: str) -> dict[str, float]:
    """The value of every sample called `name`, keyed by one of its labels (summed)."""
    result: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(prometheus_text):
        for sample in family.samples:
            if sample.name == name:
                result[sample.labels.get(label, "")] += sample.value
    return dict(result)


def format_table(title: str, rows: Mapping[str, Mapping[str, Any]]) -> str:
    """A fixed-width table of per-arm or per-version figures."""
    lines = [
        title,
        f"  {'':<14}{'requests':>9}{'share':>8}{'accuracy':>10}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}  answered by version",
    ]
    for name, row in rows.items():
        latency = row["latency_ms"]
        versions = ", ".join(f"v{v}: {n}" for v, n in sorted(row["versions"].items()))
        lines.append(
            f"  {name:<14}{row['requests']:>9}{row['share']:>8.0%}{row['accuracy']:>10.1%}"
            f"{latency['p50']:>9.1f}{latency['p90']:>9.1f}{latency['p99']:>9.1f}  {versions}"
        )
    return "\n".join(lines)
