"""Reading routes: what a router answered, and what a feedback says its prediction took."""

from __future__ import annotations

from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray
from seldon_tfserving.errors import InternalError, ServingError
from seldon_tfserving.gateway.payload import Payload

ROUTE_ALL = -1
ROUTE_NONE = -2


def route_of(node: str, payload: Payload) -> int:
    """The route a router answered: the first value of its data (or of a bare JSON list)."""
    if not payload.is_proto:
        document = payload.as_json()
        if isinstance(document, list) and document and isinstance(document[0], int):
            return int(document[0])
    try:
        message = payload.as_proto()
    except ServingError as error:
        raise InternalError(f"router {node!r} answered no route: {error.message}") from error
    data = message.data
    kind = data.WhichOneof("data_oneof") if message.HasField("data") else None
    if kind == "ndarray" and data.ndarray.values:
        first = data.ndarray.values[0]
        if first.HasField("list_value") and first.list_value.values:
            return int(first.list_value.values[0].number_value)
        return int(first.number_value)
    if kind == "tensor" and data.tensor.values:
        return int(data.tensor.values[0])
    if kind == "tftensor":
        # Seldon answers a tftensor request with a tftensor route (int64, often tensor_content)
        try:
            values = tensor_proto_to_ndarray(data.tftensor).reshape(-1)
        except ServingError as error:
            raise InternalError(f"router {node!r} answered no route: {error.message}") from error
        if values.size:
            return int(values[0])
    raise InternalError(f"router {node!r} answered no route")


def feedback_route(feedback: Payload, node: str) -> int:
    """The route `node` took for the prediction this feedback is about (-1 when unknown)."""
    if feedback.is_proto:
        routing = feedback.as_proto().response.meta.routing
        return int(routing[node]) if node in routing else ROUTE_ALL
    document = feedback.as_json()
    try:
        return int(document["response"]["meta"]["routing"][node])
    except (KeyError, TypeError, ValueError):
        return ROUTE_ALL
