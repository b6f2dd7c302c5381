"""`seldon-tfserving up GRAPH.yaml`: run a SeldonDeployment on this machine until Ctrl-C.

The same YAML goes to a cluster unchanged; here TF Serving containers become local backends,
graph nodes become `seldon-core-microservice` processes, and our gateway plays Istio/Ambassador
plus Seldon's executor. Ctrl-C or SIGTERM stops everything and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from seldon_tfserving.runner.errors import PlanError, StartupError
from seldon_tfserving.runner.local import DEFAULT_READY_TIMEOUT_S, LocalRunner
from seldon_tfserving.runner.progress import ProgressBoard


def volume_mapping(text: str) -> tuple[str, Path]:
    """`NAME=DIR` -> (NAME, DIR); DIR must exist, so a typo fails before anything starts."""
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=DIR")
    path = Path(folder).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{folder!r} (volume {name!r}) does not exist")
    return name, path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", type=Path, metavar="GRAPH.yaml", help="SeldonDeployment YAML")
    parser.add_argument(
        "--volume",
        action="append",
        type=volume_mapping,
        default=[],
        metavar="NAME=DIR",
        help="serve the pod volume NAME from the local folder DIR (repeatable)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="where the gateway listens")
    parser.add_argument("--http-port", type=int, default=8003, help="gateway REST port")
    parser.add_argument("--grpc-port", type=int, default=5001, help="gateway gRPC port")
    parser.add_argument("--predictor", help="run only this predictor (it takes all the traffic)")
    parser.add_argument("--log-dir", type=Path, help="child process logs (default: a temp dir)")
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=DEFAULT_READY_TIMEOUT_S,
        help="seconds each start-up phase may take",
    )


def usage_text(runner: LocalRunner) -> str:
    """Where to send requests, and a SeldonClient call that works as printed."""
    plan = runner.plan
    assert plan is not None
    lines = ["", f"Gateway up. Child logs: {runner.log_dir}", ""]
    for deployment in plan.deployments:
        base = f"{runner.http_url}/seldon/{deployment.namespace}/{deployment.name}/api/v1.0"
        lines += [
            f"  {deployment.name} (namespace {deployment.namespace})",
            f"    REST  POST {base}/predictions   (feedback: {base}/feedback)",
            f"    gRPC  {runner.grpc_target}  metadata seldon={deployment.name}, "
            f"namespace={deployment.namespace}",
        ]
    first = plan.deployments[0]
    lines += [
        "",
        "  from seldon_core.seldon_client import SeldonClient",
        f'  client = SeldonClient(deployment_name="{first.name}", namespace="{first.namespace}",',
        f'                        gateway="istio", gateway_endpoint="{runner.host}:'
        f'{runner.http_port}")',
        '  client.predict(data=..., transport="rest")   # or transport="grpc", '
        f'gateway_endpoint="{runner.grpc_target}"',
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    started = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if not started.is_set():
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    board = ProgressBoard(sys.stdout)
    runner = LocalRunner(
        args.graph,
        volumes=dict(args.volume),
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        predictor=args.predictor,
        log_dir=args.log_dir,
        ready_timeout=args.ready_timeout,
        progress=board,
    )
    try:
        print(f"Starting {args.graph} ...", flush=True)
        try:
            runner.start()
        except PlanError as error:
            print(f"error: {args.graph}: {error}", file=sys.stderr)
            return 2
        except StartupError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("Interrupted while starting; everything is stopped.")
            return 0
        started.set()
        print(usage_text(runner), flush=True)
        stop.wait()
        print("Stopping ...", flush=True)
        runner.stop()
        print("Stopped.", flush=True)
        return 0
    finally:
        runner.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
