"""Classify and Regress: TF Serving's tf.Example APIs on `classify` / `regress` signatures.

The examples are serialized (context first, so an example's own features win, as TF Serving's
input_util does by concatenating the two serializations) and fed to the signature's single
string input; the outputs are checked and shaped into Classification/RegressionResults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import classification_pb2, input_pb2, regression_pb2

from seldon_tfserving.backend.core import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    REGRESS_METHOD,
    ModelRef,
    ServingCore,
)
from seldon_tfserving.backend.loader import Array, LoadedVersion
from seldon_tfserving.errors import InvalidInput

CLASSIFY_INPUTS = "inputs"
CLASSIFY_CLASSES = "classes"
CLASSIFY_SCORES = "scores"
REGRESS_INPUTS = "inputs"
REGRESS_OUTPUTS = "outputs"


@dataclass(frozen=True)
class Answered:
    """Which model, version and signature answered a classify or regress call."""

    model: str
    version: int
    signature_name: str


def serialized_examples(request_input: input_pb2.Input) -> Array:
    """The examples of an Input as a 1-D string tensor, context merged into each."""
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples = [e.SerializeToString() for e in request_input.example_list.examples]
    elif kind == "example_list_with_context":
        listed = request_input.example_list_with_context
        context = listed.context.SerializeToString()
        examples = [context + e.SerializeToString() for e in listed.examples]
    else:
        raise InvalidInput("Input is empty.")
    if not examples:
        raise InvalidInput("Input is empty.")
    return np.array(examples, dtype=object)


def _signature(
    core: ServingCore, ref: ModelRef, name: str, method: str, what: str
) -> tuple[LoadedVersion, str, Any]:
    servable = core.servable(ref)
    resolved = name or DEFAULT_SIGNATURE
    signature = servable.signatures.get(resolved)
    if signature is None:
        raise InvalidInput(f"No signature was found with the name: {resolved}")
    if signature.method_name != method:
        raise InvalidInput(
            f"Expected {what} signature method_name to be {method}. Was: {signature.method_name}"
        )
    return servable, resolved, signature


def classify(
    core: ServingCore,
    ref: ModelRef,
    signature_name: str,
    request_input: input_pb2.Input,
    timeout_ms: int | None = None,
) -> tuple[Answered, classification_pb2.ClassificationResult]:
    """TF Serving's Classify: `classes` [batch, n] and/or `scores` [batch, n] per example."""
    servable, resolved, signature = _signature(
        core, ref, signature_name, CLASSIFY_METHOD, "classification"
    )
    if len(signature.inputs) != 1:
        raise InvalidInput("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise InvalidInput(f"Expected one or two output Tensors, found {len(signature.outputs)}")
    if CLASSIFY_INPUTS not in signature.inputs:
        raise InvalidInput("No classification inputs found in SignatureDef")
    aliases = [a for a in (CLASSIFY_CLASSES, CLASSIFY_SCORES) if a in signature.outputs]
    if not aliases:
        raise InvalidInput(
            'Expected classification signature outputs to contain at least one of "classes" '
            'or "scores".'
        )
    examples = serialized_examples(request_input)
    fetched = dict(
        zip(
            aliases,
            servable.run(
                {signature.inputs[CLASSIFY_INPUTS].name: examples},
                [signature.outputs[a].name for a in aliases],
                timeout_ms=timeout_ms,
            ),
            strict=True,
        )
    )
    classes, scores = fetched.get(CLASSIFY_CLASSES), fetched.get(CLASSIFY_SCORES)
    batch = len(examples)
    for name, tensor, dtype in (
        ("classes", classes, types_pb2.DT_STRING),
        ("scores", scores, types_pb2.DT_FLOAT),
    ):
        if tensor is None:
            continue
        if tensor.ndim != 2:
            raise InvalidInput(
                f"Expected Tensor shape: [batch_size num_classes] but got {list(tensor.shape)}"
            )
        if int(signature.outputs[name].dtype) != dtype:
            raise InvalidInput(
                f"Expected {name} Tensor of {types_pb2.DataType.Name(dtype)}. Got: "
                f"{types_pb2.DataType.Name(signature.outputs[name].dtype)}"
            )
        if tensor.shape[0] != batch:
            raise InvalidInput(
                f"Expected {name} output batch size of {batch}. Got: {tensor.shape[0]}"
            )
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise InvalidInput(
            "Tensors class and score should match in dim_size(1). Got "
            f"{classes.shape[1]} vs. {scores.shape[1]}"
        )
    width = (classes if classes is not None else scores).shape[1]  # type: ignore[union-attr]
    result = classification_pb2.ClassificationResult()
    for row in range(batch):
        classifications = result.classifications.add()
        for column in range(width):
            entry = classifications.classes.add()
            if classes is not None:
                entry.label = _text(classes[row, column])
            if scores is not None:
                entry.score = float(scores[row, column])
    return Answered(ref.name, servable.version, resolved), result


def regress(
    core: ServingCore,
    ref: ModelRef,
    signature_name: str,
    request_input: input_pb2.Input,
    timeout_ms: int | None = None,
) -> tuple[Answered, regression_pb2.RegressionResult]:
    """TF Serving's Regress: one float `outputs` value per example ([batch] or [batch, 1])."""
    servable, resolved, signature = _signature(
        core, ref, signature_name, REGRESS_METHOD, "regression"
    )
    if len(signature.inputs) != 1:
        raise InvalidInput("Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise InvalidInput("Expected one output Tensor.")
    if REGRESS_INPUTS not in signature.inputs:
        raise InvalidInput("No regression inputs found in SignatureDef")
    if REGRESS_OUTPUTS not in signature.outputs:
        raise InvalidInput("No regression outputs found in SignatureDef")
    if int(signature.outputs[REGRESS_OUTPUTS].dtype) != types_pb2.DT_FLOAT:
        raise InvalidInput(
            "Expected output Tensor of DT_FLOAT. Got: "
            f"{types_pb2.DataType.Name(signature.outputs[REGRESS_OUTPUTS].dtype)}"
        )
    examples = serialized_examples(request_input)
    (values,) = servable.run(
        {signature.inputs[REGRESS_INPUTS].name: examples},
        [signature.outputs[REGRESS_OUTPUTS].name],
        timeout_ms=timeout_ms,
    )
    batch = len(examples)
    if not (values.shape == (batch,) or values.shape == (batch, 1)):
        raise InvalidInput(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but "
            f"got {list(values.shape)}"
        )
    result = regression_pb2.RegressionResult()
    for value in values.reshape(-1).tolist():
        result.regressions.add().value = value
    return Answered(ref.name, servable.version, resolved), result


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
