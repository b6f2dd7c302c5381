"""The gateway's component clients replaced by recorded ones: the graph walk, in process.

`RecordedComponents.client_for` is the executor's `ClientFactory`. Each client it makes
records every call (node, method, the payload as it would go on the wire, headers,
transport) and answers from its node's scripted unit (`scripted_units.py`): JSON over REST,
a SeldonMessage over gRPC. A unit's refusal comes back as the real client relays a
component's error status; a unit raising `Unavailable` or `DeadlineExceeded` is a component
the client could not reach or that did not answer in time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from seldon_core.proto import prediction_pb2

from seldon_tfserving.errors import (
    DeadlineExceeded,
    ServingError,
    Unavailable,
    error_for_grpc,
    http_status_for_grpc,
)
from seldon_tfserving.gateway.component_client import (
    GRPC_METHODS,
    ComponentClient,
    ComponentFailure,
    ComponentMethod,
)
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.graph_plan import NodePlan
from seldon_tfserving.gateway.payload import JSON_CONTENT_TYPE, Payload, combined_json
from seldon_tfserving.transport import Transport
from tests.gateway.scripted_units import ScriptedUnit

#: Builds a node's unit from its node name and image (`name:version`).
UnitFactory = Callable[[str, str], ScriptedUnit]

#: Where a recorded component "listens": never dialled, the recorded client answers itself.
NOWHERE = ComponentEndpoint("127.0.0.1", 9, 9)


@dataclass(frozen=True)
class RecordedCall:
    """One call the graph walk made to a component."""

    node: str
    method: str
    #: the document sent: a message, a feedback, the children's list for `aggregate`, or None
    payload: Any
    headers: dict[str, str]
    transport: Transport


class RecordedComponents:
    """Every component of the graphs under test, in process: one unit per node name (graphs
    share it, as they share the node's process), and the calls in the order they were made."""

    def __init__(self, units: Mapping[str, UnitFactory]) -> None:
        self._factories = dict(units)
        self._units: dict[str, ScriptedUnit] = {}
        self._calls: list[RecordedCall] = []
        self._lock = threading.Lock()

    def client_for(
        self, plan: NodePlan, endpoint: ComponentEndpoint, transport: Transport
    ) -> ComponentClient:
        name, version = plan.image
        return RecordedClient(self, plan.node.name, f"{name}:{version}", transport)

    def script(self, node: str, unit: UnitFactory) -> None:
        """From now on `node` answers as `unit` does (a failing twin, a node of a test's own)."""
        with self._lock:
            self._factories[node] = unit
            self._units.pop(node, None)

    def reset(self, units: Mapping[str, UnitFactory]) -> None:
        """Forget every call and everything learned; the nodes answer as `units` do."""
        with self._lock:
            self._factories = dict(units)
            self._units.clear()
            self._calls.clear()

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, node: str, method: str | None = None) -> list[RecordedCall]:
        return [c for c in self.calls if c.node == node and method in (None, c.method)]

    def steps(self) -> list[tuple[str, str]]:
        """(node, method) of every call, in order."""
        return [(call.node, call.method) for call in self.calls]

    def unit(self, node: str, image: str) -> ScriptedUnit:
        with self._lock:
            if node not in self._units:
                if node not in self._factories:
                    raise AssertionError(f"no scripted unit for graph node {node!r}")
                self._units[node] = self._factories[node](node, image)
            return self._units[node]

    def record(self, call: RecordedCall) -> None:
        with self._lock:
            self._calls.append(call)


class RecordedClient:
    """One node's component client, over one transport, recording and answering in process."""

    def __init__(
        self, components: RecordedComponents, node: str, image: str, transport: Transport
    ) -> None:
        self._components = components
        self._node = node
        self._image = image
        self._transport = transport

    def call(
        self,
        method: ComponentMethod,
        payload: Payload | Sequence[Payload],
        headers: Mapping[str, str],
    ) -> Payload:
        sent = self._on_the_wire(payload)
        self._components.record(
            RecordedCall(self._node, method, sent, dict(headers), self._transport)
        )
        unit = self._components.unit(self._node, self._image)
        try:
            answer = unit.answer(method, sent)
        except (Unavailable, DeadlineExceeded):
            raise  # the client's own: nobody answered, or not in time
        except ServingError as refusal:
            raise self._relayed(refusal) from refusal
        if self._transport == "grpc":
            return Payload.component_answer(
                json_format.ParseDict(answer, prediction_pb2.SeldonMessage())
            )
        return Payload.from_json("message", json.dumps(answer).encode())

    def service_name(self, method: ComponentMethod) -> str:
        """The label the real client of this transport gives the call."""
        return GRPC_METHODS[method] if self._transport == "grpc" else "/" + method

    def model_metadata(self, headers: Mapping[str, str]) -> Any:
        self._components.record(
            RecordedCall(self._node, "metadata", None, dict(headers), self._transport)
        )
        document = self._components.unit(self._node, self._image).metadata()
        if self._transport == "grpc":
            return json_format.ParseDict(document, prediction_pb2.SeldonModelMetadata())
        return document

    def close(self) -> None:
        return None

    def _on_the_wire(self, payload: Payload | Sequence[Payload]) -> Any:
        """The document the real client of this transport would send."""
        if self._transport == "grpc":
            if isinstance(payload, Payload):
                return json_format.MessageToDict(payload.as_proto())
            return [json_format.MessageToDict(p.as_proto()) for p in payload]
        if isinstance(payload, Payload):
            return json.loads(payload.json_bytes())
        return json.loads(combined_json(list(payload)))

    def _relayed(self, refusal: ServingError) -> ComponentFailure:
        """The component's error status as the real client of this transport relays it."""
        if self._transport == "grpc":
            code = refusal.grpc_code
            body = json.dumps(error_for_grpc(code, refusal.message).seldon_json()).encode()
            return ComponentFailure(
                self._node, http_status_for_grpc(code), body, JSON_CONTENT_TYPE, code
            )
        # written as the microservice's Flask writes it: compact, with a closing newline
        body = json.dumps(refusal.seldon_json(), separators=(",", ":")).encode() + b"\n"
        return ComponentFailure(self._node, refusal.http_status, body, JSON_CONTENT_TYPE)
