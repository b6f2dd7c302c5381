"""The bench's names for the processes it starts: their logs, their memory, and the CPU each
spends per answer are all reported under these names, so they are made in one place."""

from __future__ import annotations

from seldon_tfserving.bench.models import BenchModel

BACKEND_PROCESS = "backend"
BATCHING_BACKEND_PROCESS = "backend-batching"
#: the bare Python gRPC forwarder in front of the backend (the floor of a Python hop)
FORWARDER_PROCESS = "forwarder"
GATEWAY_PROCESS = "gateway"
ROUTER_PROCESS = "router"
COMBINER_PROCESS = "combiner"


def wrapper_process(model: BenchModel, rest_transport: bool = False) -> str:
    """The wrapper component serving `model` (the one with `transport: rest`, or the default)."""
    return f"wrapper-rest-{model.name}" if rest_transport else f"wrapper-{model.name}"


def reference_process(model: BenchModel) -> str:
    """The reference class's component serving `model` (`bench --reference-class`)."""
    return f"reference-{model.name}"


def wrapper_forwarder_process(model: BenchModel) -> str:
    """The bare forwarder in front of `model`'s wrapper (the floor under the gateway's hop)."""
    return f"forwarder-wrapper-{model.name}"
