"""What the gateway adds over the components it calls: Seldon's CI gate for its own executor
(mean < 3 ms and p99 < 10 ms added), measured on the bench's graphs.

A graph target pairs with the direct targets of the components it calls, on the same payload,
concurrency and protocol, in the same run (so over the same interleaved moments): the single
graph with the wrapper alone, the A/B graph with the router plus the wrapper. The added mean
is the difference of the means; the added p99 is the graph's p99 less the sum of its
components' p99s (a lower bound of the hop's own tail, which is not measured apart).

The floor is measured the same way: `bench.forwarder`, a Python gRPC server and client that
pass bytes through, in front of the wrapper. It is what any Python gRPC hop costs on this
machine at this load, so the gRPC graphs' hop can be read as (the floor) + (the gateway's own).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from seldon_tfserving.bench.report import Measurement
from seldon_tfserving.bench.suite import (
    GATEWAY_FLOOR_TARGET,
    ROUTER_GRPC,
    ROUTER_REST,
    SELDON_TFTENSOR,
    TF_GRPC_FACE,
    TF_REST_FACE_REST_TRANSPORT,
    WRAPPER_REST_NDARRAY,
)

#: Seldon's gate for the executor's own cost, milliseconds.
MAX_ADDED_MEAN_MS = 3.0
MAX_ADDED_P99_MS = 10.0


@dataclass(frozen=True)
class HopSpec:
    """A graph target (or the floor's) and the direct targets of every component one of its
    requests calls."""

    graph: str
    components: tuple[str, ...]


HOPS = (
    HopSpec("graph single rest", (WRAPPER_REST_NDARRAY,)),
    HopSpec("graph single grpc tftensor", (SELDON_TFTENSOR,)),
    HopSpec(GATEWAY_FLOOR_TARGET, (SELDON_TFTENSOR,)),
    HopSpec("graph ab rest", (ROUTER_REST, WRAPPER_REST_NDARRAY)),
    HopSpec("graph ab grpc tftensor", (ROUTER_GRPC, SELDON_TFTENSOR)),
    HopSpec("graph tf single rest", (TF_REST_FACE_REST_TRANSPORT,)),
    HopSpec("graph tf single grpc", (TF_GRPC_FACE,)),
)


@dataclass(frozen=True)
class GatewayHop:
    """The gateway's added latency on one graph at one payload and concurrency."""

    graph: str
    components: tuple[str, ...]
    payload: str
    concurrency: int
    added_mean_ms: float | None
    added_p99_ms: float | None

    @property
    def met(self) -> bool:
        """Both bounds hold; a side without answers fails."""
        if self.added_mean_ms is None or self.added_p99_ms is None:
            return False
        return self.added_mean_ms < MAX_ADDED_MEAN_MS and self.added_p99_ms < MAX_ADDED_P99_MS

    def as_json(self) -> dict[str, object]:
        return {
            "graph": self.graph,
            "components": list(self.components),
            "payload": self.payload,
            "concurrency": self.concurrency,
            "added_mean_ms": self.added_mean_ms,
            "added_p99_ms": self.added_p99_ms,
            "max_added_mean_ms": MAX_ADDED_MEAN_MS,
            "max_added_p99_ms": MAX_ADDED_P99_MS,
            "met": self.met,
        }


def _added(graph: float, parts: Sequence[float]) -> float | None:
    if math.isnan(graph) or any(math.isnan(part) for part in parts):
        return None
    return graph - sum(parts)


def gateway_hops(
    measurements: Sequence[Measurement], specs: Sequence[HopSpec] = HOPS
) -> list[GatewayHop]:
    """Every hop whose graph and components were all measured, per payload and concurrency."""
    cells = {(m.target, m.payload, m.concurrency): m for m in measurements}
    places = list(dict.fromkeys((m.payload, m.concurrency) for m in measurements))
    found = []
    for spec in specs:
        for payload, level in places:
            graph = cells.get((spec.graph, payload, level))
            parts = [cells.get((name, payload, level)) for name in spec.components]
            if graph is None or any(part is None for part in parts):
                continue
            measured = [part for part in parts if part is not None]
            found.append(
                GatewayHop(
                    spec.graph,
                    spec.components,
                    payload,
                    level,
                    _added(graph.stats.mean_ms, [p.stats.mean_ms for p in measured]),
                    _added(graph.stats.p99_ms, [p.stats.p99_ms for p in measured]),
                )
            )
    return found


def _ms(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f}"


def hop_table(hops: Sequence[GatewayHop]) -> str:
    """Markdown: one row per graph, payload and concurrency, with the gate's verdict."""
    lines = [
        "| graph | over | payload | conc. | added mean ms | added p99 ms | "
        f"gate (mean < {MAX_ADDED_MEAN_MS:g}, p99 < {MAX_ADDED_P99_MS:g}) |",
        "|---|---|---|--:|--:|--:|---|",
    ]
    for hop in hops:
        lines.append(
            f"| {hop.graph} | {' + '.join(hop.components)} | {hop.payload} | "
            f"{hop.concurrency} | {_ms(hop.added_mean_ms)} | {_ms(hop.added_p99_ms)} | "
            f"{'met' if hop.met else 'missed'} |"
        )
    return "\n".join(lines) + "\n"
