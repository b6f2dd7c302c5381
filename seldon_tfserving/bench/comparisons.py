"""The ratios the TF protocol's goals are stated in: one target against a reference target of
the same run, at the same payload and concurrency (so the same interleaved moments).

The goals: TfServingModel's TF gRPC face costs what its Seldon gRPC `tftensor` path
costs (the bare Python hop is the floor under both), its Seldon gRPC `ndarray` path is within
10% of `tftensor` for 1x4 (a ListValue of four numbers must not cost more than a tensor), and
its TF REST face is at most 1.2x TF Serving's own REST latency, so at least 1/1.2 of its
throughput, for 1x224x224x3. Seldon's REST `ndarray` on the wrapper with `transport: rest`
(TfServingProxy's REST path) is reported against TF Serving's REST and against the default
wrapper's gRPC transport, without a goal of its own.

Against a reference class given to `bench --reference-class` (Seldon's TfServingProxy, which
the bench does not ship), the goals are the wrapper's: on every payload, its Seldon REST path at
least 3x the reference's throughput (p50 at most a third), each gRPC path at least its.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from seldon_tfserving.bench.models import BENCH_MODELS
from seldon_tfserving.bench.report import Measurement
from seldon_tfserving.bench.suite import (
    FLOOR_TARGET,
    REFERENCE_GRPC_NDARRAY,
    REFERENCE_GRPC_TFTENSOR,
    REFERENCE_REST_NDARRAY,
    SELDON_NDARRAY,
    SELDON_TFTENSOR,
    TF_GRPC_FACE,
    TF_REST_FACE,
    TF_REST_FACE_REST_TRANSPORT,
    WRAPPER_REST_NDARRAY,
    WRAPPER_REST_NDARRAY_REST_TRANSPORT,
)

TFSERVING_REST = "tfserving rest"


@dataclass(frozen=True)
class Goal:
    """A stated bound: p50 at most `max_latency_ratio` x the reference's and req/s at least
    its inverse, on the payloads named (elsewhere the ratio is only reported)."""

    max_latency_ratio: float
    payloads: frozenset[str]


@dataclass(frozen=True)
class ComparisonSpec:
    """Which target is compared with which, and the goal, if one is stated."""

    label: str
    target: str
    reference: str
    goal: Goal | None = None


#: The TF REST face's goal: bodies pass through, so within 1.2x of TF Serving's REST.
REST_FACE_GOAL = Goal(1.2, frozenset({"1x224x224x3"}))
#: Seldon's gRPC `ndarray` against `tftensor` on the same wrapper: within 10% for 1x4.
NDARRAY_GOAL = Goal(1.1, frozenset({"1x4"}))
#: Against the reference class, on every payload: REST 3x its throughput, gRPC at least its.
EVERY_PAYLOAD = frozenset(model.payload_label for model in BENCH_MODELS)
REFERENCE_REST_GOAL = Goal(1 / 3, EVERY_PAYLOAD)
REFERENCE_GRPC_GOAL = Goal(1.0, EVERY_PAYLOAD)
COMPARISONS = (
    ComparisonSpec(
        "seldon grpc ndarray / seldon grpc tftensor", SELDON_NDARRAY, SELDON_TFTENSOR, NDARRAY_GOAL
    ),
    ComparisonSpec("tf grpc face / seldon grpc tftensor", TF_GRPC_FACE, SELDON_TFTENSOR),
    ComparisonSpec("tf grpc face / python grpc hop floor", TF_GRPC_FACE, FLOOR_TARGET),
    ComparisonSpec(
        "tf rest face (transport rest) / tfserving rest",
        TF_REST_FACE_REST_TRANSPORT,
        TFSERVING_REST,
        REST_FACE_GOAL,
    ),
    ComparisonSpec("tf rest face / tfserving rest", TF_REST_FACE, TFSERVING_REST, REST_FACE_GOAL),
    ComparisonSpec(
        "seldon rest ndarray (transport rest) / tfserving rest",
        WRAPPER_REST_NDARRAY_REST_TRANSPORT,
        TFSERVING_REST,
    ),
    ComparisonSpec(
        "seldon rest ndarray (transport rest) / seldon rest ndarray",
        WRAPPER_REST_NDARRAY_REST_TRANSPORT,
        WRAPPER_REST_NDARRAY,
    ),
    ComparisonSpec(
        "seldon rest ndarray / reference rest ndarray",
        WRAPPER_REST_NDARRAY,
        REFERENCE_REST_NDARRAY,
        REFERENCE_REST_GOAL,
    ),
    ComparisonSpec(
        "seldon rest ndarray (transport rest) / reference rest ndarray",
        WRAPPER_REST_NDARRAY_REST_TRANSPORT,
        REFERENCE_REST_NDARRAY,
        REFERENCE_REST_GOAL,
    ),
    ComparisonSpec(
        "seldon grpc tftensor / reference grpc tftensor",
        SELDON_TFTENSOR,
        REFERENCE_GRPC_TFTENSOR,
        REFERENCE_GRPC_GOAL,
    ),
    ComparisonSpec(
        "seldon grpc ndarray / reference grpc ndarray",
        SELDON_NDARRAY,
        REFERENCE_GRPC_NDARRAY,
        REFERENCE_GRPC_GOAL,
    ),
)


@dataclass(frozen=True)
class Comparison:
    """One comparison at one payload and concurrency; a ratio is None when either side has
    no good answers."""

    label: str
    target: str
    reference: str
    payload: str
    concurrency: int
    #: p50 of the target / p50 of the reference
    latency_ratio: float | None
    #: req/s of the target / req/s of the reference
    throughput_ratio: float | None
    #: the goal's bound on `latency_ratio` here (None: no goal at this payload)
    max_latency_ratio: float | None = None
    #: CPU per answer of the process the target calls / that of the process the reference
    #: calls: the per-request work, steadier than req/s on a shared machine (None: unread)
    cpu_ratio: float | None = None

    @property
    def min_throughput_ratio(self) -> float | None:
        return None if self.max_latency_ratio is None else 1.0 / self.max_latency_ratio

    @property
    def met(self) -> bool | None:
        """Whether both bounds hold (None: no goal here); a side without answers fails."""
        if self.max_latency_ratio is None or self.min_throughput_ratio is None:
            return None
        if self.latency_ratio is None or self.throughput_ratio is None:
            return False
        return (
            self.latency_ratio <= self.max_latency_ratio
            and self.throughput_ratio >= self.min_throughput_ratio
        )

    def as_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "target": self.target,
            "reference": self.reference,
            "payload": self.payload,
            "concurrency": self.concurrency,
            "latency_ratio": self.latency_ratio,
            "throughput_ratio": self.throughput_ratio,
            "max_latency_ratio": self.max_latency_ratio,
            "min_throughput_ratio": self.min_throughput_ratio,
            "met": self.met,
            "cpu_ratio": self.cpu_ratio,
        }


def _ratio(numerator: float, denominator: float) -> float | None:
    if math.isnan(numerator) or math.isnan(denominator) or numerator <= 0 or denominator <= 0:
        return None
    return numerator / denominator


def compare(
    measurements: Sequence[Measurement], specs: Sequence[ComparisonSpec] = COMPARISONS
) -> list[Comparison]:
    """Every comparison whose two targets were both measured, per payload and concurrency."""
    cells = {(m.target, m.payload, m.concurrency): m for m in measurements}
    places = list(dict.fromkeys((m.payload, m.concurrency) for m in measurements))
    found = []
    for spec in specs:
        for payload, level in places:
            target = cells.get((spec.target, payload, level))
            reference = cells.get((spec.reference, payload, level))
            if target is None or reference is None:
                continue
            goal = spec.goal if spec.goal and payload in spec.goal.payloads else None
            found.append(
                Comparison(
                    spec.label,
                    spec.target,
                    spec.reference,
                    payload,
                    level,
                    _ratio(target.stats.p50_ms, reference.stats.p50_ms),
                    _ratio(target.requests_per_second, reference.requests_per_second),
                    goal.max_latency_ratio if goal else None,
                    _cpu_ratio(target, reference),
                )
            )
    return found


def _cpu_ratio(target: Measurement, reference: Measurement) -> float | None:
    spent, spent_by_reference = target.process_cpu_us, reference.process_cpu_us
    if spent is None or spent_by_reference is None:
        return None
    return _ratio(spent, spent_by_reference)


def _times(ratio: float | None) -> str:
    return "failed" if ratio is None else f"{ratio:.2f}"


def comparison_table(comparisons: Sequence[Comparison]) -> str:
    """Markdown: one row per comparison, payload and concurrency, with its goal and verdict."""
    lines = [
        "| comparison | payload | conc. | p50 ratio | req/s ratio | goal | met | CPU ratio |",
        "|---|---|--:|--:|--:|---|---|--:|",
    ]
    for c in comparisons:
        goal = "-"
        if c.max_latency_ratio is not None and c.min_throughput_ratio is not None:
            goal = f"p50 <= {c.max_latency_ratio:.2f}, req/s >= {c.min_throughput_ratio:.2f}"
        met = {None: "-", True: "yes", False: "no"}[c.met]
        lines.append(
            f"| {c.label} | {c.payload} | {c.concurrency} | {_times(c.latency_ratio)} | "
            f"{_times(c.throughput_ratio)} | {goal} | {met} | "
            f"{'-' if c.cpu_ratio is None else f'{c.cpu_ratio:.2f}'} |"
        )
    return "\n".join(lines) + "\n"
