"""`seldon-tfserving serve-models`: the flags of our TF-Serving-compatible server, mapped onto
`BackendServer` (backend/server.py), and the exit codes.

Flags are spelled and read as `tensorflow_model_server` reads them (`--flag=value` in one
word, a boolean also bare), so the same container args run either server; a word the binary
would skip is refused, and so is a flag asking for what we do not implement (flag_rules.py).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from seldon_tfserving.backend import flag_rules
from seldon_tfserving.backend.batching_parameters import BatchingParameters
from seldon_tfserving.backend.monitoring_config import PrometheusEndpoint, read_monitoring_config
from seldon_tfserving.backend.server_options import (
    DEFAULT_MAX_REQUEST_BYTES,
    SERVER_LOAD_RETRIES,
    LoadRetries,
    LoadSettings,
    ServerOptions,
    SessionSettings,
)
from seldon_tfserving.errors import ConfigurationError

if TYPE_CHECKING:
    from tensorflow_serving.config.model_server_config_pb2 import ModelServerConfig

LOG = logging.getLogger(__name__)

#: The flags' defaults are the server's own.
DEFAULTS = ServerOptions()


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _bool_flag(text: str) -> bool:
    """A TF Serving boolean flag's value: `--flag`, `--flag=true` or `--flag=false`."""
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def _add_bool_flag(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """A TF Serving boolean flag: `--name`, `--name=true` or `--name=false`."""
    parser.add_argument(
        f"--{name}", nargs="?", const=True, default=default, type=_bool_flag, help=help
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """The tensorflow_model_server flags we honour, and the ones we tolerate."""
    parser.add_argument("--port", type=_positive_int, default=DEFAULTS.port, help="gRPC port")
    parser.add_argument(
        "--rest_api_port",
        type=_positive_int,
        default=DEFAULTS.rest_api_port,
        help="REST port (0 = no REST API)",
    )
    parser.add_argument(
        "--rest_api_timeout_in_ms", type=int, default=DEFAULTS.rest_api_timeout_in_ms
    )
    parser.add_argument("--model_name", default="default")
    parser.add_argument("--model_base_path", default="")
    parser.add_argument("--model_config_file", default="")
    parser.add_argument(
        "--file_system_poll_wait_seconds",
        type=float,
        default=DEFAULTS.file_system_poll_wait_seconds,
        help="how often to look for new or removed versions (<= 0: never)",
    )
    parser.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=DEFAULTS.model_config_file_poll_wait_seconds,
        help="re-read --model_config_file this often and apply changes (<= 0: never)",
    )
    _add_bool_flag(
        parser,
        "allow_version_labels_for_unavailable_models",
        DEFAULTS.allow_version_labels_for_unavailable_models,
        "a reload may give a new label to a version that is not available yet",
    )
    _add_bool_flag(
        parser,
        "enable_batching",
        False,
        "merge concurrent runs of a version into batches",
    )
    parser.add_argument(
        "--batching_parameters_file",
        default="",
        help="BatchingParameters text proto (max_batch_size, batch_timeout_micros, ...)",
    )
    _add_bool_flag(
        parser,
        "enable_model_warmup",
        DEFAULTS.enable_model_warmup,
        "replay assets.extra/tf_serving_warmup_requests before a version serves",
    )
    parser.add_argument(
        "--monitoring_config_file",
        default="",
        help="MonitoringConfig text proto: prometheus_config { enable: true path: ... } serves "
        "TF Serving's metrics on the REST port",
    )
    parser.add_argument(
        "--grpc_socket_path",
        default=DEFAULTS.grpc_socket_path,
        help="also serve gRPC on this UNIX socket (for a wrapper in the same pod)",
    )
    parser.add_argument("--grpc_max_threads", type=_positive_int, default=DEFAULTS.grpc_max_threads)
    parser.add_argument(
        "--grpc_channel_arguments",
        default="",
        help="gRPC server arguments, key=value[,key=value...] (ints passed as ints)",
    )
    parser.add_argument(
        "--rest_api_num_threads",
        type=_positive_int,
        default=0,
        help="REST calls served at once (default: four per CPU)",
    )
    for name in ("tensorflow_session_parallelism", "tensorflow_intra_op_parallelism"):
        parser.add_argument(f"--{name}", type=_positive_int, default=0)
    parser.add_argument("--tensorflow_inter_op_parallelism", type=_positive_int, default=0)
    parser.add_argument(
        "--tensorflow_session_config_file",
        default="",
        help="a ConfigProto text proto for every session (the thread flags override it)",
    )
    parser.add_argument("--per_process_gpu_memory_fraction", type=float, default=0.0)
    parser.add_argument(
        "--saved_model_tags",
        default="serve",
        help="comma-separated tags of the MetaGraph to load",
    )
    parser.add_argument(
        "--max_num_load_retries",
        type=_positive_int,
        default=SERVER_LOAD_RETRIES.max_retries,
        help="retries of a version that fails to load, before it is given up",
    )
    parser.add_argument(
        "--load_retry_interval_micros",
        type=int,
        default=int(SERVER_LOAD_RETRIES.interval_s * 1e6),
        help="between load retries (negative: none)",
    )
    parser.add_argument(
        "--max_request_bytes",
        type=_positive_int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help="(ours) refuse request bodies larger than this",
    )
    parser.add_argument(
        "--bind_address",
        default=DEFAULTS.bind_address,
        help="(ours) address both APIs listen on; 0.0.0.0 for every interface",
    )
    for name, rule in flag_rules.REFUSED_FLAGS.items():
        _add_tolerated(parser, name, rule.boolean)
    for name in flag_rules.NO_EFFECT_FLAGS:
        _add_tolerated(parser, name, flag_rules.is_boolean(name))
    parser.allow_abbrev = False  # the binary knows exact names only
    known = {action.dest for action in parser._actions if action.option_strings}
    parser.parse_known_args = functools.partial(  # type: ignore[method-assign,assignment]
        _parse_as_the_binary, parser, parser.parse_known_args, known
    )


def _add_tolerated(parser: argparse.ArgumentParser, name: str, boolean: bool) -> None:
    """A flag parsed only to be judged (refused, or said to have no effect) by `run`."""
    if boolean:
        parser.add_argument(
            f"--{name}", nargs="?", const="true", default=None, help=argparse.SUPPRESS
        )
    else:
        parser.add_argument(f"--{name}", default=None, help=argparse.SUPPRESS)


def _parse_as_the_binary(
    parser: argparse.ArgumentParser,
    parse: Callable[..., tuple[argparse.Namespace, list[str]]],
    known: set[str],
    args: Sequence[str] | None = None,
    namespace: Any = None,
) -> tuple[argparse.Namespace, list[str]]:
    """Refuse (exit 2) every word tensorflow_model_server would skip, then parse."""
    problems = flag_rules.word_problems(list(args or ()), known)
    if problems:
        parser.error("; ".join(problems))
    return parse(args, namespace)


def run(args: argparse.Namespace) -> int:
    """Load every model, serve gRPC (and REST if asked) until SIGTERM or SIGINT.

    Exits 2 on a configuration error, 1 when a port cannot be bound, 0 once stopped."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    refused = flag_rules.refusals({name: getattr(args, name) for name in flag_rules.REFUSED_FLAGS})
    if refused:
        for message in refused:
            LOG.error("%s", message)
        return 2
    for name, why in flag_rules.NO_EFFECT_FLAGS.items():
        if getattr(args, name) is not None:
            LOG.info("--%s has no effect here: %s", name, why)
    from seldon_tfserving.backend.server import BackendServer, CannotListen

    try:
        server = BackendServer(_model_server_config(args), server_options(args))
    except ConfigurationError as exc:
        LOG.error("%s", exc)
        return 2
    try:
        server.serve_until_signal()
    except CannotListen as exc:
        LOG.error("cannot listen: %s", exc)
        return 1
    _exit_at_once(0)


def _exit_at_once(code: int) -> NoReturn:
    """End the process now that everything is stopped and answered: the interpreter's teardown
    of TensorFlow takes seconds (more under load), past the 5 s a stop may take."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def server_options(args: argparse.Namespace) -> ServerOptions:
    """The parsed flags as the server's typed options; ConfigurationError for a bad
    batching setup or monitoring config."""
    return ServerOptions(
        port=args.port,
        rest_api_port=args.rest_api_port,
        rest_api_timeout_in_ms=args.rest_api_timeout_in_ms,
        bind_address=args.bind_address,
        grpc_max_threads=args.grpc_max_threads,
        max_request_bytes=args.max_request_bytes,
        grpc_socket_path=args.grpc_socket_path,
        enable_model_warmup=args.enable_model_warmup,
        batching=_batching_parameters(args),
        allow_version_labels_for_unavailable_models=(
            args.allow_version_labels_for_unavailable_models
        ),
        rest_api_num_threads=args.rest_api_num_threads,
        file_system_poll_wait_seconds=args.file_system_poll_wait_seconds,
        model_config_file=Path(args.model_config_file) if args.model_config_file else None,
        model_config_file_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
        prometheus=_prometheus_endpoint(args),
        loading=LoadSettings(
            tags=tuple(args.saved_model_tags.split(",")),
            session=_session_settings(args),
            retries=LoadRetries(
                args.max_num_load_retries, max(args.load_retry_interval_micros, 0) / 1e6
            ),
        ),
        grpc_channel_arguments=_grpc_channel_arguments(args.grpc_channel_arguments),
    )


def _session_settings(args: argparse.Namespace) -> SessionSettings:
    """server.cc's session flags; all three thread flags at once is its configuration error."""
    if (
        args.tensorflow_intra_op_parallelism > 0
        and args.tensorflow_inter_op_parallelism > 0
        and args.tensorflow_session_parallelism > 0
    ):
        raise ConfigurationError(
            "tensorflow_session_parallelism",
            "Either configure server_options.tensorflow_session_parallelism or "
            "(server_options.tensorflow_intra_op_parallelism, "
            "server_options.tensorflow_inter_op_parallelism) separately. "
            "You cannot configure all.",
        )
    config_text = ""
    if args.tensorflow_session_config_file:
        path = Path(args.tensorflow_session_config_file)
        try:
            config_text = path.read_text()
        except OSError as exc:
            raise ConfigurationError(
                "tensorflow_session_config_file", f"cannot read {path}: {exc}"
            ) from None
    return SessionSettings(
        session_parallelism=args.tensorflow_session_parallelism,
        intra_op_parallelism=args.tensorflow_intra_op_parallelism,
        inter_op_parallelism=args.tensorflow_inter_op_parallelism,
        gpu_memory_fraction=args.per_process_gpu_memory_fraction,
        config_text=config_text,
    )


def _grpc_channel_arguments(text: str) -> tuple[tuple[str, int | str], ...]:
    try:
        return flag_rules.grpc_channel_arguments(text)
    except ValueError as exc:
        raise ConfigurationError("grpc_channel_arguments", str(exc)) from None


def _prometheus_endpoint(args: argparse.Namespace) -> PrometheusEndpoint | None:
    """tensorflow_model_server reads --monitoring_config_file only when it serves REST (the
    page is on the REST port); a file it cannot parse stops the start."""
    if not args.monitoring_config_file:
        return None
    if not args.rest_api_port:
        LOG.info("--monitoring_config_file is not read: no --rest_api_port to serve it on")
        return None
    return read_monitoring_config(Path(args.monitoring_config_file))


def _model_server_config(args: argparse.Namespace) -> ModelServerConfig:
    """The models to serve: --model_config_file, or the --model_name/--model_base_path
    shorthand."""
    from seldon_tfserving.backend.config import read_model_config_file, single_model_config

    if args.model_config_file:
        return read_model_config_file(Path(args.model_config_file))
    if args.model_base_path:
        return single_model_config(args.model_name, args.model_base_path)
    raise ConfigurationError("model_base_path", "give --model_base_path or --model_config_file")


def _batching_parameters(args: argparse.Namespace) -> BatchingParameters | None:
    """tensorflow_model_server's rules: a parameters file needs --enable_batching; without a
    file, the scheduler's defaults."""
    if not args.enable_batching:
        if args.batching_parameters_file:
            raise ConfigurationError(
                "batching_parameters_file",
                "server_options.batching_parameters_file is set without setting "
                "server_options.enable_batching to true.",
            )
        return None
    if not args.batching_parameters_file:
        return BatchingParameters()
    return BatchingParameters.read(Path(args.batching_parameters_file))
