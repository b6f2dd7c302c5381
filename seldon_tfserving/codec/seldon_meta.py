"""Seldon's `Meta` proto <-> its JSON dict, without `json_format` on the common fields.

`json_format` walks messages in pure Python through descriptors: on a 1x4 request it cost
more than a third of the wrapper's own Python time per gRPC call (the response's tags and
TIMER in, and Seldon reading them back out). Meta's fields are few and fixed, so they are
read and written directly here; values that are not plain strings (a tag holding a number
or a struct) still go through `json_format`, and the result is the same dict, field for
field, that `json_format.MessageToDict` gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from seldon_core.proto import prediction_pb2

_METRIC_TYPE_NAMES = dict(prediction_pb2.Metric.MetricType.items())
_METRIC_TYPE_BY_NUMBER = {number: name for name, number in _METRIC_TYPE_NAMES.items()}
_METRIC_TYPE_DEFAULT = "COUNTER"  # enum value 0: omitted from JSON, as json_format does
_KNOWN_FIELDS = frozenset({"puid", "tags", "routing", "requestPath", "metrics"})

#: Wire bytes of a Meta holding only a tags map of plain strings, by its items: a component's
#: answers carry the same few tags call after call, and merging them as bytes takes half the
#: time of setting them key by key. Cleared when full (tags that vary per call).
_STRING_TAGS_WIRE: dict[tuple[tuple[Any, Any], ...], bytes] = {}
_STRING_TAGS_WIRE_MAX = 1024


def meta_to_dict(meta: Any) -> dict[str, Any]:
    """`json_format.MessageToDict(meta)` for a `seldon.protos.Meta`."""
    result: dict[str, Any] = {}
    if meta.puid:
        result["puid"] = meta.puid
    if meta.tags:
        result["tags"] = {key: _value_to_python(value) for key, value in meta.tags.items()}
    if meta.routing:
        result["routing"] = dict(meta.routing)
    if meta.requestPath:
        result["requestPath"] = dict(meta.requestPath)
    if meta.metrics:
        result["metrics"] = [json_format.MessageToDict(metric) for metric in meta.metrics]
    return result


def metrics_of(meta: Any) -> list[dict[str, Any]]:
    """Meta's metrics as the dicts Seldon's metrics store takes (type always spelled out)."""
    return [
        {
            "key": metric.key,
            "type": _METRIC_TYPE_BY_NUMBER.get(metric.type)
            or prediction_pb2.Metric.MetricType.Name(metric.type),
            "value": metric.value,
            "tags": dict(metric.tags),
        }
        for metric in meta.metrics
    ]


def fill_meta(meta: Any, document: Mapping[str, Any]) -> None:
    """Fill an empty `meta` from its JSON dict, as `json_format.ParseDict(document, meta)`
    would; anything out of the ordinary is left to `json_format` and its ParseError."""
    if not document.keys() <= _KNOWN_FIELDS:
        json_format.ParseDict(dict(document), meta)
        return
    try:
        _fill_known_fields(meta, document)
    except (KeyError, TypeError, ValueError, AttributeError):
        meta.Clear()
        json_format.ParseDict(dict(document), meta)


def _fill_known_fields(meta: Any, document: Mapping[str, Any]) -> None:
    puid = document.get("puid")
    if puid:
        meta.puid = puid
    tags = document.get("tags")
    if tags:
        _fill_tags(meta, tags)
    routing = document.get("routing")
    if routing:
        meta.routing.update(routing)
    request_path = document.get("requestPath")
    if request_path:
        meta.requestPath.update(request_path)
    for metric in document.get("metrics") or ():
        filled = meta.metrics.add()  # field by field: add()'s keywords cost four times as much
        filled.key = metric["key"]
        filled.type = _METRIC_TYPE_NAMES[metric.get("type", _METRIC_TYPE_DEFAULT)]
        filled.value = metric.get("value", 0.0)
        metric_tags = metric.get("tags")
        if metric_tags:
            filled.tags.update(metric_tags)


def _fill_tags(meta: Any, tags: Mapping[str, Any]) -> None:
    items = tuple(tags.items())
    try:
        wire = _STRING_TAGS_WIRE.get(items)
    except TypeError:  # a value that is a list or a struct: no key for it
        wire = None
    if wire is not None:
        meta.MergeFromString(wire)
        return
    for key, value in items:
        if isinstance(value, str):
            meta.tags[key].string_value = value
        else:
            json_format.ParseDict(value, meta.tags[key])
    if all(isinstance(value, str) for _, value in items):
        if len(_STRING_TAGS_WIRE) >= _STRING_TAGS_WIRE_MAX:
            _STRING_TAGS_WIRE.clear()
        alone = prediction_pb2.Meta()
        alone.tags.MergeFrom(meta.tags)
        _STRING_TAGS_WIRE[items] = alone.SerializeToString()


def _value_to_python(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return json_format.MessageToDict(value)
