"""TF Serving's gRPC face: `tensorflow.serving.PredictionService` and `ModelService`.

Each method translates protos to the core's calls and back; a ServingError becomes the gRPC
status it carries, once, here. Deadlines reach TensorFlow as a run timeout, rounded up to a
power of two milliseconds so that a handful of cached callables cover every caller.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any, TypeVar

import grpc
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    input_pb2,
    model_management_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from seldon_tfserving.backend import example_methods
from seldon_tfserving.backend.config_reload import ServedConfig
from seldon_tfserving.backend.core import Answered, ModelRef, ServingCore
from seldon_tfserving.backend.tensor_fields import ndarray_to_proto_fields
from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray
from seldon_tfserving.errors import InvalidInput, ServingError, Unimplemented

LOG = logging.getLogger(__name__)
Response = TypeVar("Response")

#: A tf.Example method of the core (`example_methods.classify` or `regress`).
ExampleMethod = Callable[
    [ServingCore, ModelRef, str, input_pb2.Input, int | None],
    tuple[Answered, Any],
]


def model_ref(spec: Any) -> ModelRef:
    """Our ModelRef for a `tensorflow.serving.ModelSpec`."""
    version = int(spec.version.value) if spec.HasField("version") else None
    return ModelRef(spec.name, version, spec.version_label or None)


def timeout_ms_for(context: grpc.ServicerContext) -> int | None:
    """The caller's remaining deadline in ms, rounded up to a power of two; None if unbounded."""
    remaining = context.time_remaining()
    if remaining is None or remaining > 24 * 3600:
        return None
    millis = max(int(remaining * 1000), 1)
    return 1 << (millis - 1).bit_length()


def _translated(
    method: Callable[[Any, Any, grpc.ServicerContext], Response],
) -> Callable[[Any, Any, grpc.ServicerContext], Response]:
    """Run a servicer method; abort with the status a ServingError carries."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Response:
        try:
            return method(self, request, context)
        except ServingError as exc:
            context.abort(exc.grpc_code, exc.message)
        except Exception as exc:  # noqa: BLE001 - the edge: never lose a request silently
            LOG.exception("%s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable: context.abort raises")

    return wrapper


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    """Predict, Classify, Regress and GetModelMetadata over the shared core."""

    def __init__(self, core: ServingCore) -> None:
        self._core = core

    @_translated
    def Predict(  # noqa: N802 - gRPC method name
        self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> predict_pb2.PredictResponse:
        inputs = {name: tensor_proto_to_ndarray(t) for name, t in request.inputs.items()}
        prediction = self._core.predict(
            model_ref(request.model_spec),
            request.model_spec.signature_name,
            inputs,
            list(request.output_filter),
            timeout_ms_for(context),
        )
        response = predict_pb2.PredictResponse()
        prediction.fill_spec(response.model_spec)
        for name, array in prediction.outputs.items():
            response.outputs[name].CopyFrom(ndarray_to_proto_fields(array, prediction.dtypes[name]))
        return response

    @_translated
    def Classify(  # noqa: N802
        self, request: classification_pb2.ClassificationRequest, context: grpc.ServicerContext
    ) -> classification_pb2.ClassificationResponse:
        return self._on_examples(
            example_methods.classify, request, context, classification_pb2.ClassificationResponse()
        )

    @_translated
    def Regress(  # noqa: N802
        self, request: regression_pb2.RegressionRequest, context: grpc.ServicerContext
    ) -> regression_pb2.RegressionResponse:
        return self._on_examples(
            example_methods.regress, request, context, regression_pb2.RegressionResponse()
        )

    def _on_examples(
        self, method: ExampleMethod, request: Any, context: grpc.ServicerContext, response: Any
    ) -> Any:
        """Classify and Regress alike: run `method` on the request's examples, then fill the
        response with its result and the version and signature that answered."""
        answered, result = method(
            self._core,
            model_ref(request.model_spec),
            request.model_spec.signature_name,
            request.input,
            timeout_ms_for(context),
        )
        response.result.CopyFrom(result)
        answered.fill_spec(response.model_spec)
        return response

    @_translated
    def MultiInference(  # noqa: N802
        self, request: inference_pb2.MultiInferenceRequest, context: grpc.ServicerContext
    ) -> inference_pb2.MultiInferenceResponse:
        spec = request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()
        return example_methods.multi_inference(
            self._core, model_ref(spec), request, timeout_ms_for(context)
        )

    @_translated
    def GetModelMetadata(  # noqa: N802
        self,
        request: get_model_metadata_pb2.GetModelMetadataRequest,
        context: grpc.ServicerContext,
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if not request.HasField("model_spec"):
            raise InvalidInput("Missing ModelSpec")
        return self._core.metadata(model_ref(request.model_spec), list(request.metadata_field))


class ModelService(model_service_pb2_grpc.ModelServiceServicer):  # type: ignore[misc]
    """GetModelStatus over the shared core; config reload where a ServedConfig is given."""

    def __init__(self, core: ServingCore, served_config: ServedConfig | None = None) -> None:
        self._core = core
        self._served_config = served_config

    @_translated
    def GetModelStatus(  # noqa: N802
        self,
        request: get_model_status_pb2.GetModelStatusRequest,
        context: grpc.ServicerContext,
    ) -> get_model_status_pb2.GetModelStatusResponse:
        if not request.HasField("model_spec"):
            raise InvalidInput("Missing ModelSpec")
        ref = model_ref(request.model_spec)
        return self._core.status(ref.name, ref.version)

    @_translated
    def HandleReloadConfigRequest(  # noqa: N802
        self, request: model_management_pb2.ReloadConfigRequest, context: grpc.ServicerContext
    ) -> model_management_pb2.ReloadConfigResponse:
        if self._served_config is None:
            raise Unimplemented("HandleReloadConfigRequest is not supported by this server")
        if request.config.WhichOneof("config") != "model_config_list":
            raise InvalidInput(
                "ServerModelConfig type not supported by HandleReloadConfigRequest. "
                "Only ModelConfigList is currently supported"
            )
        self._served_config.reload(request.config)
        response = model_management_pb2.ReloadConfigResponse()
        response.status.SetInParent()  # error_code OK
        return response


def build_grpc_server(
    core: ServingCore,
    port: int,
    *,
    workers: futures.ThreadPoolExecutor,
    max_request_bytes: int,
    host: str = "0.0.0.0",
    served_config: ServedConfig | None = None,
    socket_path: str = "",
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    channel_arguments: Sequence[tuple[str, int | str]] = (),
) -> tuple[grpc.Server, int]:
    """A ready (not yet started) gRPC server with both services on `host:port`, and on the
    UNIX socket `socket_path` when one is given (as TF Serving's --grpc_socket_path); config
    reloads are offered when `served_config` is given, `interceptors` see every call (the
    monitoring's), `channel_arguments` (--grpc_channel_arguments) replace ours of the same name.
    Returns it with the port it bound.

    gRPC never shuts `workers` down: whoever passes the pool shuts it down after the server.
    OSError when an address cannot be bound."""
    options: dict[str, int | str] = {
        "grpc.max_receive_message_length": max_request_bytes,
        "grpc.max_send_message_length": -1,
        "grpc.so_reuseport": 0,
    }
    options.update(channel_arguments)  # each key once: gRPC would take the first
    server = grpc.server(
        workers,
        options=list(options.items()),
        interceptors=list(interceptors),
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(core), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        ModelService(core, served_config), server
    )
    bound = _bind(server, f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind the gRPC port {host}:{port}")
    if socket_path and _bind(server, f"unix:{socket_path}") == 0:
        _give_back(server)
        raise OSError(f"cannot listen on the UNIX socket {socket_path}")
    return server, bound


def _bind(server: grpc.Server, address: str) -> int:
    """The port bound at `address`, 0 if it cannot be (gRPC reports that either way)."""
    try:
        return int(server.add_insecure_port(address))
    except RuntimeError:  # recent gRPC raises where older ones returned 0
        return 0


def _give_back(server: grpc.Server) -> None:
    """Release the ports of a server that will never serve: gRPC keeps an unstarted server's
    ports bound even once it is dropped, until it has been started and stopped."""
    server.start()
    server.stop(grace=None).wait()
