"""The closed-loop harness: concurrency is held, warm-up is not counted, statistics are right."""

from __future__ import annotations

import io
import itertools
import math
import threading
import time

import pytest

from seldon_tfserving.bench.harness import (
    Call,
    CallFailed,
    LatencyStats,
    LoadResult,
    run_closed_loop,
)
from seldon_tfserving.bench.progress import ProgressBar


def test_percentiles_interpolate_between_samples() -> None:
    stats = LatencyStats.of([ms / 1000.0 for ms in range(1, 101)])  # 1..100 ms
    assert stats.count == 100
    assert stats.p50_ms == pytest.approx(50.5)
    assert stats.p90_ms == pytest.approx(90.1)
    assert stats.p99_ms == pytest.approx(99.01)
    assert stats.mean_ms == pytest.approx(50.5)


def test_percentiles_of_one_sample_are_that_sample() -> None:
    stats = LatencyStats.of([0.004])
    assert (stats.p50_ms, stats.p90_ms, stats.p99_ms) == pytest.approx((4.0, 4.0, 4.0))


def test_no_samples_give_nan_not_zero() -> None:
    stats = LatencyStats.of([])
    assert stats.count == 0
    assert math.isnan(stats.p50_ms) and math.isnan(stats.p99_ms)


class SleepingTarget:
    """A fake target taking `delay_s` a call, which records how many calls overlap."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls = 0
        self.connections = 0

    def open_call(self) -> Call:
        with self.lock:
            self.connections += 1

        def call() -> None:
            with self.lock:
                self.in_flight += 1
                self.calls += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            time.sleep(self.delay_s)
            with self.lock:
                self.in_flight -= 1

        return call


def test_closed_loop_holds_concurrency_and_measures_throughput() -> None:
    target = SleepingTarget(0.02)
    result = run_closed_loop(target.open_call, concurrency=4, duration_s=0.6)
    assert target.connections == 4, "one connection per client thread"
    assert target.max_in_flight == 4, "a closed loop never has more calls open than clients"
    # A sleep is never shorter than asked, so 4 clients on 20 ms calls answer at most 200 a
    # second; how much longer a loaded machine makes each call is its own, so the rate is
    # checked against the latencies measured with it (Little's law: clients / mean latency).
    assert result.stats.p50_ms >= 20.0
    assert result.requests_per_second <= 200
    little = 4 / (result.stats.mean_ms / 1000)
    assert result.requests_per_second == pytest.approx(little, rel=0.25)
    assert result.elapsed_s >= 0.6
    assert result.errors == {}


def test_warm_up_calls_are_not_recorded() -> None:
    target = SleepingTarget(0.01)
    result = run_closed_loop(target.open_call, concurrency=2, duration_s=0.3, warmup_s=0.3)
    assert result.stats.count < target.calls * 0.7, "about half the calls were warm-up"
    assert result.stats.count > target.calls * 0.3


def test_the_cpu_clock_is_read_as_the_window_opens_and_once_the_last_call_is_back() -> None:
    def wall_clock() -> dict[str, float]:
        # a "process" whose CPU seconds are the wall clock's: its spend is the window's length
        return {"wall": time.perf_counter()}

    target = SleepingTarget(0.01)
    result = run_closed_loop(
        target.open_call, concurrency=2, duration_s=0.3, warmup_s=0.3, cpu_clock=wall_clock
    )
    assert set(result.cpu_s) == {"wall"}
    assert result.cpu_s["wall"] == pytest.approx(result.elapsed_s, abs=0.03), (
        "the warm-up's 0.3 s are not in the window's spend"
    )


def test_without_a_cpu_clock_nothing_is_read() -> None:
    result = run_closed_loop(SleepingTarget(0.005).open_call, concurrency=1, duration_s=0.05)
    assert result.cpu_s == {}


def test_failures_are_counted_by_kind_and_kept_out_of_latencies() -> None:
    outcomes = itertools.cycle([None, "http 503", None, "timeout"])
    lock = threading.Lock()

    def open_call() -> Call:
        def call() -> None:
            with lock:
                outcome = next(outcomes)
            time.sleep(0.002)
            if outcome == "timeout":
                raise TimeoutError("slow")
            if outcome is not None:
                raise CallFailed(outcome, "backend down")

        return call

    result = run_closed_loop(open_call, concurrency=2, duration_s=0.3)
    assert set(result.errors) == {"http 503", "TimeoutError"}
    total = result.stats.count + result.error_count
    assert result.stats.count == pytest.approx(total / 2, abs=3)
    assert result.errors["http 503"] == pytest.approx(total / 4, abs=3)


def test_a_client_that_cannot_connect_stops_the_run_with_the_reason() -> None:
    attempts = itertools.count()

    def open_call() -> Call:
        if next(attempts) == 1:
            raise ConnectionRefusedError("nobody listens")
        return lambda: time.sleep(0.001)

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="nobody listens"):
        run_closed_loop(open_call, concurrency=3, duration_s=5.0)
    assert threading.active_count() == before, "no client thread is left behind"


@pytest.mark.parametrize(
    ("concurrency", "duration_s", "warmup_s"), [(0, 1.0, 0.0), (1, 0.0, 0.0), (1, 1.0, -1.0)]
)
def test_meaningless_runs_are_refused(concurrency: int, duration_s: float, warmup_s: float) -> None:
    with pytest.raises(ValueError):
        run_closed_loop(lambda: lambda: None, concurrency, duration_s, warmup_s)


def test_progress_without_a_terminal_writes_one_line_a_step() -> None:
    stream = io.StringIO()
    bar = ProgressBar(2, stream=stream)
    for label in ("grpc direct 1x4 c=1", "rest direct 1x4 c=1"):
        bar.begin_step(label)
        bar.update(0.5)
        bar.end_step()
    bar.close()
    assert stream.getvalue().splitlines() == [
        "[1/2] grpc direct 1x4 c=1",
        "[2/2] rest direct 1x4 c=1",
    ]


def test_a_slow_target_is_measured_until_it_has_enough_samples_but_not_forever() -> None:
    slow = SleepingTarget(0.2)
    result = run_closed_loop(slow.open_call, 2, duration_s=0.05, min_samples=6, max_duration_s=5)
    assert result.stats.count >= 6, "three rounds of two clients, though the window was shorter"
    assert result.elapsed_s < 3.0  # well inside max_duration_s: stopped once it had enough

    slower = SleepingTarget(0.3)
    bounded = run_closed_loop(
        slower.open_call, 1, duration_s=0.05, min_samples=1000, max_duration_s=0.5
    )
    assert bounded.elapsed_s < 3.0, "max_duration_s ends the window whatever the count"


def test_slices_of_one_measurement_pool_their_samples_errors_and_time() -> None:
    first = LoadResult(4, 1.0, [0.010, 0.030], {"http 503": 1})
    second = LoadResult(4, 2.0, [0.020], {"http 503": 2, "grpc UNAVAILABLE": 1})
    pooled = LoadResult.merged([first, second])
    assert pooled.concurrency == 4
    assert pooled.elapsed_s == pytest.approx(3.0)
    assert sorted(pooled.latencies_s) == [0.010, 0.020, 0.030]
    assert pooled.errors == {"http 503": 3, "grpc UNAVAILABLE": 1}
    assert pooled.requests_per_second == pytest.approx(1.0)
    assert pooled.stats.p50_ms == pytest.approx(20.0)


def test_slices_add_their_cpu_for_the_processes_every_slice_read() -> None:
    first = LoadResult(4, 1.0, [0.010], {}, {"wrapper": 0.25, "backend": 0.5})
    second = LoadResult(4, 1.0, [0.020], {}, {"wrapper": 0.5})
    assert LoadResult.merged([first, second]).cpu_s == {"wrapper": pytest.approx(0.75)}


def test_only_slices_of_one_concurrency_pool() -> None:
    with pytest.raises(ValueError):
        LoadResult.merged([LoadResult(1, 1.0, [0.01]), LoadResult(8, 1.0, [0.01])])
    with pytest.raises(ValueError):
        LoadResult.merged([])
