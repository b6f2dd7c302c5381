"""TF Serving's own metrics for what this backend measures, recorded where TF Serving records
them, and served as its PrometheusExporter page (`--monitoring_config_file`).

Names, labels and buckets are TF Serving's (servables/tensorflow/util.cc): a call's count by
model and status and, when it succeeded, its latency by model, API and entrypoint, taken around
the whole call at the face (prediction_service_impl.cc for gRPC, http_server.cc for REST); the
examples of a MultiInference (multi_inference.cc); each session run's time (predict_util.cc,
classifier.cc, regressor.cc) and, with batching, each run's time in the queue and each batch's
run (batching_session.cc). A face marks the call it serves (`measured_call`), and the session
and the batch scheduler, deeper down, record into that call's metrics. TensorFlow's own
SavedModel read counters are read from TensorFlow. What is not measured is not on the page.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc

from seldon_tfserving.backend.tf_metrics import (
    CounterFamily,
    Family,
    SamplerFamily,
    counter_lines,
    exponential_buckets,
    exporter_page,
)

#: util.cc: "Scale of 10, power of 1.8 with bucket count 33 (~20 minutes)", in microseconds.
LATENCY_BUCKETS_US = exponential_buckets(10, 1.8, 33)
#: util.cc: "[1, 2, 4, 8, ..., 16 * 1024, DBL_MAX]".
EXAMPLE_COUNT_BUCKETS = exponential_buckets(1, 2, 15)
#: batching_session.cc: "Scale of 100, power of 1.2 with bucket count 52 (~1 second)".
QUEUING_LATENCY_BUCKETS_US = exponential_buckets(100, 1.2, 52)
#: A TensorFlow Session runs every version here: TF Serving's label for that runtime.
SESSION_RUNTIME = "TF1"
#: The model server makes its batching sessions without a thread pool name.
BATCHING_THREAD_POOL_NAME = ""
GRPC_ENTRYPOINT = "GRPC"
REST_ENTRYPOINT = "REST"
#: The gRPC methods TF Serving counts, and the API label each records under.
_PREDICTION_SERVICE = "/tensorflow.serving.PredictionService/"
MEASURED_GRPC_METHODS = {
    f"{_PREDICTION_SERVICE}Predict": "Predict",
    f"{_PREDICTION_SERVICE}Classify": "Classify",
    f"{_PREDICTION_SERVICE}Regress": "Regress",
}
MULTI_INFERENCE_METHOD = f"{_PREDICTION_SERVICE}MultiInference"
#: TensorFlow's SavedModel read counters, and the label values this backend's loader uses
#: (TensorFlow's v1 loader reports api_label "loader"; a SavedModel is written as 1 or 2).
_READ_COUNT = "/tensorflow/core/saved_model/read/count"
_READ_API = "/tensorflow/core/saved_model/read/api"
_WRITE_VERSIONS = ("1", "2")
_LOADER_API_LABEL = "loader"


class ServingMetrics:
    """The metric families of one backend, and its page; the batching session's only when
    the backend batches (--enable_batching)."""

    def __init__(self, batching: bool = False) -> None:
        self.request_count = CounterFamily(
            "/tensorflow/serving/request_count", ("model_name", "status")
        )
        self.request_latency = SamplerFamily(
            "/tensorflow/serving/request_latency",
            ("model_name", "API", "entrypoint"),
            LATENCY_BUCKETS_US,
        )
        self.example_counts = SamplerFamily(
            "/tensorflow/serving/request_example_counts", ("model",), EXAMPLE_COUNT_BUCKETS
        )
        self.example_count_total = CounterFamily(
            "/tensorflow/serving/request_example_count_total", ("model",)
        )
        self.runtime_latency = SamplerFamily(
            "/tensorflow/serving/runtime_latency",
            ("model_name", "API", "runtime"),
            LATENCY_BUCKETS_US,
        )
        self.batching = batching
        self.queuing_latency = SamplerFamily(
            "/tensorflow/serving/batching_session/queuing_latency",
            ("thread_pool_name",),
            QUEUING_LATENCY_BUCKETS_US,
        )
        self.wrapped_run_count = CounterFamily(
            "/tensorflow/serving/batching_session/wrapped_run_count"
        )

    @property
    def families(self) -> tuple[Family, ...]:
        served: tuple[Family, ...] = (
            self.request_count,
            self.request_latency,
            self.example_counts,
            self.example_count_total,
            self.runtime_latency,
        )
        return (*served, self.queuing_latency, self.wrapped_run_count) if self.batching else served

    def record_request(
        self, model_name: str, api: str, entrypoint: str, status: str, latency_us: float
    ) -> None:
        """One finished call: counted by status; its latency kept when it succeeded."""
        if status == "OK":
            self.request_latency.add(model_name, api, entrypoint, sample=latency_us)
        self.request_count.increment(model_name, status)

    def record_examples(self, model_name: str, count: int) -> None:
        """RecordRequestExampleCount: the tf.Examples one multi-inference ran."""
        self.example_counts.add(model_name, sample=count)
        self.example_count_total.increment(model_name, by=count)

    def page(self) -> str:
        """The exposition text, as TF Serving's metrics path answers it."""
        sections = [(family.name, family.lines()) for family in self.families]
        sections.extend(_tensorflow_saved_model_reads())
        return exporter_page(sections)


@dataclass(frozen=True)
class MeasuredCall:
    """The call a face is serving: whose metrics its session runs and batches go to, and the
    API its runs are recorded under (None: a MultiInference, whose runs TF Serving does not
    time)."""

    metrics: ServingMetrics
    model_name: str
    api: str | None


_CURRENT_CALL: ContextVar[MeasuredCall | None] = ContextVar("measured_call", default=None)


@contextmanager
def measured_call(metrics: ServingMetrics, model_name: str, api: str | None) -> Iterator[None]:
    """Mark the call this thread serves until the block ends."""
    token = _CURRENT_CALL.set(MeasuredCall(metrics, model_name, api))
    try:
        yield
    finally:
        _CURRENT_CALL.reset(token)


def record_session_run(seconds: float) -> None:
    """A run of the session (batched or not) that succeeded, for the call being served."""
    call = _CURRENT_CALL.get()
    if call is not None and call.api is not None:
        call.metrics.runtime_latency.add(
            call.model_name, call.api, SESSION_RUNTIME, sample=seconds * 1e6
        )


def record_batch_dequeued(queued_seconds: Sequence[float]) -> None:
    """A batch taken from its queue: how long each of its runs waited there."""
    call = _CURRENT_CALL.get()
    if call is not None and call.metrics.batching:
        for seconds in queued_seconds:
            call.metrics.queuing_latency.add(BATCHING_THREAD_POOL_NAME, sample=seconds * 1e6)


def record_wrapped_run() -> None:
    """One run of the wrapped session for a whole batch, whatever its outcome."""
    call = _CURRENT_CALL.get()
    if call is not None and call.metrics.batching:
        call.metrics.wrapped_run_count.increment()


def _tensorflow_saved_model_reads() -> list[tuple[str, list[str]]]:
    """TensorFlow's own counts of SavedModels read, by the values its loader records."""
    from tensorflow.python.saved_model.pywrap_saved_model import metrics

    reads = [((v,), int(metrics.GetRead(write_version=v))) for v in _WRITE_VERSIONS]
    apis = [((_LOADER_API_LABEL,), int(metrics.GetReadApi(_LOADER_API_LABEL)))]
    return [
        (_READ_COUNT, counter_lines(_READ_COUNT, ("write_version",), [c for c in reads if c[1]])),
        (_READ_API, counter_lines(_READ_API, ("api_label",), [c for c in apis if c[1]])),
    ]


def _status_name(code: grpc.StatusCode | None) -> str:
    """error::Code_Name of a call's status (gRPC's codes are TensorFlow's)."""
    return "OK" if code is None else str(code.name)


def example_count(request: Any) -> int:
    """The tf.Examples of an `Input` (multi_inference.cc's NumInputExamples)."""
    kind = request.input.WhichOneof("kind")
    if kind == "example_list":
        return len(request.input.example_list.examples)
    if kind == "example_list_with_context":
        return len(request.input.example_list_with_context.examples)
    return 0


class GrpcRequestMetrics(grpc.ServerInterceptor):  # type: ignore[misc]
    """Records Predict, Classify and Regress as PredictionServiceImpl does (entrypoint GRPC),
    and the examples of each MultiInference that succeeded."""

    def __init__(self, metrics: ServingMetrics) -> None:
        self._metrics = metrics

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None:
            return handler
        if method in MEASURED_GRPC_METHODS:
            behaviour = self._measured(handler.unary_unary, MEASURED_GRPC_METHODS[method])
        elif method == MULTI_INFERENCE_METHOD:
            behaviour = self._counting_examples(handler.unary_unary)
        else:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _measured(
        self, behaviour: Callable[[Any, grpc.ServicerContext], Any], api: str
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def measured(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                with measured_call(self._metrics, request.model_spec.name, api):
                    response = behaviour(request, context)
            except BaseException:
                code = context.code()
                failed = code if code not in (None, grpc.StatusCode.OK) else None
                status = _status_name(failed or grpc.StatusCode.UNKNOWN)
                self._metrics.record_request(
                    request.model_spec.name, api, GRPC_ENTRYPOINT, status, 0.0
                )
                raise
            latency_us = (time.perf_counter() - started) * 1e6
            self._metrics.record_request(
                request.model_spec.name,
                api,
                GRPC_ENTRYPOINT,
                _status_name(context.code()),
                latency_us,
            )
            return response

        return measured

    def _counting_examples(
        self, behaviour: Callable[[Any, grpc.ServicerContext], Any]
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def counting(request: Any, context: grpc.ServicerContext) -> Any:
            model_name = request.tasks[0].model_spec.name if request.tasks else ""
            with measured_call(self._metrics, model_name, None):
                response = behaviour(request, context)
            if context.code() in (None, grpc.StatusCode.OK) and request.tasks:
                self._metrics.record_examples(model_name, example_count(request))
            return response

        return counting
