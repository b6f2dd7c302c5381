"""`seldon-tfserving bench`: every serving path against the same backend, model and payload.

Exports the bench models, starts the backend, one TfServingModel component per model and the
gateway's graphs, then runs closed-loop clients against each target at each concurrency and
writes a table (stdout), `results.json` and `results.png`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from seldon_tfserving.bench.comparisons import compare, comparison_table
from seldon_tfserving.bench.cpu_time import CpuClock
from seldon_tfserving.bench.gateway_hop import gateway_hops, hop_table
from seldon_tfserving.bench.harness import CallFailed, LoadResult, run_closed_loop
from seldon_tfserving.bench.lineup import ReferenceClass, plan_targets, start_servers
from seldon_tfserving.bench.memory import ProcessMemory, memory_table
from seldon_tfserving.bench.models import (
    BENCH_MODELS,
    BenchModel,
    export_bench_models,
    model_config,
)
from seldon_tfserving.bench.process_names import BACKEND_PROCESS
from seldon_tfserving.bench.progress import ProgressBar
from seldon_tfserving.bench.report import (
    Measurement,
    markdown_table,
    summary_table,
    to_json,
    with_ratios,
    write_json,
)
from seldon_tfserving.bench.stack import WITH_TENSORFLOW_MICROSERVICE, BenchStack
from seldon_tfserving.bench.suite import BATCHING_PARAMETERS, TARGET_GROUPS
from seldon_tfserving.bench.targets import Target
from seldon_tfserving.bench.wrapper_cost import cost_table, wrapper_costs
from seldon_tfserving.grpc_runtime import EXPERIMENTS_VARIABLE
from seldon_tfserving.runner.errors import StartupError
from seldon_tfserving.runner.launch import MICROSERVICE

logger = logging.getLogger(__name__)

#: (duration, warm-up) seconds per measurement: the full run, and --quick (under a minute).
FULL_TIMING = (5.0, 1.0)
QUICK_TIMING = (0.25, 0.05)
#: Each measurement is taken in this many slices, interleaved with every other target's: on a
#: shared machine whose speed drifts by tens of percent over minutes, every target then sees
#: the same mix of good and bad moments, and the ratios between targets hold still.
FULL_ROUNDS = 3
QUICK_ROUNDS = 1
#: A slow target's window is stretched until each client made this many calls, up to a limit
#: (seconds; the full run's, and --quick's).
MIN_CALLS_PER_CLIENT = 2
MAX_WINDOW_S = 10.0
QUICK_MAX_WINDOW_S = 0.6
PAYLOADS = tuple(m.payload_label for m in BENCH_MODELS)
#: --quick measures the two small payloads: one of the conv net's REST requests takes about a
#: second at concurrency 8, longer than a quick window, so it needs the full run.
QUICK_PAYLOADS = PAYLOADS[:2]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="short windows: done in about a minute"
    )
    parser.add_argument("--duration", type=float, help="seconds measured per target and level")
    parser.add_argument("--warmup", type=float, help="seconds of unmeasured calls before each")
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"interleaved slices of each measurement (default {FULL_ROUNDS}; --quick: "
        f"{QUICK_ROUNDS})",
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 8], help="closed-loop clients"
    )
    parser.add_argument(
        "--payloads",
        nargs="+",
        choices=PAYLOADS,
        help=f"default: all ({', '.join(PAYLOADS)}); with --quick: {', '.join(QUICK_PAYLOADS)}",
    )
    parser.add_argument("--targets", nargs="+", choices=TARGET_GROUPS, default=list(TARGET_GROUPS))
    parser.add_argument(
        "--component-threads",
        type=int,
        default=8,
        help="REST and gRPC threads of each seldon-core-microservice (its defaults are 1 and 1)",
    )
    parser.add_argument(
        "--with-tensorflow-runtime",
        action="store_true",
        help="run the components under the launcher's entrypoint to seldon-core-microservice, "
        "which imports TensorFlow's runtime (default: python -m seldon_tfserving.microservice, "
        "protos only)",
    )
    parser.add_argument(
        "--reference-class",
        type=Path,
        metavar="NAME.py",
        help="also measure the Seldon class NAME in this file (e.g. Seldon's TfServingProxy.py, "
        "which the bench does not ship), under seldon-core-microservice with the wrapper's "
        "threads, taking TfServingProxy's parameters (rest_endpoint, grpc_endpoint, "
        "model_name, signature_name, model_input, model_output); the wrapper is compared "
        "with it",
    )
    parser.add_argument("--output", type=Path, default=Path("bench-results"), help="result dir")
    parser.add_argument(
        "--request-logs",
        action="store_true",
        help="measure request logging instead: the log sink's events/s and RSS, and a graph's "
        "p50 and req/s at concurrency 8 with its logger off and on",
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    duration, warmup = QUICK_TIMING if args.quick else FULL_TIMING
    duration = args.duration if args.duration is not None else duration
    warmup = args.warmup if args.warmup is not None else warmup
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    reference = None
    if args.reference_class is not None:
        if args.request_logs:
            print("bench: --reference-class is not measured with --request-logs", file=sys.stderr)
            return 2
        try:
            reference = ReferenceClass.of_file(args.reference_class)
        except ValueError as error:
            print(f"bench: --reference-class: {error}", file=sys.stderr)
            return 2
    if args.request_logs:
        from seldon_tfserving.bench.request_logs import run_request_log_bench

        try:
            run_request_log_bench(args.output, duration, warmup, rounds)
        except (RuntimeError, StartupError) as error:
            print(f"bench: {error}", file=sys.stderr)
            return 1
        return 0
    payloads = args.payloads or (QUICK_PAYLOADS if args.quick else PAYLOADS)
    models = tuple(m for m in BENCH_MODELS if m.payload_label in payloads)
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    command = "seldon-tfserving " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "bench"
    settings: dict[str, Any] = {
        "duration_s": duration,
        "warmup_s": warmup,
        "rounds": rounds,
        "concurrency": list(args.concurrency),
        "payloads": [m.payload_label for m in models],
        "component_threads": args.component_threads,
        "dtype": "float32",
        "batching_parameters": BATCHING_PARAMETERS if "batching" in args.targets else None,
        "component_command": list(_microservice(args)),
        "reference_class": str(args.reference_class) if reference is not None else None,
        "grpc_experiments": os.environ.get(EXPERIMENTS_VARIABLE, ""),
    }
    with tempfile.TemporaryDirectory(prefix="seldon-tfserving-bench-") as workdir:
        try:
            measurements, memory = _measure(
                models, args, Path(workdir), output, duration, warmup, rounds, reference
            )
        except StartupError as error:
            print(f"bench: a process did not start: {error}", file=sys.stderr)
            return 1
    measurements = with_ratios(measurements)
    comparisons = compare(measurements)
    hops = gateway_hops(measurements)
    costs = wrapper_costs(measurements)
    document = to_json(measurements, settings, command)
    document["comparisons"] = [c.as_json() for c in comparisons]
    document["gateway_hops"] = [hop.as_json() for hop in hops]
    document["wrapper_costs"] = [cost.as_json() for cost in costs]
    document["memory"] = [process.as_json() for process in memory]
    write_json(output / "results.json", document)
    ratios = f"\n{comparison_table(comparisons)}" if comparisons else ""
    hop_lines = f"\nThe gateway's hop:\n\n{hop_table(hops)}" if hops else ""
    cost_lines = f"\nThe wrapper over the bare hop:\n\n{cost_table(costs)}" if costs else ""
    (output / "results.md").write_text(
        f"Command: `{command}`\n\n{summary_table(measurements)}{ratios}{hop_lines}{cost_lines}\n"
        f"Memory after the load:\n\n{memory_table(memory)}\n"
        f"{markdown_table(measurements)}"
    )
    from seldon_tfserving.bench.chart import write_chart

    machine = document["machine"]
    title = (
        f"seldon-tfserving bench: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory']}; {duration:g}s per measurement"
    )
    write_chart(output / "results.png", measurements, title, comparisons)
    print(markdown_table(measurements))
    if comparisons:
        print(comparison_table(comparisons))
    if hops:
        print(hop_table(hops))
    if costs:
        print(cost_table(costs))
    print(memory_table(memory))
    print(f"results: {output / 'results.json'}, chart: {output / 'results.png'}")
    failed = [m for m in measurements if m.stats.count == 0]
    return 1 if failed else 0


def _measure(
    models: tuple[BenchModel, ...],
    args: argparse.Namespace,
    workdir: Path,
    output: Path,
    duration: float,
    warmup: float,
    rounds: int,
    reference: ReferenceClass | None = None,
) -> tuple[list[Measurement], list[ProcessMemory]]:
    """Every cell of the plan, and each process's memory once the load is over."""
    began = time.monotonic()
    log_dir = output / "logs"
    log_dir.mkdir(exist_ok=True)
    print("exporting the bench models ...", file=sys.stderr)
    base = export_bench_models(workdir / "models", models)
    config = workdir / "models.config"
    config.write_text(model_config(base, models))
    with BenchStack(log_dir, _microservice(args)) as stack:
        print("starting the backend and the components ...", file=sys.stderr)
        groups = set(args.targets)
        servers = start_servers(
            stack, models, groups, config, workdir, args.component_threads, reference, args.quick
        )
        print(f"started in {time.monotonic() - began:.0f} s", file=sys.stderr)
        plan = plan_targets(models, groups, servers, quick=args.quick)
        max_window = QUICK_MAX_WINDOW_S if args.quick else max(3 * duration, MAX_WINDOW_S)
        pids = {process.name: process.pid for process in stack.processes if process.pid}
        measured = _run_plan(plan, args.concurrency, duration, warmup, max_window, rounds, pids)
        return measured, stack.memory()


def _microservice(args: argparse.Namespace) -> tuple[str, ...]:
    """The components' command: protos only, unless TensorFlow's runtime was asked for."""
    if getattr(args, "with_tensorflow_runtime", False):
        return tuple(WITH_TENSORFLOW_MICROSERVICE)
    return MICROSERVICE


def _run_plan(
    plan: list[tuple[BenchModel, Target]],
    levels: list[int],
    duration: float,
    warmup: float,
    max_window: float,
    rounds: int = 1,
    pids: Mapping[str, int] | None = None,
) -> list[Measurement]:
    """Measure every (target, concurrency) in `rounds` interleaved slices of `duration /
    rounds` seconds (each after `warmup / rounds` of warm-up), then pool each one's slices.
    With `pids` (process name to pid), each cell also reads the CPU spent by the process its
    target calls and by the backend."""
    cells = [(model, target, level) for model, target in plan for level in levels]
    slices: list[list[LoadResult]] = [[] for _ in cells]
    failed: dict[int, LoadResult] = {}
    progress = ProgressBar(len(cells) * rounds)
    try:
        for round_index in range(rounds):
            for index, (model, target, level) in enumerate(cells):
                suffix = f" (round {round_index + 1}/{rounds})" if rounds > 1 else ""
                progress.begin_step(f"{model.payload_label} {target.name} c={level}{suffix}")
                if index not in failed:
                    try:
                        slices[index].append(
                            run_closed_loop(
                                target.open_call,
                                level,
                                duration / rounds,
                                warmup / rounds,
                                on_tick=progress.update,
                                min_samples=max(level, MIN_CALLS_PER_CLIENT * level // rounds),
                                max_duration_s=max_window / rounds,
                                cpu_clock=_cpu_clock(target, pids or {}),
                            )
                        )
                    except RuntimeError as error:
                        logger.warning(
                            "%s at %s failed: %s", target.name, model.payload_label, error
                        )
                        failed[index] = _no_connection(level, error)
                progress.end_step()
    finally:
        progress.close()
    return [
        Measurement.of(
            target.name,
            target.protocol,
            model.payload_label,
            failed[index] if index in failed else LoadResult.merged(slices[index]),
            process=target.process,
        )
        for index, (model, target, _) in enumerate(cells)
    ]


def _cpu_clock(target: Target, pids: Mapping[str, int]) -> Callable[[], dict[str, float]] | None:
    """The CPU clock of the process `target` calls and of the backend (None: neither known)."""
    watched = {
        name: pids[name]
        for name in dict.fromkeys((target.process, BACKEND_PROCESS))
        if name is not None and name in pids
    }
    return CpuClock(watched).read if watched else None


def _no_connection(level: int, error: RuntimeError) -> LoadResult:
    """A target whose clients could not connect: no samples, every client an error."""
    cause = error.__cause__
    kind = cause.kind if isinstance(cause, CallFailed) else type(cause).__name__
    return LoadResult(level, 0.0, [], {f"no connection: {kind}": level})
