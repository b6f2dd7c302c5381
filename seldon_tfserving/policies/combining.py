"""Pure ways to combine the children's outputs of a COMBINER node: mean, vote, max confidence.

Inputs are the numpy arrays Seldon decoded from each child's ndarray, tensor or tftensor
payload; anything the combination cannot take is an InvalidInput naming the children's shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from seldon_tfserving.errors import FailedPrecondition, InvalidInput

#: Any numpy array; the combinations work on every numeric dtype.
Array = npt.NDArray[Any]

_NUMERIC_KINDS = "biuf"


def numeric_outputs(features_list: Sequence[Any]) -> list[Array]:
    """The children's outputs as numeric arrays; a child that sent anything else is refused."""
    if len(features_list) == 0:
        raise InvalidInput("aggregate received no children's outputs")
    outputs: list[Array] = []
    for child, features in enumerate(features_list):
        if not isinstance(features, np.ndarray):
            raise InvalidInput(
                f"child {child} sent {type(features).__name__} data; combiners take numeric "
                "ndarray, tensor or tftensor payloads"
            )
        if features.dtype.kind not in _NUMERIC_KINDS:
            raise InvalidInput(f"child {child}'s output is {features.dtype} data, not numbers")
        outputs.append(features)
    return outputs


def describe_shapes(outputs: Sequence[Array]) -> str:
    return ", ".join(f"child {child} {output.shape}" for child, output in enumerate(outputs))


def stack_same_shape(outputs: Sequence[Array]) -> Array:
    """The outputs stacked on a new first axis; they must all have one shape."""
    if any(output.shape != outputs[0].shape for output in outputs[1:]):
        raise InvalidInput(f"children's outputs differ in shape: {describe_shapes(outputs)}")
    return np.stack(outputs)


def stack_rows_and_classes(outputs: Sequence[Array], combiner: str) -> Array:
    """Outputs of shape (rows, classes), all alike and with at least one class, stacked."""
    for child, output in enumerate(outputs):
        if output.ndim != 2 or output.shape[1] == 0:
            raise InvalidInput(
                f"{combiner} needs each child's output as (rows, classes) with at least one "
                f"class, but child {child} sent shape {output.shape}"
            )
    if any(output.shape != outputs[0].shape for output in outputs[1:]):
        raise InvalidInput(
            f"children's outputs must agree in rows and classes: {describe_shapes(outputs)}"
        )
    return np.stack(outputs)


def mean(outputs: Sequence[Array]) -> Array:
    """Element-wise mean of the children's outputs (float32 stays float32)."""
    stacked = stack_same_shape(outputs)
    return np.asarray(stacked.mean(axis=0))


def weighted_mean(outputs: Sequence[Array], weights: Sequence[float]) -> Array:
    """Element-wise weighted mean; `weights` (one per child) are already normalised."""
    if len(weights) != len(outputs):
        raise FailedPrecondition(
            f"weights has {len(weights)} entries but {len(outputs)} children answered; "
            "configure one weight per child"
        )
    stacked = stack_same_shape(outputs)
    dtype = np.result_type(stacked.dtype, np.float32)
    return np.asarray(np.tensordot(np.asarray(weights, dtype=dtype), stacked.astype(dtype), axes=1))


def majority_vote(outputs: Sequence[Array], one_hot: bool) -> Array:
    """Per row, the class most children rank first; ties go to the lowest class index.

    Returns the class labels (rows,) as int64, or their one-hot rows (rows, classes).
    """
    stacked = stack_rows_and_classes(outputs, "MajorityVoteCombiner")
    _, rows, classes = stacked.shape
    votes = stacked.argmax(axis=2)  # (children, rows): each child's class per row
    tally = np.zeros((rows, classes), dtype=np.int64)
    row_index = np.broadcast_to(np.arange(rows), votes.shape)
    np.add.at(tally, (row_index, votes), 1)
    labels: Array = tally.argmax(axis=1).astype(np.int64)  # argmax takes the first (lowest) on ties
    if not one_hot:
        return labels
    encoded = np.zeros((rows, classes), dtype=np.float32)
    encoded[np.arange(rows), labels] = 1.0
    return encoded


def max_confidence(outputs: Sequence[Array]) -> Array:
    """Per row, the output row of the child most confident in its top class (lowest on ties)."""
    stacked = stack_rows_and_classes(outputs, "MaxConfidenceCombiner")
    confidence = stacked.max(axis=2)  # (children, rows)
    chosen = confidence.argmax(axis=0)  # (rows,)
    return np.asarray(stacked[chosen, np.arange(stacked.shape[1])])
