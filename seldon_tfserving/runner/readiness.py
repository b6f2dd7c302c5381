"""When a child counts as ready, as a cluster's readiness probes would decide.

A backend is ready when its gRPC port accepts connections, with a REST face each of its models
reports a version AVAILABLE, and the manifest's own readinessProbe passes (`probes.py`); a
component when `/health/status` answers 200 (which a TfServingModel only does once its TF
Serving answers) and its gRPC port is open.
"""

from __future__ import annotations

import requests

from seldon_tfserving.ports import port_open
from seldon_tfserving.runner.plan import BackendProcess, ComponentProcess

PROBE_TIMEOUT_S = 2.0


def model_available(rest_port: int, model: str) -> bool:
    try:
        reply = requests.get(
            f"http://127.0.0.1:{rest_port}/v1/models/{model}", timeout=PROBE_TIMEOUT_S
        )
        if not reply.ok:
            return False
        statuses = reply.json().get("model_version_status") or []
    except (requests.RequestException, ValueError):
        return False
    return any(status.get("state") == "AVAILABLE" for status in statuses)


def backend_ready(backend: BackendProcess) -> bool:
    """Our checks, then the manifest's own readinessProbe when it has one."""
    if not port_open(backend.grpc_port):
        return False
    if backend.rest_port is not None:
        if not backend.models and not port_open(backend.rest_port):
            return False
        if not all(model_available(backend.rest_port, model) for model in backend.models):
            return False
    return backend.readiness is None or backend.readiness.passes()


def component_ready(component: ComponentProcess) -> bool:
    endpoint = component.endpoint
    if not port_open(endpoint.grpc_port, endpoint.host):
        return False
    try:
        reply = requests.get(f"{endpoint.http_url}/health/status", timeout=PROBE_TIMEOUT_S)
    except requests.RequestException:
        return False
    return reply.status_code == 200
