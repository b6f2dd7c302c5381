"""Classify, Regress and MultiInference: TF Serving's tf.Example APIs on classify / regress
signatures.

The examples are serialized (context first, so an example's own features win, as TF Serving's
input_util does by concatenating the two serializations) and fed to the signature's single
string input; the outputs are checked and shaped into Classification/RegressionResults. Each
call is planned (which tensor takes the examples, which outputs are read), run once, and read
back per plan, so MultiInference runs several classify and regress signatures on one input in
one session run, as TF Serving does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    input_pb2,
    regression_pb2,
)

from seldon_tfserving.backend.core import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    REGRESS_METHOD,
    Answered,
    ModelRef,
    ServingCore,
)
from seldon_tfserving.backend.loader import Array, LoadedVersion
from seldon_tfserving.errors import InvalidInput, Unimplemented

CLASSIFY_INPUTS = "inputs"
CLASSIFY_CLASSES = "classes"
CLASSIFY_SCORES = "scores"
REGRESS_INPUTS = "inputs"
REGRESS_OUTPUTS = "outputs"
#: What one kind of example task answers (a ClassificationResult or a RegressionResult).
Result = TypeVar("Result")


@dataclass(frozen=True)
class ExamplePlan:
    """One classify or regress signature checked: the tensor that takes the serialized
    examples, and the output tensors it reads (by alias)."""

    method: str
    signature_name: str
    signature: Any
    input_tensor: str
    outputs: dict[str, str]


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


def classify(
    core: ServingCore,
    ref: ModelRef,
    signature_name: str,
    request_input: input_pb2.Input,
    timeout_ms: int | None = None,
) -> tuple[Answered, classification_pb2.ClassificationResult]:
    """TF Serving's Classify: `classes` [batch, n] and/or `scores` [batch, n] per example."""
    return _one_task(
        core,
        ref,
        signature_name,
        request_input,
        timeout_ms,
        classification_plan,
        classification_result,
    )


def regress(
    core: ServingCore,
    ref: ModelRef,
    signature_name: str,
    request_input: input_pb2.Input,
    timeout_ms: int | None = None,
) -> tuple[Answered, regression_pb2.RegressionResult]:
    """TF Serving's Regress: one float `outputs` value per example ([batch] or [batch, 1])."""
    return _one_task(
        core, ref, signature_name, request_input, timeout_ms, regression_plan, regression_result
    )


def _one_task(
    core: ServingCore,
    ref: ModelRef,
    signature_name: str,
    request_input: input_pb2.Input,
    timeout_ms: int | None,
    plan_for: Callable[[LoadedVersion, str], ExamplePlan],
    result_of: Callable[[ExamplePlan, Mapping[str, Array], int], Result],
) -> tuple[Answered, Result]:
    servable = core.servable(ref)
    plan = plan_for(servable, _named_signature(servable, signature_name))
    examples = serialized_examples(request_input)
    fetched = run_plans(servable, [plan], examples, timeout_ms)
    answered = Answered(ref.name, servable.version, plan.signature_name)
    return answered, result_of(plan, fetched, len(examples))


def multi_inference(
    core: ServingCore,
    ref: ModelRef,
    request: inference_pb2.MultiInferenceRequest,
    timeout_ms: int | None = None,
) -> inference_pb2.MultiInferenceResponse:
    """TF Serving's MultiInference: classify and regress tasks of one model over one input, in
    one session run, on the version `ref` names (the service takes it from the first task;
    a warm-up passes the version being loaded)."""
    servable = core.servable(ref)
    plans: list[ExamplePlan] = []
    model = request.tasks[0].model_spec.name if request.tasks else ""
    for task in request.tasks:
        if not task.model_spec.name:
            raise InvalidInput("Found ModelSpec with an empty model name.")
        if task.model_spec.name != model:
            raise InvalidInput(
                "All ModelSpecs in a MultiInferenceRequest must access the same model name."
            )
        name = task.model_spec.signature_name or DEFAULT_SIGNATURE
        if any(plan.signature_name == name for plan in plans):
            raise InvalidInput(f"Duplicate evaluation of signature: {name}")
        if name not in servable.signatures:
            raise InvalidInput(f"Requested signature not found in model graph: {name}")
        if task.method_name == CLASSIFY_METHOD:
            plans.append(classification_plan(servable, name))
        elif task.method_name == REGRESS_METHOD:
            plans.append(regression_plan(servable, name))
        else:
            raise Unimplemented(f"Unsupported signature method_name: {task.method_name}")
    examples = serialized_examples(request.input)
    fetched = run_plans(servable, plans, examples, timeout_ms)
    response = inference_pb2.MultiInferenceResponse()
    for task, plan in zip(request.tasks, plans, strict=True):
        result = response.results.add()
        if plan.method == CLASSIFY_METHOD:
            result.classification_result.CopyFrom(
                classification_result(plan, fetched, len(examples))
            )
        else:
            result.regression_result.CopyFrom(regression_result(plan, fetched, len(examples)))
        Answered(model, servable.version, task.model_spec.signature_name).fill_spec(
            result.model_spec
        )
    return response


def run_plans(
    servable: LoadedVersion,
    plans: Sequence[ExamplePlan],
    examples: Array,
    timeout_ms: int | None,
) -> dict[str, Array]:
    """One session run feeding the examples to every plan's input tensor and fetching every
    output any plan reads; the outputs by tensor name."""
    feeds = {plan.input_tensor: examples for plan in plans}
    fetches = sorted({tensor for plan in plans for tensor in plan.outputs.values()})
    values = servable.run(feeds, fetches, timeout_ms=timeout_ms)
    return dict(zip(fetches, values, strict=True))


def classification_plan(servable: LoadedVersion, name: str) -> ExamplePlan:
    """TF Serving's checks of a classification signature (PreProcessClassification)."""
    signature = _signature_of_method(servable, name, CLASSIFY_METHOD, "classification")
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
    return ExamplePlan(
        CLASSIFY_METHOD,
        name,
        signature,
        signature.inputs[CLASSIFY_INPUTS].name,
        {alias: signature.outputs[alias].name for alias in aliases},
    )


def regression_plan(servable: LoadedVersion, name: str) -> ExamplePlan:
    """TF Serving's checks of a regression signature (PreProcessRegression)."""
    signature = _signature_of_method(servable, name, REGRESS_METHOD, "regression")
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
    return ExamplePlan(
        REGRESS_METHOD,
        name,
        signature,
        signature.inputs[REGRESS_INPUTS].name,
        {REGRESS_OUTPUTS: signature.outputs[REGRESS_OUTPUTS].name},
    )


def classification_result(
    plan: ExamplePlan, fetched: Mapping[str, Array], batch: int
) -> classification_pb2.ClassificationResult:
    """The classes and scores of each example, checked as TF Serving checks them."""
    classes = fetched.get(plan.outputs.get(CLASSIFY_CLASSES, ""))
    scores = fetched.get(plan.outputs.get(CLASSIFY_SCORES, ""))
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
        if int(plan.signature.outputs[name].dtype) != dtype:
            raise InvalidInput(
                f"Expected {name} Tensor of {types_pb2.DataType.Name(dtype)}. Got: "
                f"{types_pb2.DataType.Name(plan.signature.outputs[name].dtype)}"
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
    return result


def regression_result(
    plan: ExamplePlan, fetched: Mapping[str, Array], batch: int
) -> regression_pb2.RegressionResult:
    """One value per example, checked as TF Serving checks it."""
    values = fetched[plan.outputs[REGRESS_OUTPUTS]]
    if not (values.shape == (batch,) or values.shape == (batch, 1)):
        raise InvalidInput(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but "
            f"got {list(values.shape)}"
        )
    result = regression_pb2.RegressionResult()
    for value in values.reshape(-1).tolist():
        result.regressions.add().value = value
    return result


def _named_signature(servable: LoadedVersion, name: str) -> str:
    resolved = name or DEFAULT_SIGNATURE
    if resolved not in servable.signatures:
        raise InvalidInput(f"No signature was found with the name: {resolved}")
    return resolved


def _signature_of_method(servable: LoadedVersion, name: str, method: str, what: str) -> Any:
    signature = servable.signatures[name]
    if signature.method_name != method:
        raise InvalidInput(
            f"Expected {what} signature method_name to be {method}. Was: {signature.method_name}"
        )
    return signature


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
