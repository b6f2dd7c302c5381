"""What a logged body says, per instance: named features, the prediction, the version, reward.

Bodies come in four forms (Seldon JSON or proto, TF Serving JSON or proto); each reader turns
its form into these three records, so the row builder never knows which protocol it saw.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from seldon_tfserving.logs.events import EventRejected

#: The content type of a logged gRPC body (a serialized proto).
PROTOBUF = "application/protobuf"

#: one cell of the store: a number, text, a flag, or nothing
Scalar = float | int | str | bool | None


@dataclass(frozen=True)
class Instances:
    """A request's instances: one mapping of feature name to value per instance."""

    rows: list[dict[str, Scalar]]


@dataclass(frozen=True)
class Answer:
    """A response: one prediction per instance and who answered it."""

    predictions: list[Any]
    model_name: str | None = None
    model_version: str | None = None
    #: `meta.routing` when the body carries it (the executor's routing injection)
    routing: Mapping[str, int] | None = None


@dataclass(frozen=True)
class FeedbackBody:
    """A Feedback message: its reward and, per instance, its truth."""

    reward: float
    truths: list[Any] = field(default_factory=list)
    #: the prediction's puid as the feedback names it (`response.meta.puid`)
    request_id: str | None = None


def instance_features(names: Sequence[str], value: Any, prefix: str = "f") -> dict[str, Scalar]:
    """One instance's features: a list is one value per column (named by `names`, else
    `f0, f1, ...`), a scalar is one feature; deeper values are kept as JSON-like text."""
    if isinstance(value, Mapping):
        features: dict[str, Scalar] = {}
        for key, item in value.items():
            features.update(_named(str(key), item))
        return features
    if isinstance(value, list | tuple):
        return {
            (names[i] if i < len(names) else f"{prefix}{i}"): scalar(item)
            for i, item in enumerate(value)
        }
    return {(names[0] if names else f"{prefix}0"): scalar(value)}


def _named(name: str, value: Any) -> Iterator[tuple[str, Scalar]]:
    """A named input's value: a scalar as it is, a vector as `name_0, name_1, ...`."""
    if isinstance(value, list | tuple) and not _is_b64(value):
        if all(not isinstance(item, list | tuple | Mapping) for item in value):
            for i, item in enumerate(value):
                yield f"{name}_{i}", scalar(item)
            return
    yield name, scalar(value)


def _is_b64(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"b64"}


def scalar(value: Any) -> Scalar:
    """A cell: numbers, text and flags as they are; NaN/Infinity kept; the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Mapping) and _is_b64(value):
        return str(value["b64"])
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if hasattr(value, "item"):  # a numpy scalar
        return scalar(value.item())
    return repr_json(value)


def repr_json(value: Any) -> str:
    """`value` as compact JSON (NaN and Infinity as TF Serving writes them)."""
    import json

    return json.dumps(_plain(value), separators=(",", ":"), allow_nan=True)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value


def as_reward(value: Any) -> float:
    """Feedback's reward as a float; text or NaN is refused. An absent reward is 0, as in
    Seldon's proto3 Feedback, whose JSON form leaves a zero reward out."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"reward {value!r} is not a finite number")
    return float(value)


def is_protobuf(content_type: str) -> bool:
    """Whether a logged body is a serialized proto (gRPC traffic) rather than JSON."""
    return content_type.split(";")[0].strip().lower() == PROTOBUF


def json_object(body: bytes) -> dict[str, Any]:
    """A logged JSON body, which must be an object; EventRejected with the reason otherwise."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise EventRejected(f"the body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise EventRejected("the body is not a JSON object")
    return document
