"""TensorFlow's monitoring cells (Counter, Sampler) and the page TF Serving's PrometheusExporter
writes from them, so that a scraper sees what it sees from tensorflow_model_server.

The rules are prometheus_exporter.cc's: the metric name with every character outside
`[a-zA-Z0-9_]` made `:` (`/tensorflow/serving/request_count` ->
`:tensorflow:serving:request_count`), a `# TYPE` line and no `# HELP`, `{}` on an unlabelled
sample, cumulative `_bucket` lines ending at `+Inf`, then `_sum` and `_count`; families in the
order of their TensorFlow names. A sample lands in the first bucket whose limit is above it
(TensorFlow's histogram), and numbers are written as absl's StrCat writes them (six digits).
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_NOT_IN_METRIC_NAME = re.compile(r"[^a-zA-Z0-9_]")
_NOT_IN_LABEL_NAME = re.compile(r"[^a-zA-Z0-9]")


def exponential_buckets(scale: float, growth_factor: float, count: int) -> tuple[float, ...]:
    """monitoring::Buckets::Exponential: `count` limits from `scale`, each `growth_factor`
    times the one before (a last bucket to +Inf follows them)."""
    limits = []
    bound = scale
    for _ in range(count):
        limits.append(bound)
        bound *= growth_factor
    return tuple(limits)


def prometheus_metric_name(name: str) -> str:
    """The exporter's metric name for a TensorFlow metric name."""
    sanitized = _NOT_IN_METRIC_NAME.sub(":", name)
    return f"_{sanitized}" if sanitized[:1].isdigit() else sanitized


def prometheus_label_name(name: str) -> str:
    sanitized = _NOT_IN_LABEL_NAME.sub("_", name)
    return f"_{sanitized}" if sanitized[:1].isdigit() else sanitized


def prometheus_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def absl_number(value: float) -> str:
    """A double as absl::StrCat writes it: %g with six significant digits."""
    return format(value, "g")


def _labels(names: Sequence[str], values: Sequence[str]) -> list[str]:
    return [
        f'{prometheus_label_name(n)}="{prometheus_label_value(v)}"'
        for n, v in zip(names, values, strict=True)
    ]


class CounterFamily:
    """monitoring::Counter<N>: an integer per combination of label values."""

    def __init__(self, name: str, label_names: Sequence[str] = ()) -> None:
        self.name = name
        self.label_names = tuple(label_names)
        self._cells: dict[tuple[str, ...], int] = {}
        self._lock = threading.Lock()

    def increment(self, *label_values: str, by: int = 1) -> None:
        key = self._key(label_values)
        with self._lock:
            self._cells[key] = self._cells.get(key, 0) + by

    def value(self, *label_values: str) -> int:
        with self._lock:
            return self._cells.get(self._key(label_values), 0)

    def lines(self) -> list[str]:
        with self._lock:
            cells = list(self._cells.items())
        return counter_lines(self.name, self.label_names, cells)

    def _key(self, label_values: Sequence[str]) -> tuple[str, ...]:
        if len(label_values) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {label_values}")
        return tuple(label_values)


def counter_lines(
    name: str, label_names: Sequence[str], cells: Iterable[tuple[Sequence[str], int]]
) -> list[str]:
    """A counter's lines on the page (also for counters kept by TensorFlow itself)."""
    metric = prometheus_metric_name(name)
    lines = [f"# TYPE {metric} counter"]
    for values, count in cells:
        lines.append(f"{metric}{{{','.join(_labels(label_names, values))}}} {int(count)}")
    return lines


@dataclass
class _Histogram:
    """tensorflow::histogram::Histogram over fixed limits (the last bucket is to +Inf)."""

    buckets: list[int]
    total: float = 0.0
    samples: int = field(default=0)


class SamplerFamily:
    """monitoring::Sampler<N>: a histogram per combination of label values."""

    def __init__(
        self, name: str, label_names: Sequence[str], bucket_limits: Sequence[float]
    ) -> None:
        self.name = name
        self.label_names = tuple(label_names)
        self.bucket_limits = tuple(bucket_limits)
        self._cells: dict[tuple[str, ...], _Histogram] = {}
        self._lock = threading.Lock()

    def add(self, *label_values: str, sample: float) -> None:
        if len(label_values) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {label_values}")
        index = bisect.bisect_right(self.bucket_limits, sample)
        with self._lock:
            cell = self._cells.get(label_values)
            if cell is None:
                cell = self._cells[label_values] = _Histogram([0] * (len(self.bucket_limits) + 1))
            cell.buckets[index] += 1
            cell.total += sample
            cell.samples += 1

    def count(self, *label_values: str) -> int:
        with self._lock:
            cell = self._cells.get(tuple(label_values))
            return 0 if cell is None else cell.samples

    def lines(self) -> list[str]:
        metric = prometheus_metric_name(self.name)
        with self._lock:
            cells = [(values, list(c.buckets), c.total) for values, c in self._cells.items()]
        lines = [f"# TYPE {metric} histogram"]
        for values, buckets, total in cells:
            labels = _labels(self.label_names, values)
            prefix = f"{metric}_bucket{{{','.join(labels)}{',' if labels else ''}"
            cumulative = 0
            for index, count in enumerate(buckets):
                cumulative += count
                limit = (
                    absl_number(self.bucket_limits[index])
                    if index < len(self.bucket_limits)
                    else "+Inf"
                )
                lines.append(f'{prefix}le="{limit}"}} {cumulative}')
            lines.append(f"{metric}_sum{{{','.join(labels)}}} {absl_number(total)}")
            lines.append(f"{metric}_count{{{','.join(labels)}}} {cumulative}")
        return lines


Family = CounterFamily | SamplerFamily


def exporter_page(sections: Iterable[tuple[str, list[str]]]) -> str:
    """PrometheusExporter::GeneratePage: each (TensorFlow name, lines) in name order."""
    lines: list[str] = []
    for _, section in sorted(sections, key=lambda item: item[0]):
        lines.extend(section)
    return "\n".join(lines) + "\n"
