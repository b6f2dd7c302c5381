"""Initial metadata that leaves with the answer, as Go's `grpc.SetHeader` does for Seldon's
executor, instead of in a write of its own before the graph has run.

grpcio's sync server sends `context.send_initial_metadata(...)` at once, as a batch of its
own: one more operation, write and wake-up on every call (measured A/B: 50-110 us of CPU per
answer on a bare forwarder; 5-12% of the gateway's CPU per answer on the single gRPC graph).
That server already puts the initial metadata in the answer's own batch, or the abort's,
when the handler sent none, and reads what goes there through one function,
`grpc._server._get_initial_metadata`. `install()` wraps that function so that it also
returns what `send_with_answer` left on the call's state. grpcio offers no public deferred
form; where its server lacks this shape, `send_with_answer` sends at once, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import grpc

logger = logging.getLogger(__name__)

Metadata = Sequence[tuple[str, str]]

#: The attribute of grpcio's per-call `_RPCState` that holds metadata waiting for the answer.
_PENDING = "_seldon_tfserving_answer_headers"

_lock = threading.Lock()
_installed = False


def _server_module() -> Any:
    from grpc import _server

    return _server


def deferred_supported() -> bool:
    """Whether this grpcio's server has the shape `install()` and `send_with_answer` rely on:
    the function that reads an answer's initial metadata, and per-call state holding a
    condition and whether initial metadata may still be sent."""
    server = _server_module()
    state_type = getattr(server, "_RPCState", None)
    if not callable(getattr(server, "_get_initial_metadata", None)) or state_type is None:
        return False
    try:
        state = state_type()
    except TypeError:
        return False
    return hasattr(state, "condition") and hasattr(state, "initial_metadata_allowed")


def install() -> bool:
    """Wrap grpcio's reading of a call's initial metadata, once per process; False (and a
    warning) when this grpcio cannot take it, so that calls send their metadata at once."""
    global _installed
    with _lock:
        if _installed:
            return True
        if not deferred_supported():
            logger.warning(
                "grpcio %s cannot hold initial metadata for the answer: gRPC answers' "
                "initial metadata is sent in a write of its own",
                grpc.__version__,
            )
            return False
        server = _server_module()
        server._get_initial_metadata = _with_pending(server._get_initial_metadata)
        _installed = True
        return True


def _with_pending(read: Callable[[Any, Metadata | None], Any]) -> Callable[..., Any]:
    def initial_metadata(state: Any, metadata: Metadata | None) -> Any:
        if metadata is None:
            metadata = getattr(state, _PENDING, None)
        return read(state, metadata)

    return initial_metadata


def send_with_answer(context: grpc.ServicerContext, metadata: Metadata) -> None:
    """Send `metadata` as the call's initial metadata in the batch that carries its answer (or
    its error status); at once when this process's grpcio server cannot defer it."""
    state = getattr(context, "_state", None)
    if not _installed or state is None or not hasattr(state, "initial_metadata_allowed"):
        context.send_initial_metadata(metadata)
        return
    with state.condition:
        if state.initial_metadata_allowed:
            setattr(state, _PENDING, tuple(metadata))
            return
    context.send_initial_metadata(metadata)  # too late to defer: grpcio raises as it would
