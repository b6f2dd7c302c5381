"""`seldon-tfserving serve-models`: our TF-Serving-compatible server, with its flags.

Flags are spelled as `tensorflow_model_server` spells them (`--flag=value` or `--flag value`),
so the same container args run either server. Real flags that tune what we do not have
(batching, thread counts) are accepted and ignored.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from seldon_tfserving.backend.batching_parameters import BatchingParameters
from seldon_tfserving.errors import ConfigurationError

LOG = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024

#: tensorflow_model_server flags we accept and ignore (they tune machinery we do not have).
IGNORED_FLAGS = (
    "rest_api_num_threads",
    "tensorflow_session_parallelism",
    "tensorflow_intra_op_parallelism",
    "tensorflow_inter_op_parallelism",
    "monitoring_config_file",
    "platform_config_file",
    "ssl_config_file",
    "per_process_gpu_memory_fraction",
    "saved_model_tags",
    "max_num_load_retries",
    "load_retry_interval_micros",
    "num_load_threads",
    "num_unload_threads",
    "grpc_channel_arguments",
    "model_platform",
)
IGNORED_BOOL_FLAGS = (
    "rest_api_enable_cors_support",
    "xla_cpu_compilation_enabled",
    "enable_signature_method_name_check",
    "flush_filesystem_caches",
)


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
    parser.add_argument("--port", type=_positive_int, default=8500, help="gRPC port")
    parser.add_argument(
        "--rest_api_port", type=_positive_int, default=0, help="REST port (0 = no REST API)"
    )
    parser.add_argument("--rest_api_timeout_in_ms", type=int, default=30000)
    parser.add_argument("--model_name", default="default")
    parser.add_argument("--model_base_path", default="")
    parser.add_argument("--model_config_file", default="")
    parser.add_argument(
        "--file_system_poll_wait_seconds",
        type=float,
        default=1.0,
        help="how often to look for new or removed versions (<= 0: never)",
    )
    parser.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=0.0,
        help="re-read --model_config_file this often and apply changes (<= 0: never)",
    )
    _add_bool_flag(
        parser,
        "allow_version_labels_for_unavailable_models",
        False,
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
        True,
        "replay assets.extra/tf_serving_warmup_requests before a version serves",
    )
    parser.add_argument(
        "--grpc_socket_path",
        default="",
        help="also serve gRPC on this UNIX socket (for a wrapper in the same pod)",
    )
    parser.add_argument("--grpc_max_threads", type=_positive_int, default=32)
    parser.add_argument(
        "--max_request_bytes",
        type=_positive_int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help="(ours) refuse request bodies larger than this",
    )
    parser.add_argument(
        "--bind_address",
        default="127.0.0.1",
        help="(ours) address both APIs listen on; 0.0.0.0 for every interface",
    )
    for name in IGNORED_FLAGS:
        parser.add_argument(f"--{name}", default=None, help=argparse.SUPPRESS)
    for name in IGNORED_BOOL_FLAGS:
        parser.add_argument(
            f"--{name}", nargs="?", const="true", default=None, help=argparse.SUPPRESS
        )


def run(args: argparse.Namespace) -> int:
    """Load every model, serve gRPC (and REST if asked) until SIGTERM or SIGINT."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from seldon_tfserving.backend.config import (
        read_model_config_file,
        resolve_sources,
        single_model_config,
    )
    from seldon_tfserving.backend.config_reload import ServedConfig
    from seldon_tfserving.backend.core import ServingCore
    from seldon_tfserving.backend.grpc_service import build_grpc_server
    from seldon_tfserving.backend.rest_service import RestSettings, build_rest_server

    ignored = [n for n in (*IGNORED_FLAGS, *IGNORED_BOOL_FLAGS) if getattr(args, n) is not None]
    if ignored:
        LOG.info("accepted and ignored: %s", ", ".join(f"--{n}" for n in ignored))
    try:
        if args.model_config_file:
            config = read_model_config_file(Path(args.model_config_file))
        elif args.model_base_path:
            config = single_model_config(args.model_name, args.model_base_path)
        else:
            raise ConfigurationError(
                "model_base_path", "give --model_base_path or --model_config_file"
            )
        sources = resolve_sources(config)
        batching = _batching_parameters(args)
    except ConfigurationError as exc:
        LOG.error("%s", exc)
        return 2
    core = ServingCore.load(sources, warm_up=args.enable_model_warmup, batching=batching)
    served_config = ServedConfig(
        core.repository,
        config,
        allow_labels_for_unavailable=args.allow_version_labels_for_unavailable_models,
    )
    try:
        grpc_server = build_grpc_server(
            core,
            args.port,
            max_workers=args.grpc_max_threads,
            max_request_bytes=args.max_request_bytes,
            host=args.bind_address,
            served_config=served_config,
            socket_path=args.grpc_socket_path,
        )
        rest_server = None
        if args.rest_api_port:
            timeout = args.rest_api_timeout_in_ms if args.rest_api_timeout_in_ms > 0 else None
            rest_server = build_rest_server(
                core,
                args.rest_api_port,
                RestSettings(timeout_ms=timeout, max_request_bytes=args.max_request_bytes),
                host=args.bind_address,
            )
    except (OSError, RuntimeError) as exc:  # grpc raises RuntimeError when it cannot bind
        LOG.error("cannot listen: %s", exc)
        core.close()
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        LOG.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    grpc_server.start()
    rest_thread = None
    if rest_server is not None:
        rest_thread = threading.Thread(
            target=rest_server.serve_forever, name="rest", kwargs={"poll_interval": 0.2}
        )
        rest_thread.start()
    if args.file_system_poll_wait_seconds > 0:
        threading.Thread(
            target=_every,
            args=(args.file_system_poll_wait_seconds, stop, served_config.poll_versions),
            name="version-poller",
            daemon=True,
        ).start()
    if args.model_config_file and args.model_config_file_poll_wait_seconds > 0:
        config_path = Path(args.model_config_file)
        threading.Thread(
            target=_every,
            args=(
                args.model_config_file_poll_wait_seconds,
                stop,
                lambda: served_config.reload_file(config_path),
            ),
            name="config-poller",
            daemon=True,
        ).start()
    LOG.info(
        "serving on ports grpc=%d rest=%s (models: %s)",
        args.port,
        args.rest_api_port or "off",
        ", ".join(core.model_names),
    )
    stop.wait()
    if rest_server is not None and rest_thread is not None:
        rest_server.shutdown()
        rest_server.server_close()
        rest_thread.join(timeout=5)
    grpc_server.stop(grace=2).wait(timeout=5)
    core.close()
    LOG.info("stopped")
    return 0


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


def _every(interval_s: float, stop: threading.Event, task: Callable[[], None]) -> None:
    """Run `task` every `interval_s` until stopped (TF Serving's pollers); survive its failures."""
    while not stop.wait(interval_s):
        try:
            task()
        except ConfigurationError as exc:
            LOG.warning("poll: %s", exc)
        except Exception:  # the poller must outlive a bad moment on disk
            LOG.exception("poll failed")
