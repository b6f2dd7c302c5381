"""One logged CloudEvent as Seldon's executor (and our gateway) sends it: binary mode, Ce-*.

Our reader of the HTTP binding (`cloudevent_http`) reads the envelope; what Seldon puts in it
(node, request id, deployment, predictor, protocol) becomes typed fields, so nothing downstream
looks at a header again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from seldon_tfserving.logs.cloudevent_http import (
    InvalidCloudEvent,
    NoCloudEventHeaders,
    read_binary_event,
)

EventKind = Literal["request", "response", "feedback"]

#: Ce-Type -> kind (executor/logger/worker.go)
EVENT_KINDS: dict[str, EventKind] = {
    "io.seldon.serving.inference.request": "request",
    "io.seldon.serving.inference.response": "response",
    "io.seldon.serving.feedback": "feedback",
}


class EventRejected(ValueError):
    """An event the sink cannot use; the message is the dead letter's reason."""


@dataclass(frozen=True)
class LoggedEvent:
    """A request, response or feedback payload of one graph node for one prediction."""

    kind: EventKind
    event_id: str
    request_id: str
    node: str
    deployment: str
    namespace: str
    predictor: str
    #: `Ce-Protocol`: seldon or tensorflow (absent: seldon, as older executors send)
    protocol: str
    content_type: str
    time: datetime
    body: bytes


def read_event(headers: Mapping[str, str], body: bytes) -> LoggedEvent:
    """The event in `headers` and `body`, or EventRejected naming what is wrong."""
    try:
        event = read_binary_event(headers, body)
    except NoCloudEventHeaders:
        raise EventRejected("not a binary-mode CloudEvent: no Ce-* headers") from None
    except InvalidCloudEvent as error:
        raise EventRejected(f"not a CloudEvent: {error}") from None
    attributes = event.attributes
    ce_type = str(attributes.get("type", ""))
    kind = EVENT_KINDS.get(ce_type)
    if kind is None:
        raise EventRejected(f"Ce-Type {ce_type!r} is none of {', '.join(EVENT_KINDS)}")
    fields = {name: str(attributes.get(name) or "") for name in ("requestid", "modelid")}
    for name, value in fields.items():
        if not value:
            raise EventRejected(f"the Ce-{name.capitalize()} header is missing or empty")
    data = event.data
    if not data:
        raise EventRejected("the event has no body")
    return LoggedEvent(
        kind=kind,
        event_id=str(attributes.get("id", "")),
        request_id=fields["requestid"],
        node=fields["modelid"],
        deployment=str(attributes.get("inferenceservicename") or "unknown"),
        namespace=str(attributes.get("namespace") or ""),
        predictor=str(attributes.get("endpoint") or "unknown"),
        protocol=str(attributes.get("protocol") or "seldon").lower(),
        content_type=str(attributes.get("datacontenttype") or "application/json"),
        time=(event.time or datetime.now(UTC)).astimezone(UTC),
        body=data,
    )
