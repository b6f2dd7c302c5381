"""The children's TF Serving answers a combiner takes, read into named arrays, both wires.

Over REST, Seldon's executor posts `:aggregate` a JSON array of the children's raw bodies in
child order (`CombineSeldonMessagesToJson`); over gRPC, our gateway sends their
PredictResponses. Either way each child becomes {output name: array}, every child must
answer the same outputs, and the answer is written in the first child's format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tensorflow_serving.apis import predict_pb2

from seldon_tfserving.codec import fast_json
from seldon_tfserving.codec.json_tensors import Array, TextLiterals, debug_json
from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray
from seldon_tfserving.codec.tfserving_json import read_predict_answer
from seldon_tfserving.errors import InvalidInput

#: The key of a child's single, unnamed output (`{"predictions": [...]}`).
UNNAMED = ""


@dataclass(frozen=True)
class ChildAnswers:
    """Every child's outputs, in child order, and whether the first answered columnar."""

    outputs: list[dict[str, Array]]
    columnar: bool

    def by_output(self) -> dict[str, list[Array]]:
        """Each output's arrays, one per child; children answering other outputs are refused."""
        names = sorted(self.outputs[0])
        for child, outputs in enumerate(self.outputs[1:], start=1):
            if sorted(outputs) != names:
                raise InvalidInput(
                    f"children answer different outputs: child 0 {_describe(names)}, "
                    f"child {child} {_describe(sorted(outputs))}"
                )
        return {name: [outputs[name] for outputs in self.outputs] for name in names}


def _describe(names: Sequence[str]) -> str:
    if names == [UNNAMED]:
        return "one unnamed output"
    return "outputs " + ", ".join(repr(name) for name in names)


def read_aggregate_body(body: bytes) -> ChildAnswers:
    """The `:aggregate` body: a JSON array of predict answers (`predictions` or `outputs`)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"JSON Parse error: Invalid encoding in string. {exc}") from None
    try:
        children = fast_json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"JSON Parse error: {exc}") from None
    if not isinstance(children, list):
        raise InvalidInput(
            f"JSON Value: {debug_json(children)} Is not an array of the children's answers"
        )
    if not children:
        raise InvalidInput("aggregate received no children's answers")
    literals = TextLiterals.of(text)
    outputs: list[dict[str, Array]] = []
    columnar = False
    for child, answer in enumerate(children):
        if not isinstance(answer, dict):
            raise InvalidInput(f"child {child}'s answer {debug_json(answer)} is not an object")
        if "error" in answer:
            raise InvalidInput(f"child {child} answered an error: {debug_json(answer['error'])}")
        try:
            outputs.append(read_predict_answer(answer, literals=literals, single_name=UNNAMED))
        except InvalidInput as exc:
            raise InvalidInput(f"child {child}'s answer {exc.message}") from None
        if child == 0:
            columnar = "predictions" not in answer
    return ChildAnswers(outputs, columnar)


def read_predict_responses(responses: Sequence[predict_pb2.PredictResponse]) -> ChildAnswers:
    """The children's PredictResponses (gRPC), each output a numpy view on its tensor."""
    if not responses:
        raise InvalidInput("aggregate received no children's answers")
    outputs: list[dict[str, Array]] = []
    for child, response in enumerate(responses):
        if not response.outputs:
            raise InvalidInput(f"child {child}'s answer has no outputs")
        try:
            outputs.append(
                {name: tensor_proto_to_ndarray(proto) for name, proto in response.outputs.items()}
            )
        except InvalidInput as exc:
            raise InvalidInput(f"child {child}'s answer: {exc.message}") from None
    return ChildAnswers(outputs, columnar=True)
