"""The `seldon-tfserving` command: a thin table of sub-commands, each owned by its room.

Sub-command modules are imported only when chosen, so `validate` never pays for TensorFlow.
Each module provides `configure(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from seldon_tfserving.grpc_runtime import use_iomgr_io

#: sub-command -> (module that implements it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve-models": (
        "seldon_tfserving.backend.command",
        "serve SavedModels with TF Serving's gRPC and REST APIs (tensorflow_model_server flags)",
    ),
    "validate": (
        "seldon_tfserving.deploy.validate_command",
        "check SeldonDeployment manifests against the CRD schema and the operator's rules",
    ),
    "render": (
        "seldon_tfserving.deploy.render_command",
        "write a ready SeldonDeployment for a common journey",
    ),
    "up": (
        "seldon_tfserving.runner.command",
        "run a SeldonDeployment graph on this machine behind Seldon's external API",
    ),
    "demo": (
        "seldon_tfserving.runner.demo",
        "the end-to-end A/B journey on this machine",
    ),
    "log-sink": (
        "seldon_tfserving.logs.sink_command",
        "receive request logs (Seldon's CloudEvents) into Parquet, per instance",
    ),
    "skew": (
        "seldon_tfserving.logs.skew_command",
        "compare logged traffic with a training baseline, feature by feature",
    ),
    "bench": (
        "seldon_tfserving.bench.command",
        "measure latency and throughput of every serving path",
    ),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Build the parser, importing only the module of the chosen sub-command."""
    parser = argparse.ArgumentParser(prog="seldon-tfserving", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text)
        if name == chosen:
            try:
                module = importlib.import_module(module_name)
            except ImportError as missing:  # e.g. `validate` on the Apache-2.0 stack
                parser.exit(2, f"seldon-tfserving {name} cannot run here: {missing}\n")
            module.configure(sub)
            sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    use_iomgr_io()  # before any sub-command imports grpc
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    return int(args._run(args))


if __name__ == "__main__":
    sys.exit(main())
