"""A TF Serving body on its way through a `protocol: tensorflow` graph, and what the client
asked of TF Serving (model, verb, version or label), which every MODEL node is called with.

REST bodies travel as the bytes they came in (parsed at most once, when a hop must look
inside); gRPC messages travel as the TF Serving protos they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf.message import Message

from seldon_tfserving.codec import fast_json, tfserving_paths
from seldon_tfserving.codec.tfserving_body_check import PREDICT_MEMBERS, opens_with
from seldon_tfserving.errors import InvalidInput

#: TF Serving's verbs: REST `:predict`, `:classify`, `:regress`; gRPC also MultiInference.
TfVerb = Literal["predict", "classify", "regress", "multi_inference"]

JSON_CONTENT_TYPE = "application/json"
PROTOBUF_CONTENT_TYPE = "application/protobuf"


@dataclass(frozen=True)
class TfTarget:
    """What the client called: the executor's model name override ("" lets each node use its
    own name), the verb, and the version or label (ours: the executor drops them)."""

    model: str = ""
    verb: TfVerb = "predict"
    version: int | None = None
    label: str | None = None

    def model_path(self, node: str) -> str:
        """TF Serving's REST path of the model a MODEL node is called as, without the verb."""
        return tfserving_paths.model_path(self.model or node, self.version, self.label)


class TfPayload:
    """One TF Serving request or response: JSON bytes (REST) or a proto (gRPC)."""

    __slots__ = ("body", "content_type", "proto", "is_request", "_document")

    def __init__(
        self,
        *,
        body: bytes | None = None,
        content_type: str = "",
        proto: Message | None = None,
        is_request: bool = False,
    ) -> None:
        if (body is None) == (proto is None):
            raise ValueError("a TF payload is either a JSON body or a proto")
        #: a request (the client's, or a chained one) rather than a node's answer
        self.is_request = is_request
        self.body = body
        self.content_type = content_type or JSON_CONTENT_TYPE
        self.proto = proto
        self._document: Any = None

    @classmethod
    def from_json(cls, body: bytes, content_type: str = "", is_request: bool = False) -> TfPayload:
        return cls(body=body, content_type=content_type, is_request=is_request)

    @classmethod
    def from_document(
        cls, document: Any, content_type: str = "", is_request: bool = False
    ) -> TfPayload:
        """A payload of a JSON document built here (its bytes encoded once, now)."""
        body = json.dumps(document, separators=(",", ":")).encode()
        payload = cls(body=body, content_type=content_type, is_request=is_request)
        payload._document = document
        return payload

    @classmethod
    def from_proto(cls, message: Message, is_request: bool = False) -> TfPayload:
        return cls(proto=message, content_type=PROTOBUF_CONTENT_TYPE, is_request=is_request)

    @property
    def is_proto(self) -> bool:
        return self.proto is not None

    def json_bytes(self) -> bytes:
        if self.body is None:
            raise InvalidInput(f"a gRPC {type(self.proto).__name__} has no REST body")
        return self.body

    def leads_with_inputs(self) -> bool:
        """Whether this REST body opens as a JSON object whose first member is `instances` or
        `inputs`: such a request passes every hop as it is (the executor's ChainTensorflow
        passes it too), so a 3 MB tensor is not parsed here only to be sent on; the rest of
        the body, malformed or not, is the node's to judge, as TF Serving judges it."""
        return self.body is not None and opens_with(self.body, PREDICT_MEMBERS)

    def document(self) -> Any:
        """The parsed JSON (once); a body that is not JSON is the caller's bad input."""
        if self._document is None:
            try:
                self._document = fast_json.loads(self.json_bytes())
            except ValueError as error:  # bad JSON or UTF-8, an integer of 4300+ digits
                raise InvalidInput(f"the body is not valid JSON: {error}") from error
            except RecursionError:
                raise InvalidInput("the body is nested too deeply") from None
        return self._document

    def message(self) -> Any:
        """The proto (typed Any as the generated code is)."""
        if self.proto is None:
            raise InvalidInput("a REST body is not a gRPC message")
        return self.proto

    def log_body(self) -> tuple[bytes, str]:
        """What the request logger sends: the JSON bytes, or the serialized proto (§9)."""
        if self.body is not None:
            return self.body, self.content_type
        assert self.proto is not None
        return self.proto.SerializeToString(), PROTOBUF_CONTENT_TYPE
