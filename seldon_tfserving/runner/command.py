"""`seldon-tfserving up GRAPH.yaml`: run a SeldonDeployment on this machine until Ctrl-C.

The same YAML goes to a cluster unchanged; here TF Serving containers become local backends,
graph nodes become `seldon-core-microservice` processes, and our gateway plays Istio/Ambassador
plus Seldon's executor; all of them listen on `--host` only. A node runs one of our classes
unless `--allow-class` names another (trusted_code.py). Ctrl-C or SIGTERM stops everything:
the gateway answers what it accepted, then every child goes within its grace; exit 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.gateway.protocols import TENSORFLOW_PROTOCOL, deployment_protocol
from seldon_tfserving.gateway.settings import GatewaySettings, origin_list
from seldon_tfserving.parameters import ConfigurationError
from seldon_tfserving.process_exit import exit_now
from seldon_tfserving.runner.bind_host import listen_host
from seldon_tfserving.runner.errors import PlanError, StartupError
from seldon_tfserving.runner.local import DEFAULT_READY_TIMEOUT_S, LocalRunner
from seldon_tfserving.runner.progress import ProgressBoard
from seldon_tfserving.runner.prometheus_config import (
    DEFAULT_SCRAPE_INTERVAL,
    scrape_interval,
    write_prometheus_config,
)
from seldon_tfserving.runner.trusted_code import TrustedCode, class_name, env_name


def checked(parse: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse type from a parser that raises ValueError with a message."""

    def parse_argument(text: str) -> str:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse_argument


def volume_mapping(text: str) -> tuple[str, Path]:
    """`NAME=DIR` -> (NAME, DIR); DIR must exist, so a typo fails before anything starts."""
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=DIR")
    path = Path(folder).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{folder!r} (volume {name!r}) does not exist")
    return name, path


def prometheus_duration(text: str) -> str:
    try:
        return scrape_interval(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def model_uri_mapping(text: str) -> tuple[str, Path]:
    """`URI=DIR` -> (URI, DIR), split at the last `=` (a URI may hold one); DIR must exist."""
    uri, sep, folder = text.rpartition("=")
    if not sep or not uri or not folder:
        raise argparse.ArgumentTypeError(f"{text!r} is not URI=DIR")
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{folder!r} (model {uri!r}) is not a folder")
    return uri, path


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
    parser.add_argument(
        "--model-uri",
        action="append",
        type=model_uri_mapping,
        default=[],
        metavar="URI=DIR",
        help="serve the model at URI (a modelUri, or a TF Serving --model_base_path such as "
        "gs://...) from the local folder DIR; `up` never downloads (repeatable)",
    )
    parser.add_argument(
        "--host",
        type=checked(listen_host),
        default="127.0.0.1",
        help="the address the gateway and every process it starts listen on (default "
        "127.0.0.1: this machine only; 0.0.0.0: every interface)",
    )
    parser.add_argument(
        "--allow-class",
        action="append",
        type=checked(class_name),
        default=[],
        metavar="NAME",
        help="let graph nodes run the class NAME (my_models.IrisModel), or any class under the "
        "module or package NAME (my_models); by default only seldon_tfserving's (repeatable)",
    )
    parser.add_argument(
        "--allow-env",
        action="append",
        type=checked(env_name),
        default=[],
        metavar="NAME",
        help="pass on the container env NAME although it chooses which code runs "
        "(LD_PRELOAD, PYTHONPATH, ...; refused by default) (repeatable)",
    )
    parser.add_argument("--http-port", type=int, default=8003, help="gateway REST port")
    parser.add_argument("--grpc-port", type=int, default=5001, help="gateway gRPC port")
    parser.add_argument("--predictor", help="run only this predictor (it takes all the traffic)")
    parser.add_argument("--log-dir", type=Path, help="child process logs (default: a temp dir)")
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages of ORIGIN (scheme://host[:port], or *) call the gateway "
        "(repeatable; default: none, or CORS_ALLOWED_ORIGINS)",
    )
    parser.add_argument(
        "--log-sink",
        type=Path,
        metavar="DIR",
        help="start a log sink writing Parquet to DIR and point every node's logger at it",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=DEFAULT_READY_TIMEOUT_S,
        help="seconds each start-up phase may take",
    )
    parser.add_argument(
        "--prometheus-config",
        type=Path,
        metavar="FILE",
        help="once started, write a prometheus.yml scraping every process started here",
    )
    parser.add_argument(
        "--prometheus-scrape-interval",
        type=prometheus_duration,
        default=DEFAULT_SCRAPE_INTERVAL,
        metavar="DURATION",
        help=f"scrape and rule evaluation interval there (default {DEFAULT_SCRAPE_INTERVAL})",
    )
    parser.add_argument(
        "--prometheus-rules",
        type=Path,
        action="append",
        default=[],
        metavar="RULES.yml",
        help="a rule file that prometheus.yml loads, e.g. dashboards/seldon-tfserving.rules.yml",
    )


def gateway_settings(cors_origins: list[str]) -> GatewaySettings | None:
    """The gateway's settings when flags change them (else the gateway reads its env)."""
    if not cors_origins:
        return None
    origins = tuple(o for text in cors_origins for o in origin_list(text))
    return GatewaySettings.from_environment(cors_allowed_origins=origins)


def usage_text(runner: LocalRunner) -> str:
    """Where to send requests, in each deployment's protocol, and a call that works as printed
    (a SeldonClient one, or curl with TF Serving's API when the first speaks `tensorflow`)."""
    plan = runner.plan
    assert plan is not None
    lines = ["", f"Gateway up. Child logs: {runner.log_dir}", ""]
    if runner.log_sink is not None:
        lines += [f"Request logs: {runner.log_sink_url} -> {runner.log_sink}", ""]
    for deployment in plan.deployments:
        if deployment_protocol(deployment) == TENSORFLOW_PROTOCOL:
            lines += _tf_endpoints(runner, deployment)
            continue
        base = f"{runner.http_url}/seldon/{deployment.namespace}/{deployment.name}/api/v1.0"
        lines += [
            f"  {deployment.name} (namespace {deployment.namespace})",
            f"    REST  POST {base}/predictions   (feedback: {base}/feedback)",
            f"    gRPC  {runner.grpc_target}  metadata seldon={deployment.name}, "
            f"namespace={deployment.namespace}",
        ]
    first = plan.deployments[0]
    if deployment_protocol(first) == TENSORFLOW_PROTOCOL:
        lines += [
            "",
            f"  curl -d '{{\"instances\": [...]}}' {_tf_base(runner, first)}/v1/models:predict",
        ]
    else:
        lines += [
            "",
            "  from seldon_core.seldon_client import SeldonClient",
            f'  client = SeldonClient(deployment_name="{first.name}", '
            f'namespace="{first.namespace}",',
            f'                        gateway="istio", gateway_endpoint="{runner.host}:'
            f'{runner.http_port}")',
            '  client.predict(data=..., transport="rest")   # or transport="grpc", '
            f'gateway_endpoint="{runner.grpc_target}"',
        ]
    lines += ["", "Ctrl-C stops everything."]
    return "\n".join(lines)


def _tf_base(runner: LocalRunner, deployment: SeldonDeployment) -> str:
    return f"{runner.http_url}/seldon/{deployment.namespace}/{deployment.name}"


def _tf_endpoints(runner: LocalRunner, deployment: SeldonDeployment) -> list[str]:
    """A `protocol: tensorflow` deployment's routes: TF Serving's API, as the executor serves
    it (Seldon's /api/v1.0/predictions is not among them)."""
    base = _tf_base(runner, deployment)
    models = [
        node.name
        for predictor in deployment.predictors
        for node in predictor.graph.walk()
        if (node.type or "").upper() == "MODEL"
    ]
    lines = [
        f"  {deployment.name} (namespace {deployment.namespace}, protocol tensorflow)",
        f"    REST  POST {base}/v1/models:predict   (or /v1/models/<model>:predict)",
        f"          feedback: POST {base}/api/v1.0/feedback   (with the Seldon-Puid answered)",
    ]
    if models:
        lines.append(
            f"          GET  {base}/v1/models/<node>[/metadata]   (nodes: {', '.join(models)})"
        )
    lines.append(
        f"    gRPC  {runner.grpc_target}  tensorflow.serving.PredictionService, metadata "
        f"seldon={deployment.name}, namespace={deployment.namespace}"
    )
    return lines


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
    try:
        settings = gateway_settings(args.cors_origin)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    runner = LocalRunner(
        args.graph,
        volumes=dict(args.volume),
        model_uris=dict(args.model_uri),
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        predictor=args.predictor,
        log_dir=args.log_dir,
        ready_timeout=args.ready_timeout,
        progress=board,
        trusted=TrustedCode.allowing(args.allow_class, args.allow_env),
        gateway_settings=settings,
        log_sink=args.log_sink,
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
        if args.prometheus_config is not None:
            assert runner.plan is not None
            write_prometheus_config(
                args.prometheus_config,
                runner.plan,
                runner.address,
                interval=args.prometheus_scrape_interval,
                rule_files=args.prometheus_rules,
            )
            print(
                f"Prometheus config: {args.prometheus_config} "
                f"(prometheus --config.file={args.prometheus_config})",
                flush=True,
            )
        stop.wait()
        print("Stopping ...", flush=True)
        runner.stop()
        print("Stopped.", flush=True)
        exit_now(0)
    finally:
        runner.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
