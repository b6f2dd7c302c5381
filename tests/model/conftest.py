"""TfServingModel hosted by the real `seldon-core-microservice`, in front of our backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from seldon_tfserving.runner.child import ChildProcess, stop_together
from seldon_tfserving.runner.launch import MICROSERVICE
from tests.servers import Backend, Microservice, start_microservice, wait_until_ready

MODEL_CLASS = "seldon_tfserving.TfServingModel"

#: serve(backend, name=params, ...) -> {name: Microservice}, all started at once.
ServeModels = Callable[..., dict[str, Microservice]]


def seldon_parameters(**values: Any) -> list[dict[str, str]]:
    """Seldon's `--parameters` list, each value with the type Seldon would give it."""
    parameters = []
    for name, value in values.items():
        kind = "STRING"
        if isinstance(value, int):
            kind = "INT"
        elif isinstance(value, float):
            kind = "FLOAT"
        parameters.append({"name": name, "type": kind, "value": str(value)})
    return parameters


@pytest.fixture(scope="module")
def serve_models(log_dir: Path) -> Iterator[ServeModels]:
    """Start microservices in parallel (TensorFlow imports overlap); stopped with the module.

    `serve(backend, half={"model_name": "half_plus_two"}, ...)`: each value holds the
    TfServingModel parameters; the endpoints default to `backend`'s.
    """
    yield from serving_models(log_dir, MICROSERVICE)


def serving_models(log_dir: Path, program: Sequence[str]) -> Iterator[ServeModels]:
    """`serve_models`' body, its microservices run by `program` (`seldon-core-microservice`,
    or our entry to it without TensorFlow's runtime)."""
    started: list[ChildProcess] = []

    def serve(backend: Backend, **configs: dict[str, Any]) -> dict[str, Microservice]:
        services: dict[str, Microservice] = {}
        for name, config in configs.items():
            values = {
                "grpc_endpoint": backend.grpc_endpoint,
                "rest_endpoint": backend.rest_endpoint,
                **config,
            }
            extra = tuple(values.pop("extra_args", ()))
            service = start_microservice(
                log_dir,
                MODEL_CLASS,
                parameters=seldon_parameters(**values),
                extra_args=extra,
                wait_ready=False,
                program=program,
            )
            started.append(service.server)
            services[name] = service
        wait_until_ready(*services.values(), timeout_s=180)
        return services

    yield serve
    stop_together(started)  # gunicorn's graceful exits overlap


#: TfServingModels whose TF faces tests/model's TF-protocol tests call, on two_versions
#: (versions 123 and 124; labels stable=123, canary=124): unpinned over both transports, and
#: pinned (a version over gRPC, a label over REST), these also configured for a signature
#: other than TF's default, so that a request naming none is seen to call it.
TF_WRAPPERS: dict[str, dict[str, Any]] = {
    "grpc": {"model_name": "two_versions"},
    "rest": {"model_name": "two_versions", "transport": "rest"},
    "pinned_grpc": {
        "model_name": "two_versions",
        "model_version": 123,
        "signature_name": "classify_x_to_y",
    },
    "pinned_rest": {
        "model_name": "two_versions",
        "version_label": "canary",
        "transport": "rest",
        "signature_name": "classify_x_to_y",
    },
}


@pytest.fixture(scope="session")
def tf_wrappers(log_dir: Path, backend: Backend) -> Iterator[dict[str, Microservice]]:
    """The TF_WRAPPERS in front of the session backend, started once for every TF-protocol
    test of this folder (each start imports TensorFlow three times)."""
    services: dict[str, Microservice] = {}
    for name, config in TF_WRAPPERS.items():
        values = {"grpc_endpoint": backend.grpc_endpoint, "rest_endpoint": backend.rest_endpoint}
        services[name] = start_microservice(
            log_dir,
            MODEL_CLASS,
            parameters=seldon_parameters(**values, **config),
            wait_ready=False,
        )
    try:
        wait_until_ready(*services.values(), timeout_s=240)
        yield services
    finally:
        stop_together([service.server for service in services.values()])
