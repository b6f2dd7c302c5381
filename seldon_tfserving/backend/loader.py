"""One SavedModel version loaded as TF Serving loads it: its own Graph and Session, the tags and
session config of the server's flags (`serve`, TensorFlow's threads, by default).

Runs go through callables made from CallableOptions (feeds and fetches by tensor name), which,
like TF Serving's C++ Session::Run, do not check feed shapes statically: `[1.0, 2.0, 5.0]` feeds
an `x` declared [-1,1]. Callables are cached per (feeds, fetches, timeout); sessions run
concurrently (TensorFlow releases the GIL while it runs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import grpc
import numpy as np

from seldon_tfserving.backend.batching import BatchScheduler
from seldon_tfserving.backend.batching_parameters import BatchingParameters
from seldon_tfserving.backend.monitoring import record_session_run
from seldon_tfserving.backend.server_options import LoadSettings, SessionSettings
from seldon_tfserving.errors import ServingError, error_for_grpc

LOG = logging.getLogger(__name__)

Array = np.ndarray[Any, Any]
_CallableKey = tuple[tuple[str, ...], tuple[str, ...], int | None]

#: TensorFlow's error codes are gRPC's codes; this maps their numbers back to the enum.
_GRPC_CODE_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def session_config(settings: SessionSettings) -> Any:
    """The ConfigProto of every version's session, built as TF Serving's server.cc builds it:
    the config file first, then the GPU fraction and the thread pools over it."""
    from google.protobuf import text_format
    from tensorflow.core.protobuf import config_pb2

    config = config_pb2.ConfigProto()
    if settings.config_text:
        text_format.Parse(settings.config_text, config)
    config.gpu_options.per_process_gpu_memory_fraction = settings.gpu_memory_fraction
    intra, inter = settings.thread_pools()
    config.intra_op_parallelism_threads = intra
    config.inter_op_parallelism_threads = inter
    return config


def serving_error_from_tf(exc: Exception) -> ServingError:
    """Our error for what loading or running a version raised: a TensorFlow OpError keeps its
    status code (e.g. INVALID_ARGUMENT), one of ours (a failed warm-up) stays as it is, anything
    else is UNKNOWN."""
    if isinstance(exc, ServingError):
        return exc
    code = _GRPC_CODE_BY_NUMBER.get(getattr(exc, "error_code", 2), grpc.StatusCode.UNKNOWN)
    message = getattr(exc, "message", None) or str(exc)
    return error_for_grpc(code, message)


class LoadedVersion:
    """A loaded SavedModel version: its SignatureDefs and a way to run tensors through it."""

    MAX_CALLABLES = 64

    def __init__(
        self,
        name: str,
        version: int,
        export_dir: Path,
        batching: BatchingParameters | None = None,
        settings: LoadSettings | None = None,
    ) -> None:
        """Load the version: the MetaGraph with `settings.tags`, in a session configured by
        `settings.session`; with `batching`, concurrent runs are merged as TF Serving's
        BatchingSession merges them."""
        import tensorflow as tf

        settings = settings or LoadSettings()
        self.name = name
        self.version = version
        self.export_dir = export_dir
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(
            graph=self._graph, config=session_config(settings.session)
        )
        try:
            with self._graph.as_default():
                self.meta_graph = tf.compat.v1.saved_model.loader.load(
                    self._session, list(settings.tags), str(export_dir)
                )
        except Exception:
            self._session.close()
            raise
        self._graph.finalize()
        self.signatures: Mapping[str, Any] = dict(self.meta_graph.signature_def)
        self._callables: OrderedDict[_CallableKey, Callable[..., list[Array]]] = OrderedDict()
        self._lock = threading.Lock()
        self._batcher = (
            None
            if batching is None
            else BatchScheduler(self._run_now, batching, f"{name}/{version}")
        )
        LOG.info(
            "loaded model %s version %d from %s (signatures: %s)",
            name,
            version,
            export_dir,
            ", ".join(sorted(self.signatures)),
        )

    def run(
        self,
        feeds: Mapping[str, Array],
        fetches: Sequence[str],
        timeout_ms: int | None = None,
    ) -> list[Array]:
        """Feed arrays by tensor name, fetch tensors by name; TF errors keep their status.
        A run that succeeds is timed for the call being served (TF Serving's runtime_latency,
        its wait for a batch included, as around a BatchingSession's Run)."""
        started = time.perf_counter()
        if self._batcher is not None:
            outputs = self._batcher.run(feeds, fetches, timeout_ms)
        else:
            outputs = self._run_now(feeds, fetches, timeout_ms)
        record_session_run(time.perf_counter() - started)
        return outputs

    def _run_now(
        self, feeds: Mapping[str, Array], fetches: Sequence[str], timeout_ms: int | None
    ) -> list[Array]:
        import tensorflow as tf

        feed_names = tuple(sorted(feeds))
        runner = self._callable((feed_names, tuple(fetches), timeout_ms))
        try:
            return list(runner(*(feeds[name] for name in feed_names)))
        except tf.errors.OpError as exc:
            raise serving_error_from_tf(exc) from None

    def _callable(self, key: _CallableKey) -> Callable[..., list[Array]]:
        with self._lock:
            runner = self._callables.get(key)
            if runner is not None:
                self._callables.move_to_end(key)
                return runner
        import tensorflow as tf
        from tensorflow.core.protobuf import config_pb2

        feeds, fetches, timeout_ms = key
        options = config_pb2.CallableOptions(feed=list(feeds), fetch=list(fetches))
        if timeout_ms is not None:
            options.run_options.timeout_in_ms = timeout_ms
        try:
            runner = cast(
                Callable[..., list[Array]], self._session._make_callable_from_options(options)
            )
        except (tf.errors.OpError, ValueError, KeyError) as exc:
            if isinstance(exc, tf.errors.OpError):
                raise serving_error_from_tf(exc) from None
            raise error_for_grpc(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        with self._lock:
            self._callables[key] = runner
            while len(self._callables) > self.MAX_CALLABLES:
                self._callables.popitem(last=False)
        return runner

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        self._session.close()
