"""Closed-loop load: N client threads, each sending its next request as soon as the last returns.

A closed loop measures the latency a caller sees at a given concurrency and the throughput the
path sustains; it never queues more work than N requests, so it cannot overrun a slow target.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from seldon_tfserving.bench.cpu_time import spent

#: One request against a target; returns normally on a good answer, raises otherwise.
Call = Callable[[], None]


class CallFailed(Exception):
    """A call got an answer, but not a good one; `kind` names it in the report (e.g. `http 503`)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True)
class LatencyStats:
    """Percentiles of the successful calls' latencies, in milliseconds."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float

    @classmethod
    def of(cls, latencies_s: list[float]) -> LatencyStats:
        """Summarise latencies (seconds); percentiles interpolate linearly between samples."""
        if not latencies_s:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan)
        samples_ms = np.asarray(latencies_s, dtype=np.float64) * 1000.0
        p50, p90, p99 = np.percentile(samples_ms, [50.0, 90.0, 99.0])
        return cls(len(samples_ms), float(p50), float(p90), float(p99), float(samples_ms.mean()))


@dataclass(frozen=True)
class LoadResult:
    """What one closed-loop run at one concurrency measured."""

    concurrency: int
    elapsed_s: float
    latencies_s: list[float]
    errors: dict[str, int] = field(default_factory=dict)
    #: CPU seconds each watched process spent in the window (`run_closed_loop`'s `cpu_clock`)
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def stats(self) -> LatencyStats:
        return LatencyStats.of(self.latencies_s)

    @property
    def requests_per_second(self) -> float:
        """Good answers per second of the measured window."""
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @classmethod
    def merged(cls, slices: list[LoadResult]) -> LoadResult:
        """One result from several windows of the same target and concurrency: their samples
        pooled, their errors summed, their measured time added."""
        if not slices or len({s.concurrency for s in slices}) != 1:
            raise ValueError("merge one or more results of the same concurrency")
        errors: Counter[str] = Counter()
        cpu_s: dict[str, float] = {}
        for part in slices:
            errors.update(part.errors)
            for name, seconds in part.cpu_s.items():
                cpu_s[name] = cpu_s.get(name, 0.0) + seconds
        # a process counts only if every slice read it, or its sum would be of fewer windows
        watched = set.intersection(*(set(part.cpu_s) for part in slices))
        return cls(
            slices[0].concurrency,
            sum(s.elapsed_s for s in slices),
            [latency for s in slices for latency in s.latencies_s],
            dict(errors),
            {name: cpu_s[name] for name in sorted(watched)},
        )


def _error_kind(error: Exception) -> str:
    return error.kind if isinstance(error, CallFailed) else type(error).__name__


class _Window:
    """The start of the measured window, set once every client is connected."""

    measure_from: float = float("inf")


class _Worker:
    """One client thread's state: its own connection (via `open_call`) and its own samples."""

    def __init__(self, open_call: Callable[[], Call]) -> None:
        self.open_call = open_call
        self.latencies_s: list[float] = []
        self.errors: Counter[str] = Counter()
        #: calls started inside the measured window
        self.started = 0
        self.setup_error: Exception | None = None

    def loop(self, window: _Window, stop: threading.Event, ready: threading.Barrier) -> None:
        try:
            call = self.open_call()
        except Exception as error:  # reported by run_closed_loop, not swallowed
            self.setup_error = error
            ready.abort()
            return
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            return
        clock = time.perf_counter
        while not stop.is_set():
            started = clock()
            if started >= window.measure_from:
                self.started += 1
            try:
                call()
            except Exception as error:  # every failure is counted by kind
                if started >= window.measure_from:
                    self.errors[_error_kind(error)] += 1
                continue
            if started >= window.measure_from:
                self.latencies_s.append(clock() - started)


def run_closed_loop(
    open_call: Callable[[], Call],
    concurrency: int,
    duration_s: float,
    warmup_s: float = 0.0,
    on_tick: Callable[[float], None] | None = None,
    min_samples: int = 0,
    max_duration_s: float | None = None,
    cpu_clock: Callable[[], Mapping[str, float]] | None = None,
) -> LoadResult:
    """Run `concurrency` closed-loop clients for `warmup_s` + `duration_s`; measure the latter.

    `open_call` is called once per thread (so each thread owns its session or stub). Calls that
    start during warm-up are not recorded; the window ends when the last in-flight call returns.
    `on_tick(fraction_done)` is called about ten times a second from the calling thread.
    A slow target is measured past `duration_s` until `min_samples` calls have started in the
    window (so its percentiles rest on something), but never past `max_duration_s`.
    """
    if concurrency < 1 or duration_s <= 0 or warmup_s < 0:
        raise ValueError("concurrency >= 1, duration_s > 0 and warmup_s >= 0 are required")
    workers = [_Worker(open_call) for _ in range(concurrency)]
    stop = threading.Event()
    ready = threading.Barrier(concurrency + 1)
    window = _Window()
    threads = [
        threading.Thread(
            target=worker.loop, args=(window, stop, ready), name=f"bench-client-{i}", daemon=True
        )
        for i, worker in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        stop.set()
        for thread in threads:
            thread.join()
        failed = next(w.setup_error for w in workers if w.setup_error is not None)
        raise RuntimeError(f"a client could not connect: {failed}") from failed
    begin = time.perf_counter()
    measure_from = begin + warmup_s
    window.measure_from = measure_from
    end = measure_from + duration_s
    hard_end = measure_from + max(duration_s, max_duration_s or duration_s)
    total = warmup_s + duration_s
    cpu_at_start: Mapping[str, float] | None = None
    while (now := time.perf_counter()) < hard_end:
        if cpu_clock is not None and cpu_at_start is None and now >= measure_from:
            cpu_at_start = cpu_clock()
        if now >= end and sum(w.started for w in workers) >= min_samples:
            break
        if on_tick is not None:
            on_tick(min(1.0, (now - begin) / total))
        # wake at the window's opening, so the CPU clock is read as it opens
        boundary = measure_from if cpu_clock is not None and cpu_at_start is None else end
        time.sleep(0.02 if now >= end else min(0.1, max(boundary - now, 0.0)))
    stop.set()
    for thread in threads:
        thread.join()
    cpu_s: dict[str, float] = {}
    if cpu_clock is not None and cpu_at_start is not None:
        cpu_s = spent(cpu_at_start, cpu_clock())
    elapsed = time.perf_counter() - measure_from
    if on_tick is not None:
        on_tick(1.0)
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    for worker in workers:
        latencies.extend(worker.latencies_s)
        errors.update(worker.errors)
    return LoadResult(concurrency, elapsed, latencies, dict(errors), cpu_s)
