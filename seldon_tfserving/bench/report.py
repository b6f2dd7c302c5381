"""The bench's results as a table (README-ready markdown), a JSON document and a PNG chart."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from seldon_tfserving.bench.harness import LatencyStats, LoadResult
from seldon_tfserving.bench.process_names import BACKEND_PROCESS


@dataclass(frozen=True)
class Measurement:
    """One target at one payload and concurrency; the ratio compares p50 with the direct call."""

    target: str
    protocol: str
    payload: str
    concurrency: int
    stats: LatencyStats
    requests_per_second: float
    errors: dict[str, int] = field(default_factory=dict)
    #: p50 latency / p50 of TF Serving called directly with the same protocol (None: no baseline)
    ratio_to_direct: float | None = None
    #: the bench's name for the process the target calls (None: not watched)
    process: str | None = None
    #: CPU microseconds per good answer of each watched process: the target's and the backend
    cpu_us_per_answer: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        target: str,
        protocol: str,
        payload: str,
        result: LoadResult,
        process: str | None = None,
    ) -> Measurement:
        answers = result.stats.count
        return cls(
            target,
            protocol,
            payload,
            result.concurrency,
            result.stats,
            result.requests_per_second,
            dict(result.errors),
            process=process,
            cpu_us_per_answer=(
                {name: seconds / answers * 1e6 for name, seconds in result.cpu_s.items()}
                if answers
                else {}
            ),
        )

    @property
    def process_cpu_us(self) -> float | None:
        """CPU microseconds per good answer of the process the target calls (None: unread)."""
        if self.process is None:
            return None
        return self.cpu_us_per_answer.get(self.process)


#: The direct call each protocol's targets are compared with.
BASELINE_FOR_PROTOCOL = {"grpc": "tfserving grpc", "rest": "tfserving rest"}


def with_ratios(measurements: Sequence[Measurement]) -> list[Measurement]:
    """Fill `ratio_to_direct` from the baseline of the same protocol, payload and concurrency."""
    baselines = {
        (m.protocol, m.payload, m.concurrency): m.stats.p50_ms
        for m in measurements
        if m.target == BASELINE_FOR_PROTOCOL.get(m.protocol)
    }
    out = []
    for m in measurements:
        base = baselines.get((m.protocol, m.payload, m.concurrency))
        measured = not math.isnan(m.stats.p50_ms)
        ratio = m.stats.p50_ms / base if measured and base and not math.isnan(base) else None
        out.append(Measurement(**{**_fields(m), "ratio_to_direct": ratio}))
    return out


def _fields(m: Measurement) -> dict[str, Any]:
    return {name: getattr(m, name) for name in Measurement.__dataclass_fields__}


def machine_description() -> dict[str, Any]:
    """The machine the numbers came from: CPU model, cores, memory, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        memory = f"{mem_kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def to_json(
    measurements: Sequence[Measurement], settings: dict[str, Any], command: str
) -> dict[str, Any]:
    return {
        "command": command,
        "machine": machine_description(),
        "settings": settings,
        "baseline": "p50 latency ratio to TF Serving called directly with the same protocol",
        "results": [_without_nan(asdict(m)) for m in measurements],
    }


def _without_nan(value: Any) -> Any:
    """JSON has no NaN: a statistic with no samples is written as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _without_nan(v) for k, v in value.items()}
    return value


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def markdown_table(measurements: Sequence[Measurement]) -> str:
    """One row per target, payload and concurrency, in the order they were measured."""
    lines = [
        "| payload | target | conc. | p50 ms | p90 ms | p99 ms | req/s | x direct | errors | "
        "CPU us an answer: its process (backend) |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for m in measurements:
        ratio = "-" if m.ratio_to_direct is None else f"{m.ratio_to_direct:.2f}"
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(m.errors.items())) or "0"
        lines.append(
            f"| {m.payload} | {m.target} | {m.concurrency} | {_ms(m.stats.p50_ms)} | "
            f"{_ms(m.stats.p90_ms)} | {_ms(m.stats.p99_ms)} | {m.requests_per_second:.0f} | "
            f"{ratio} | {errors} | {_cpu_cell(m)} |"
        )
    return "\n".join(lines) + "\n"


def _cpu_cell(m: Measurement) -> str:
    """The CPU per answer of the process the target calls, and the backend's beside it."""
    own = m.process_cpu_us
    backend = m.cpu_us_per_answer.get(BACKEND_PROCESS)
    if own is None:
        return "-"
    if backend is None or m.process == BACKEND_PROCESS:
        return f"{own:.0f}"
    return f"{own:.0f} ({backend:.0f})"


def measurements_from_json(document: dict[str, Any]) -> list[Measurement]:
    """Read back the `results` of a `results.json` (null statistics become NaN again)."""
    nan = float("nan")
    found = []
    for raw in document["results"]:
        stats = {k: nan if v is None else v for k, v in raw["stats"].items()}
        found.append(
            Measurement(**{**raw, "stats": LatencyStats(**stats)})  # type: ignore[arg-type]
        )
    return found


def summary_table(measurements: Sequence[Measurement]) -> str:
    """One row per target: p50 at concurrency 1 with its ratio to the direct call, and the
    requests per second at the highest concurrency, for each payload side by side."""
    payloads = list(dict.fromkeys(m.payload for m in measurements))
    targets = list(dict.fromkeys(m.target for m in measurements))
    low = min(m.concurrency for m in measurements)
    high = max(m.concurrency for m in measurements)
    cells = {(m.target, m.payload, m.concurrency): m for m in measurements}
    header = "| target | " + " | ".join(
        f"{p}: p50 ms (x direct), c={low} | {p}: req/s, c={high}" for p in payloads
    )
    lines = [header + " |", "|---|" + "--:|--:|" * len(payloads)]
    for target in targets:
        row = [target]
        for payload in payloads:
            one, many = cells.get((target, payload, low)), cells.get((target, payload, high))
            if one is None or math.isnan(one.stats.p50_ms):
                row.append("failed")
            else:
                ratio = "" if one.ratio_to_direct is None else f" ({one.ratio_to_direct:.2f})"
                row.append(f"{_ms(one.stats.p50_ms)}{ratio}")
            row.append("failed" if many is None else f"{many.requests_per_second:.0f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
