"""Applying an edited model config: TF Serving's reload RPC, and the fallback signal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc

from seldon_tfserving.codec.model_server_config import ModelServerConfigError
from seldon_tfserving.runner.reload import reload_model_config
from tests.grpc_servers import serving

CONFIG = """
model_config_list {
  config {
    name: "half_plus_two"
    base_path: "/models/half_plus_two"
    model_platform: "tensorflow"
    version_labels { key: "stable" value: 2 }
  }
}
"""


class RecordingModelService(model_service_pb2_grpc.ModelServiceServicer):  # type: ignore[misc]
    """Stands in for TF Serving's ModelService: keeps each reload request, answers `code`."""

    def __init__(self, code: int = 0, unimplemented: bool = False) -> None:
        self.requests: list[Any] = []
        self.code = code
        self.unimplemented = unimplemented

    def HandleReloadConfigRequest(self, request: Any, context: Any) -> Any:  # noqa: N802
        if self.unimplemented:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "not here")
        self.requests.append(request)
        reply = model_management_pb2.ReloadConfigResponse()
        reply.status.error_code = self.code
        reply.status.error_message = "bad config" if self.code else ""
        return reply


@contextmanager
def serving_model_service(service: RecordingModelService) -> Iterator[str]:
    """TF Serving's ModelService played by `service`; yields the "host:port" to reload at."""
    with serving(model_service_pb2_grpc.add_ModelServiceServicer_to_server, service) as port:
        yield f"127.0.0.1:{port}"


def test_the_new_config_is_sent_as_a_parsed_model_server_config() -> None:
    service = RecordingModelService()
    with serving_model_service(service) as target:
        assert reload_model_config(target, CONFIG) is True
    (request,) = service.requests
    (model,) = request.config.model_config_list.config
    assert model.name == "half_plus_two"
    assert dict(model.version_labels) == {"stable": 2}


def test_a_server_without_reload_says_so_so_the_runner_restarts_it() -> None:
    with serving_model_service(RecordingModelService(unimplemented=True)) as target:
        assert reload_model_config(target, CONFIG) is False


def test_a_refused_config_is_an_error_not_a_silent_success() -> None:
    with serving_model_service(RecordingModelService(code=3)) as target:
        with pytest.raises(RuntimeError, match="bad config"):
            reload_model_config(target, CONFIG)


def test_text_that_is_no_config_is_refused_before_anything_is_sent() -> None:
    service = RecordingModelService()
    with serving_model_service(service) as target:
        with pytest.raises(ModelServerConfigError, match="nmae"):
            reload_model_config(target, 'model_config_list { config { nmae: "x" } }')
    assert service.requests == []
