"""The flags that shape a running backend (TF Serving's `Server::Options`), typed, read once.

Kept free of TensorFlow so that the command builds it, defaults included, before the heavy
import (TensorFlow reads its log level when it loads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seldon_tfserving.backend.batching_parameters import BatchingParameters
from seldon_tfserving.backend.monitoring_config import PrometheusEndpoint

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SessionSettings:
    """How each version's TensorFlow Session runs, from TF Serving's session flags
    (server.cc): the threads replace what a session config file says, as there."""

    #: --tensorflow_session_parallelism: both thread pools (0: TensorFlow chooses)
    session_parallelism: int = 0
    #: --tensorflow_intra_op_parallelism / --tensorflow_inter_op_parallelism
    intra_op_parallelism: int = 0
    inter_op_parallelism: int = 0
    #: --per_process_gpu_memory_fraction (0: TensorFlow chooses)
    gpu_memory_fraction: float = 0.0
    #: --tensorflow_session_config_file's ConfigProto text ("" for none)
    config_text: str = ""

    def thread_pools(self) -> tuple[int, int]:
        """(intra-op, inter-op) threads as server.cc sets them: the two flags when either is
        given, else --tensorflow_session_parallelism for both."""
        if self.intra_op_parallelism > 0 or self.inter_op_parallelism > 0:
            return self.intra_op_parallelism, self.inter_op_parallelism
        return self.session_parallelism, self.session_parallelism


@dataclass(frozen=True)
class LoadRetries:
    """How a version that fails to load is tried again (TF Serving's loader harness): up to
    `max_retries` more times, `interval_s` apart (<= 0: at once), while it is still wanted."""

    max_retries: int = 0
    interval_s: float = 0.0


@dataclass(frozen=True)
class LoadSettings:
    """How every version is loaded: its MetaGraph's tags, its session, its retries."""

    #: --saved_model_tags, split at commas
    tags: tuple[str, ...] = ("serve",)
    session: SessionSettings = field(default_factory=SessionSettings)
    retries: LoadRetries = field(default_factory=LoadRetries)


#: tensorflow_model_server's defaults: 5 retries, a minute apart.
SERVER_LOAD_RETRIES = LoadRetries(max_retries=5, interval_s=60.0)


@dataclass(frozen=True)
class ServerOptions:
    """What `BackendServer` needs besides the models; named after tensorflow_model_server's
    flags, with its defaults."""

    port: int = 8500
    #: 0: no REST API.
    rest_api_port: int = 0
    #: a REST call's deadline (<= 0: none).
    rest_api_timeout_in_ms: int = 30000
    #: threads serving REST calls (0: TF Serving's default, four per CPU).
    rest_api_num_threads: int = 0
    #: (ours) the address both APIs listen on.
    bind_address: str = "127.0.0.1"
    grpc_max_threads: int = 32
    #: (ours) request bodies larger than this are refused.
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    #: also serve gRPC on this UNIX socket ("" for none).
    grpc_socket_path: str = ""
    enable_model_warmup: bool = True
    #: None: no batching (--enable_batching off).
    batching: BatchingParameters | None = None
    allow_version_labels_for_unavailable_models: bool = False
    #: how often to look for new or removed versions (<= 0: never).
    file_system_poll_wait_seconds: float = 1.0
    #: the --model_config_file being served, re-read every
    #: `model_config_file_poll_wait_seconds` (<= 0: never).
    model_config_file: Path | None = None
    model_config_file_poll_wait_seconds: float = 0.0
    #: TF Serving's metrics page on the REST port (--monitoring_config_file; None: off).
    prometheus: PrometheusEndpoint | None = None
    #: tags, session and retries of every load (retries: tensorflow_model_server's).
    loading: LoadSettings = field(default_factory=lambda: LoadSettings(retries=SERVER_LOAD_RETRIES))
    #: --grpc_channel_arguments, parsed: each value an int when it reads as one.
    grpc_channel_arguments: tuple[tuple[str, int | str], ...] = ()
