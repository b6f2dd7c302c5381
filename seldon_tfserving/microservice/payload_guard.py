"""Refuse payloads Seldon's own decoding would crash on, as 400s, before Seldon decodes them.

For `route`, `aggregate` and `send_feedback` seldon-core decodes the payload itself, and a
malformed one (a tensor whose values do not fill its shape, a ragged ndarray) escapes as a
500. Our routers and combiners define the `*_raw` hooks to run the same decoding under
guard and then hand back to Seldon's usual path (`SeldonNotImplementedError`). Only
TensorFlow-free imports here: a router must not pay for TensorFlow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from seldon_tfserving.errors import InvalidInput

_DECODE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
    json_format.ParseError,  # a tftensor that is not a TensorProto in JSON form
    DecodeError,
)


def _decoded(decode: Callable[[], object], what: str) -> None:
    from seldon_core.flask_utils import SeldonMicroserviceException

    try:
        decode()
    except SeldonMicroserviceException as error:
        raise InvalidInput(f"{what}: {error.message}") from None
    except _DECODE_ERRORS as error:
        raise InvalidInput(f"{what} cannot be decoded: {error}") from None


def _seldon_path() -> NoReturn:
    from seldon_core.user_model import SeldonNotImplementedError

    raise SeldonNotImplementedError("payload checked; Seldon's own path continues")


def _check_messages(messages: Iterable[Any], what: str) -> None:
    from seldon_core.proto import prediction_pb2
    from seldon_core.utils import extract_request_parts, extract_request_parts_json

    for index, message in enumerate(messages):
        where = f"{what}[{index}]"
        if isinstance(message, prediction_pb2.SeldonMessage):
            _decoded(functools.partial(extract_request_parts, message), where)
            continue
        if not isinstance(message, dict):
            raise InvalidInput(f"{where} must be a JSON object (a SeldonMessage)")
        _drop_nulls(message)
        if "meta" in message:
            meta = message["meta"]
            if not isinstance(meta, dict):
                raise InvalidInput(f"{where}: meta must be a JSON object")
            _decoded(functools.partial(json_format.ParseDict, meta, prediction_pb2.Meta()), where)
        _decoded(functools.partial(extract_request_parts_json, message), where)


def check_route_request(request: Any) -> None:
    """Refuse, as a 400, a route request Seldon's own decoding would crash on."""
    _check_messages([request], "request")


def route_response_json(
    router: Any, request: dict[str, Any], branch: int, tags: dict[str, Any], metrics: list[Any]
) -> dict[str, Any]:
    """Seldon's REST answer to a route (`construct_response_json`, as its own route builds
    it), with `metrics` in its meta for Seldon to record (and drop) as a raw answer's."""
    import numpy as np
    from seldon_core.utils import construct_response_json

    answer: dict[str, Any] = construct_response_json(
        router, False, request, np.array([[branch]]), None, metrics, tags
    )
    return answer


def _drop_nulls(document: dict[str, Any]) -> None:
    """Proto3's JSON mapping reads `null` as "field absent"; Seldon's code does not, so the
    request is normalised in place before Seldon's own path reads it."""
    for key in [key for key, value in document.items() if value is None]:
        del document[key]
    for value in document.values():
        if isinstance(value, dict):
            _drop_nulls(value)


class GuardsRoutePayload:
    """Mixin for routers: the request is checked, then routed by Seldon's usual path."""

    def route_raw(self, request: Any) -> Any:
        check_route_request(request)
        _seldon_path()

    def send_feedback_raw(self, feedback: Any) -> Any:
        from seldon_core.utils import extract_feedback_request_parts

        _decoded(lambda: extract_feedback_request_parts(feedback), "feedback")
        _seldon_path()


class GuardsAggregatePayload:
    """Mixin for combiners: every child's message is checked, then Seldon aggregates."""

    def aggregate_raw(self, request: Any) -> Any:
        messages: Any
        if isinstance(request, list):  # REST: a bare list of messages is accepted too
            messages = request
        elif isinstance(request, dict):
            messages = request.get("seldonMessages")
            if not isinstance(messages, list):
                raise InvalidInput("an aggregate request needs a list in seldonMessages")
        else:
            messages = list(request.seldonMessages)
        _check_messages(messages, "seldonMessages")
        _seldon_path()
