"""When a child of the runner counts as ready, as a cluster's readiness probes would decide.

A backend is ready when the launcher's check passes (gRPC open, with a REST face each of its
models AVAILABLE) and so does the manifest's own readinessProbe (`probes.py`); a component
when its gRPC port is open and `/health/status` answers 200, which a TfServingModel only does
once its TF Serving answers.
"""

from __future__ import annotations

from seldon_tfserving.runner import launch
from seldon_tfserving.runner.backend_process import BackendProcess
from seldon_tfserving.runner.component_process import ComponentProcess


def backend_ready(backend: BackendProcess) -> bool:
    """Our checks, then the manifest's own readinessProbe when it has one."""
    if not launch.backend_ready(backend.grpc_port, backend.rest_port, backend.models, backend.host):
        return False
    return backend.readiness is None or backend.readiness.passes()


def component_ready(component: ComponentProcess) -> bool:
    return launch.microservice_ready(component.endpoint, launch.STATUS)
