"""TfServingModel hosted by the real `seldon-core-microservice`, in front of our backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.servers import Backend, Microservice, ServerProcess, port_open, start_microservice

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


def _ready(service: Microservice) -> bool:
    return (
        port_open(service.grpc_port)
        and requests.get(f"{service.http_url}/health/ping", timeout=2).ok
    )


@pytest.fixture(scope="module")
def serve_models(log_dir: Path) -> Iterator[ServeModels]:
    """Start microservices in parallel (TensorFlow imports overlap); stopped with the module.

    `serve(backend, half={"model_name": "half_plus_two"}, ...)`: each value holds the
    TfServingModel parameters; the endpoints default to `backend`'s.
    """
    started: list[ServerProcess] = []

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
            )
            started.append(service.server)
            services[name] = service
        for service in services.values():
            service.server.wait_until(lambda service=service: _ready(service), timeout_s=180)
        return services

    yield serve
    with ThreadPoolExecutor(max_workers=max(1, len(started))) as pool:
        list(pool.map(ServerProcess.stop, started))  # gunicorn's graceful exits overlap
