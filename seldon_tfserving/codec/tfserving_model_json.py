"""TF Serving's REST status and metadata JSON <-> its gRPC GetModelStatus / GetModelMetadata
responses, both directions, written as `http_rest_api_handler.cc` writes them.

For a face that answers one protocol's call over the other: the JSON a REST client would get
from TF Serving, built from the gRPC answer, and the gRPC answer read back from that JSON.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2

from seldon_tfserving.codec import fast_json
from seldon_tfserving.codec.proto_json import tfserving_print_options
from seldon_tfserving.errors import InternalError

#: The one metadata field TF Serving serves (`GetModelMetadataRequest.metadata_field`).
SIGNATURE_DEF_FIELD = "signature_def"


def _json_options() -> dict[str, Any]:
    return tfserving_print_options()


def status_json(response: get_model_status_pb2.GetModelStatusResponse) -> bytes:
    """`{"model_version_status": [...]}`, every field printed, as TF Serving's REST face."""
    return json_format.MessageToJson(response, **_json_options()).encode("utf-8")


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> bytes:
    """`{"model_spec": ..., "metadata": {"signature_def": ...}}`: the SignatureDefMap the gRPC
    answer packs in an Any, unpacked, as TF Serving's REST face writes it."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    packed = response.metadata.get(SIGNATURE_DEF_FIELD)
    if packed is None or not packed.Unpack(signature_map):
        raise InternalError("GetModelMetadata answered without a signature_def map")
    spec = json_format.MessageToJson(response.model_spec, **_json_options())
    signatures = json_format.MessageToJson(signature_map, **_json_options())
    return (
        '{\n"model_spec":' + spec + ',\n"metadata": {"signature_def": ' + signatures + "}\n}\n"
    ).encode("utf-8")


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        document = fast_json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InternalError(f"TF Serving's {what} answer is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InternalError(f"TF Serving's {what} answer is not a JSON object")
    return document


def status_from_json(body: bytes) -> get_model_status_pb2.GetModelStatusResponse:
    """The GetModelStatusResponse that TF Serving's REST status JSON stands for."""
    response = get_model_status_pb2.GetModelStatusResponse()
    try:
        json_format.ParseDict(_json_object(body, "status"), response, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise InternalError(f"TF Serving's status answer is unreadable: {exc}") from None
    return response


def metadata_from_json(body: bytes) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """The GetModelMetadataResponse (SignatureDefMap packed in an Any) that TF Serving's REST
    metadata JSON stands for."""
    document = _json_object(body, "metadata")
    spec = model_pb2.ModelSpec()
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    try:
        json_format.ParseDict(document["model_spec"], spec, ignore_unknown_fields=True)
        json_format.ParseDict(
            document["metadata"][SIGNATURE_DEF_FIELD], signature_map, ignore_unknown_fields=True
        )
    except (KeyError, TypeError, json_format.ParseError) as exc:
        raise InternalError(f"TF Serving's metadata answer is unreadable: {exc}") from None
    response = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=spec)
    response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
    return response
