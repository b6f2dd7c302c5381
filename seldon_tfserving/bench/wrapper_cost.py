"""What the wrapper costs per request over the bare Python gRPC hop, in microseconds.

The floor (`python grpc hop (floor)`) is a grpcio server forwarding Predict's bytes to TF
Serving: what any second hop served by Python costs. Each wrapper path at the same payload
and concurrency, in the same run, is measured against it; what is left over is the wrapper's
own work (Seldon's servicer, decoding, our call, metrics, encoding). The goal for the gRPC
paths: at most 100 us over the hop for 1x4, at concurrency 1 and 8.

Latency over the floor at concurrency 8 on a small machine is mostly queueing behind the
other processes; beside it stands the CPU each hop's process spends per answer (the wrapper's
component, the forwarder), which is the per-request work itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from seldon_tfserving.bench.report import Measurement
from seldon_tfserving.bench.suite import FLOOR_TARGET

#: The gRPC paths' bound over the hop, microseconds, and where it applies.
MAX_GRPC_COST_US = 100.0
GOAL_PAYLOADS = frozenset({"1x4"})
WRAPPER_PREFIX = "wrapper "


@dataclass(frozen=True)
class WrapperCost:
    """One wrapper path's latency over the floor's at one payload and concurrency."""

    target: str
    protocol: str
    payload: str
    concurrency: int
    #: mean latency less the floor's mean, microseconds (None: either side had no answers)
    mean_us: float | None
    #: p50 less the floor's p50, microseconds
    p50_us: float | None
    #: CPU microseconds per answer of the wrapper's process, and of the floor's forwarder
    cpu_us: float | None = None
    floor_cpu_us: float | None = None

    @property
    def cpu_over_us(self) -> float | None:
        """The wrapper's CPU per answer less the forwarder's (None: either was not read)."""
        if self.cpu_us is None or self.floor_cpu_us is None:
            return None
        return self.cpu_us - self.floor_cpu_us

    @property
    def max_us(self) -> float | None:
        """The goal's bound here, or None where no goal is stated."""
        if self.protocol == "grpc" and self.payload in GOAL_PAYLOADS:
            return MAX_GRPC_COST_US
        return None

    @property
    def met(self) -> bool | None:
        """Whether the mean and the p50 both stay within the bound (None: no goal here)."""
        bound = self.max_us
        if bound is None:
            return None
        if self.mean_us is None or self.p50_us is None:
            return False
        return self.mean_us <= bound and self.p50_us <= bound

    def as_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "over": FLOOR_TARGET,
            "payload": self.payload,
            "concurrency": self.concurrency,
            "mean_us": self.mean_us,
            "p50_us": self.p50_us,
            "max_us": self.max_us,
            "met": self.met,
            "cpu_us": self.cpu_us,
            "floor_cpu_us": self.floor_cpu_us,
            "cpu_over_us": self.cpu_over_us,
        }


def _over(value_ms: float, floor_ms: float) -> float | None:
    if math.isnan(value_ms) or math.isnan(floor_ms):
        return None
    return (value_ms - floor_ms) * 1000.0


def wrapper_costs(measurements: Sequence[Measurement]) -> list[WrapperCost]:
    """Every wrapper path measured beside the floor, per payload and concurrency."""
    floors = {(m.payload, m.concurrency): m for m in measurements if m.target == FLOOR_TARGET}
    found = []
    for measurement in measurements:
        floor = floors.get((measurement.payload, measurement.concurrency))
        if floor is None or not measurement.target.startswith(WRAPPER_PREFIX):
            continue
        found.append(
            WrapperCost(
                measurement.target,
                measurement.protocol,
                measurement.payload,
                measurement.concurrency,
                _over(measurement.stats.mean_ms, floor.stats.mean_ms),
                _over(measurement.stats.p50_ms, floor.stats.p50_ms),
                measurement.process_cpu_us,
                floor.process_cpu_us,
            )
        )
    return found


def _us(value: float | None) -> str:
    return "failed" if value is None else f"{value:.0f}"


def cost_table(costs: Sequence[WrapperCost]) -> str:
    """Markdown: one row per wrapper path, payload and concurrency, with the goal's verdict."""
    lines = [
        f"| wrapper path | payload | conc. | mean us over the hop | p50 us over the hop | "
        f"goal (gRPC, 1x4: <= {MAX_GRPC_COST_US:g} us) | CPU us an answer (floor's) |",
        "|---|---|--:|--:|--:|---|--:|",
    ]
    for cost in costs:
        verdict = {None: "-", True: "met", False: "missed"}[cost.met]
        cpu = "-" if cost.cpu_us is None else f"{cost.cpu_us:.0f}"
        if cost.cpu_us is not None and cost.floor_cpu_us is not None:
            cpu += f" ({cost.floor_cpu_us:.0f})"
        lines.append(
            f"| {cost.target} | {cost.payload} | {cost.concurrency} | {_us(cost.mean_us)} | "
            f"{_us(cost.p50_us)} | {verdict} | {cpu} |"
        )
    return "\n".join(lines) + "\n"
