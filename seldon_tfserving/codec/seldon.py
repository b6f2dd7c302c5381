"""Seldon's SeldonMessage (a dict over REST, a proto over gRPC) <-> tensors.

`read_request` reads every payload kind once into a `SeldonRequest`; `build_response`
answers in the form the request came in: ndarray -> ndarray, tensor -> tensor, tftensor ->
tftensor (the TensorProto as TF Serving sent it), strData/binData -> the same when the answer
is one string, several outputs -> jsonData by output name. REST in -> dict, gRPC in -> proto.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2
from tensorflow.core.framework.tensor_pb2 import TensorProto
from tensorflow_serving.apis import model_pb2, predict_pb2

from seldon_tfserving.codec.list_value import list_value_to_ndarray, ndarray_to_list_value_bytes
from seldon_tfserving.codec.numpy_json import float32_values
from seldon_tfserving.codec.seldon_meta import fill_meta, meta_to_dict
from seldon_tfserving.codec.seldon_tensor import proto_tensor_array, tensor_array
from seldon_tfserving.codec.tensors import Array, Tensor, as_ndarray, as_tensor_proto
from seldon_tfserving.errors import InvalidInput

PayloadKind = Literal[
    "ndarray", "tensor", "tftensor", "jsonData", "strData", "binData", "customData"
]
SeldonMessage = Any  # prediction_pb2.SeldonMessage (untyped module)


@dataclass(frozen=True)
class SeldonRequest:
    """One Seldon request, read once: its payload kind, the payload, names, puid, meta.

    `value` is nested lists or a float64 array (ndarray), a float64 array (tensor), a
    TensorProto (tftensor), a dict (jsonData), str (strData), bytes (binData) or a protobuf
    Any (customData).
    """

    kind: PayloadKind
    value: Any
    names: tuple[str, ...] = ()
    puid: str = ""
    is_proto: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)


def read_request(message: SeldonMessage | Mapping[str, Any]) -> SeldonRequest:
    """Read a SeldonMessage proto (gRPC) or its JSON dict (REST)."""
    if isinstance(message, prediction_pb2.SeldonMessage):
        return _read_proto(message)
    if isinstance(message, Mapping):
        return _read_json(message)
    raise InvalidInput(f"a Seldon request must be a JSON object, not {type(message).__name__}")


def _read_proto(message: Any) -> SeldonRequest:
    meta = meta_to_dict(message.meta) if message.HasField("meta") else {}
    common: dict[str, Any] = {"puid": message.meta.puid, "is_proto": True, "meta": meta}
    oneof = message.WhichOneof("data_oneof")
    if oneof == "data":
        data = message.data
        names = tuple(data.names)
        kind = data.WhichOneof("data_oneof")
        if kind == "tftensor":
            return SeldonRequest("tftensor", data.tftensor, names, **common)
        if kind == "tensor":
            return SeldonRequest("tensor", proto_tensor_array(data.tensor), names, **common)
        if kind == "ndarray":
            dense = list_value_to_ndarray(data.ndarray)
            value = json_format.MessageToDict(data.ndarray) if dense is None else dense
            return SeldonRequest("ndarray", value, names, **common)
        raise InvalidInput("data holds no ndarray, tensor or tftensor")
    if oneof == "jsonData":
        body = json_format.MessageToDict(message.jsonData)
        return SeldonRequest("jsonData", body, **common)
    if oneof == "strData":
        return SeldonRequest("strData", message.strData, **common)
    if oneof == "binData":
        return SeldonRequest("binData", bytes(message.binData), **common)
    if oneof == "customData":
        return SeldonRequest("customData", message.customData, **common)
    raise InvalidInput("the SeldonMessage carries no data")


def _present(document: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a JSON object that are set: proto3's JSON mapping, which Seldon's parser
    follows, reads `null` as a field left out."""
    return {key: value for key, value in document.items() if value is not None}


def _read_json(document: Mapping[str, Any]) -> SeldonRequest:
    message = _present(document)
    meta = message.get("meta", {})
    if not isinstance(meta, Mapping):
        raise InvalidInput("meta must be a JSON object")
    common: dict[str, Any] = {"puid": str(meta.get("puid") or ""), "meta": meta}
    if "data" in message:
        if not isinstance(message["data"], Mapping):
            raise InvalidInput("data must be a JSON object")
        data = _present(message["data"])
        names = data.get("names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InvalidInput("data.names must be a list of strings")
        if "tftensor" in data:
            return SeldonRequest(
                "tftensor", _parse_tftensor(data["tftensor"]), tuple(names), **common
            )
        if "tensor" in data:
            tensor = data["tensor"]
            if not isinstance(tensor, Mapping):
                raise InvalidInput("data.tensor must be an object with shape and values")
            tensor = _present(tensor)
            return SeldonRequest(
                "tensor",
                tensor_array(tensor.get("shape", []), tensor.get("values", [])),
                tuple(names),
                **common,
            )
        if "ndarray" in data:
            return SeldonRequest("ndarray", data["ndarray"], tuple(names), **common)
        raise InvalidInput("data holds no ndarray, tensor or tftensor")
    if "jsonData" in message:
        if not isinstance(message["jsonData"], Mapping):
            raise InvalidInput("jsonData must be a JSON object holding a TF Serving predict body")
        return SeldonRequest("jsonData", message["jsonData"], **common)
    if "strData" in message:
        if not isinstance(message["strData"], str):
            raise InvalidInput(f"strData must be a string, not {type(message['strData']).__name__}")
        return SeldonRequest("strData", message["strData"], **common)
    if "binData" in message:
        try:
            value = base64.b64decode(message["binData"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise InvalidInput("binData must be base64") from None
        return SeldonRequest("binData", value, **common)
    if "customData" in message:
        raise InvalidInput("customData is only accepted over gRPC")
    raise InvalidInput("the request carries none of data, jsonData, strData, binData")


def _parse_tftensor(value: Any) -> TensorProto:
    proto = TensorProto()
    try:
        json_format.ParseDict(value, proto)
    except (json_format.ParseError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"data.tftensor is not a TensorProto in JSON form: {exc}") from None
    return proto


# --- responses -----------------------------------------------------------------------------


def _text(value: Any) -> Any:
    """A string output element as JSON: UTF-8 text, or TF Serving's {"b64": ...} otherwise."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return value


_to_text = np.frompyfunc(_text, 1, 1)


def json_value(array: Array) -> Any:
    """An output array as JSON values, built with one `tolist()` (strings decoded); float32
    values print as float32 (`0.21419969`, not the double `0.21419969201087952`)."""
    if array.dtype.kind in "OS":
        return _to_text(array).tolist() if array.ndim else _text(array.item())
    if array.dtype.kind == "c":
        return np.stack([array.real, array.imag], axis=-1).tolist()
    if array.dtype.kind == "f" and array.dtype.itemsize == 4:
        return float32_values(array)
    return array.tolist()


def _class_names(array: Array) -> list[str]:
    """Seldon's default names for a model's columns: t:0, t:1, ... for 2-D and more."""
    return [f"t:{i}" for i in range(array.shape[1])] if array.ndim > 1 else []


def _list_value(array: Array, into: Any) -> None:
    """Fill a protobuf ListValue row by row (C-level `extend` on each innermost row)."""
    if array.ndim <= 1:
        into.extend(json_value(array.reshape(-1)))
        return
    for row in array:
        _list_value(row, into.add_list())


def _single_string(array: Array) -> bytes | None:
    if array.dtype.kind in "OS" and array.size == 1:
        value = array.reshape(-1)[0]
        return value if isinstance(value, bytes) else str(value).encode("utf-8")
    return None


def build_response(
    request: SeldonRequest, outputs: Mapping[str, Tensor], meta: Mapping[str, Any]
) -> SeldonMessage | dict[str, Any]:
    """The Seldon answer for `outputs`, in the form and on the transport the request used."""
    if len(outputs) != 1:
        return _json_data_response(request, outputs, meta)
    (tensor,) = outputs.values()
    if request.kind == "tftensor":
        return _data_response(request, "tftensor", tensor, [], meta)
    array = as_ndarray(tensor)
    if request.kind in ("strData", "binData"):
        single = _single_string(array)
        if single is not None:
            return _scalar_response(request, single, meta)
    numeric = array.dtype.kind in "biuf"
    kind = "tensor" if request.kind == "tensor" and numeric else "ndarray"
    return _data_response(request, kind, array, _class_names(array), meta)


def json_data_response(
    request: SeldonRequest, body: Mapping[str, Any], meta: Mapping[str, Any]
) -> SeldonMessage | dict[str, Any]:
    """Answer with a JSON object (TF Serving's JSON for a jsonData request)."""
    if request.is_proto:
        message = prediction_pb2.SeldonMessage()
        json_format.ParseDict(dict(body), message.jsonData)
        _fill_meta(message, meta)
        return message
    return {"jsonData": dict(body), "meta": dict(meta)}


def _json_data_response(
    request: SeldonRequest, outputs: Mapping[str, Tensor], meta: Mapping[str, Any]
) -> SeldonMessage | dict[str, Any]:
    body: dict[str, Any] = {}
    for name, tensor in outputs.items():
        if request.kind == "tftensor":
            body[name] = json_format.MessageToDict(as_tensor_proto(tensor))
        else:
            body[name] = json_value(as_ndarray(tensor))
    return json_data_response(request, body, meta)


def _data_response(
    request: SeldonRequest, kind: str, tensor: Tensor, names: list[str], meta: Mapping[str, Any]
) -> SeldonMessage | dict[str, Any]:
    if request.is_proto:
        message = prediction_pb2.SeldonMessage()
        message.data.names.extend(names)
        if kind == "tftensor":
            message.data.tftensor.CopyFrom(as_tensor_proto(tensor))
        elif kind == "tensor":
            array = as_ndarray(tensor)
            message.data.tensor.shape.extend(array.shape)
            message.data.tensor.values.extend(array.reshape(-1).tolist())
        else:
            array = as_ndarray(tensor)
            array = array if array.ndim else array.reshape(1)
            wire = ndarray_to_list_value_bytes(array)
            if wire is None:
                _list_value(array, message.data.ndarray)
            else:
                message.data.ndarray.MergeFromString(wire)
        _fill_meta(message, meta)
        return message
    data: dict[str, Any] = {"names": names}
    if kind == "tftensor":
        data["tftensor"] = json_format.MessageToDict(as_tensor_proto(tensor))
    elif kind == "tensor":
        array = as_ndarray(tensor)
        data["tensor"] = {"shape": list(array.shape), "values": json_value(array.reshape(-1))}
    else:
        array = as_ndarray(tensor)
        data["ndarray"] = json_value(array if array.ndim else array.reshape(1))
    return {"data": data, "meta": dict(meta)}


def _scalar_response(
    request: SeldonRequest, value: bytes, meta: Mapping[str, Any]
) -> SeldonMessage | dict[str, Any]:
    if request.kind == "binData":
        if request.is_proto:
            message = prediction_pb2.SeldonMessage(binData=value)
            _fill_meta(message, meta)
            return message
        return {"binData": base64.b64encode(value).decode("ascii"), "meta": dict(meta)}
    text = value.decode("utf-8", errors="replace")
    if request.is_proto:
        message = prediction_pb2.SeldonMessage(strData=text)
        _fill_meta(message, meta)
        return message
    return {"strData": text, "meta": dict(meta)}


def _fill_meta(message: Any, meta: Mapping[str, Any]) -> None:
    if meta:
        fill_meta(message.meta, meta)


def unpack_predict_request(request: SeldonRequest) -> predict_pb2.PredictRequest:
    """customData packing a tensorflow.serving.PredictRequest (TfServingProxy's raw mode)."""
    tf_request = predict_pb2.PredictRequest()
    if not request.value.Unpack(tf_request):
        raise InvalidInput(
            "customData must pack a tensorflow.serving.PredictRequest, "
            f"not {request.value.type_url}"
        )
    return tf_request


def custom_data_response(
    outputs: Mapping[str, Tensor],
    spec: model_pb2.ModelSpec,
    meta: Mapping[str, Any],
) -> SeldonMessage:
    """customData packing a tensorflow.serving.PredictResponse (TfServingProxy's raw mode)."""
    response = predict_pb2.PredictResponse(model_spec=spec)
    for name, tensor in outputs.items():
        response.outputs[name].CopyFrom(as_tensor_proto(tensor))
    message = prediction_pb2.SeldonMessage()
    message.customData.Pack(response)
    _fill_meta(message, meta)
    return message
