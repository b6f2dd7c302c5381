"""A TF Serving REST predict body answered over gRPC, with TF Serving's own JSON rules.

The body is typed by the signature it names (via the REST codec), sent as a PredictRequest,
and the outputs are written back exactly as TF Serving's REST face would write them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from seldon_tfserving.codec.tensors import as_ndarray
from seldon_tfserving.codec.tfserving_json import decode_predict_request, encode_predict_response
from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.tfserving.client import (
    JsonAnswer,
    ModelTarget,
    PredictCall,
    Signature,
    TfServingClient,
)


def predict_json_over(
    client: TfServingClient, target: ModelTarget, body: Mapping[str, Any], signature: Signature
) -> JsonAnswer:
    """Decode `body` with `signature`'s dtypes, Predict through `client`, encode TF's answer."""

    def input_dtypes(name: str) -> dict[str, int]:
        if name and name != signature.name:
            raise InvalidInput(f"signature {name!r} was asked for, but {signature.name!r} given")
        return {key: spec.dtype for key, spec in signature.inputs.items()}

    request = decode_predict_request(body, input_dtypes)
    result = client.predict(
        PredictCall(target, signature.name, request.inputs, signature=signature)
    )
    outputs = {name: as_ndarray(tensor) for name, tensor in result.outputs.items()}
    dtypes = {name: spec.dtype for name, spec in signature.outputs.items()}
    answer: dict[str, Any] = json.loads(
        encode_predict_response(outputs, columnar=request.columnar, dtypes=dtypes)
    )
    return JsonAnswer(answer, result.model_version, result.duration_ms)
