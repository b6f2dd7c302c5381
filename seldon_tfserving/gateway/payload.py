"""A Seldon payload on its way through the graph: JSON bytes or a proto, converted lazily.

The executor forwards REST bodies as bytes and gRPC messages as protos; only a hop that needs
the other form (a gRPC component behind a REST request, a route to read, routing to inject)
pays for a conversion, and each conversion happens at most once per payload.
"""

from __future__ import annotations

from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import Message
from seldon_core.proto import prediction_pb2

from seldon_tfserving.codec import fast_json
from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.gateway.json_meta import rewrite_meta
from seldon_tfserving.gateway.message_json import answer_json

PayloadKind = Literal["message", "feedback"]

JSON_CONTENT_TYPE = "application/json"
PROTOBUF_CONTENT_TYPE = "application/protobuf"

_PROTO_FOR_KIND: dict[str, type[Message]] = {
    "message": prediction_pb2.SeldonMessage,
    "feedback": prediction_pb2.Feedback,
}


class Payload:
    """One SeldonMessage (or Feedback) in whichever form it arrived."""

    __slots__ = ("kind", "_json", "_parsed", "_proto", "_answer")

    def __init__(
        self,
        kind: PayloadKind,
        *,
        json_body: bytes | None = None,
        proto: Message | None = None,
        answer: bool = False,
    ) -> None:
        if json_body is None and proto is None:
            raise ValueError("a payload needs a JSON body or a proto")
        self.kind = kind
        self._json = json_body
        self._parsed: Any = None
        self._proto = proto
        #: a component's gRPC answer: its JSON prints float32 values as the component does
        self._answer = answer

    @classmethod
    def from_json(cls, kind: PayloadKind, body: bytes) -> Payload:
        return cls(kind, json_body=body)

    @classmethod
    def from_proto(cls, kind: PayloadKind, message: Message) -> Payload:
        return cls(kind, proto=message)

    @classmethod
    def component_answer(cls, message: Message) -> Payload:
        """A gRPC component's answer: re-encoded for a REST client as the component would
        print it over REST (float32 values as float32, not as the doubles that carry them);
        a request is re-encoded as it came, every double exact."""
        return cls("message", proto=message, answer=True)

    @property
    def is_proto(self) -> bool:
        """True when the payload arrived as a proto (it then leaves as one too)."""
        return self._json is None

    def json_bytes(self) -> bytes:
        if self._json is None:
            assert self._proto is not None
            if self._answer:
                self._json = answer_json(self._proto)
            else:
                self._json = json_format.MessageToJson(self._proto, indent=None).encode()
        return self._json

    def as_json(self) -> Any:
        """The JSON document (parsed once); bad JSON is the caller's error."""
        if self._parsed is None:
            if self._json is None:
                assert self._proto is not None
                self._parsed = json_format.MessageToDict(self._proto)
            else:
                try:
                    self._parsed = fast_json.loads(self._json)
                except ValueError as error:  # bad JSON or UTF-8, an integer of 4300+ digits
                    raise InvalidInput(f"request body is not valid JSON: {error}") from error
                except RecursionError:
                    raise InvalidInput("request body is nested too deeply") from None
        return self._parsed

    def as_proto(self) -> Any:
        """The proto (`SeldonMessage` or `Feedback`); typed Any as the generated code is."""
        if self._proto is None:
            message = _PROTO_FOR_KIND[self.kind]()
            document = self.as_json()
            if not isinstance(document, dict):
                raise InvalidInput(f"a {self.kind} must be a JSON object")
            try:
                json_format.ParseDict(document, message)
            except json_format.ParseError as error:
                raise InvalidInput(f"not a Seldon {self.kind}: {error}") from error
            except RecursionError:
                raise InvalidInput(f"a Seldon {self.kind} nested too deeply") from None
            self._proto = message
        return self._proto

    def log_body(self) -> tuple[bytes, str]:
        """The bytes and content type the request logger sends, as the executor sends them."""
        if self._json is not None:
            return self._json, JSON_CONTENT_TYPE
        assert self._proto is not None
        return self._proto.SerializeToString(), PROTOBUF_CONTENT_TYPE


def with_meta(payload: Payload, routing: dict[str, int] | None, puid: str | None) -> Payload:
    """The response with `meta.routing` and `meta.puid` written in (as routing injection does)."""
    if routing is None and puid is None:
        return payload
    if payload.is_proto:
        message = payload.as_proto()
        if routing is not None:
            message.meta.routing.clear()
            message.meta.routing.update(routing)
        if puid and not message.meta.puid:
            message.meta.puid = puid
        return payload

    def update(meta: dict[str, Any]) -> None:
        if routing is not None:
            meta["routing"] = dict(routing)
        if puid and not meta.get("puid"):
            meta["puid"] = puid

    try:
        return Payload.from_json(payload.kind, rewrite_meta(payload.json_bytes(), update))
    except ValueError:
        return payload  # not a message we can annotate (a list, bad JSON): as it came


def combined_json(payloads: list[Payload]) -> bytes:
    """The JSON list of messages a REST combiner's `/aggregate` takes (no re-encoding)."""
    return b"[" + b",".join(p.json_bytes() for p in payloads) + b"]"
