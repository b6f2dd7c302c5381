"""How children's outputs are combined, and which outputs cannot be (no server)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from seldon_tfserving.errors import FailedPrecondition, InvalidInput
from seldon_tfserving.policies import combining

PROBS_A = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], dtype=np.float32)
PROBS_B = np.array([[0.2, 0.5, 0.3], [0.2, 0.2, 0.6]], dtype=np.float32)
PROBS_C = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]], dtype=np.float32)


def test_mean_is_element_wise_and_keeps_float32() -> None:
    combined = combining.mean([PROBS_A, PROBS_B])
    np.testing.assert_allclose(combined, (PROBS_A + PROBS_B) / 2, rtol=1e-6)
    assert combined.dtype == np.float32


def test_mean_of_integers_is_a_float_mean() -> None:
    combined = combining.mean([np.array([1, 2]), np.array([2, 2])])
    assert combined.tolist() == [1.5, 2.0]


def test_weighted_mean_uses_one_normalised_weight_per_child() -> None:
    combined = combining.weighted_mean([PROBS_A, PROBS_B], (0.75, 0.25))
    np.testing.assert_allclose(combined, 0.75 * PROBS_A + 0.25 * PROBS_B, rtol=1e-6)
    assert combined.dtype == np.float32


def test_weighted_mean_with_the_wrong_number_of_children_says_so() -> None:
    with pytest.raises(FailedPrecondition, match="weights has 3 entries but 2 children"):
        combining.weighted_mean([PROBS_A, PROBS_B], (0.5, 0.25, 0.25))


def test_majority_vote_takes_each_child_s_argmax_per_row() -> None:
    # Row 0 votes: 0, 1, 0 -> 0.  Row 1 votes: 2, 2, 0 -> 2.
    labels = combining.majority_vote([PROBS_A, PROBS_B, PROBS_C], one_hot=False)
    assert labels.tolist() == [0, 2]
    assert labels.dtype == np.int64


def test_majority_vote_ties_go_to_the_lowest_class_index() -> None:
    # Row 0 votes: 0 and 1 (tie) -> 0.  Row 1 votes: 2 and 1 (tie) -> 1.
    first = np.array([[0.9, 0.1, 0.0], [0.0, 0.1, 0.9]])
    second = np.array([[0.1, 0.9, 0.0], [0.0, 0.9, 0.1]])
    assert combining.majority_vote([first, second], one_hot=False).tolist() == [0, 1]
    assert combining.majority_vote([second, first], one_hot=False).tolist() == [0, 1]


def test_majority_vote_as_one_hot_rows() -> None:
    encoded = combining.majority_vote([PROBS_A, PROBS_B, PROBS_C], one_hot=True)
    assert encoded.tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def test_max_confidence_takes_the_row_of_the_surest_child() -> None:
    combined = combining.max_confidence([PROBS_A, PROBS_B, PROBS_C])
    # Row 0: A is surest (0.7).  Row 1: A and B tie at 0.6 -> the lower child, A.
    np.testing.assert_array_equal(combined, np.stack([PROBS_A[0], PROBS_A[1]]))


def test_an_empty_batch_combines_to_an_empty_batch() -> None:
    empty = np.zeros((0, 3))
    assert combining.majority_vote([empty, empty], one_hot=False).shape == (0,)
    assert combining.max_confidence([empty, empty]).shape == (0, 3)
    assert combining.mean([empty, empty]).shape == (0, 3)


def test_a_shape_mismatch_names_every_child_s_shape() -> None:
    with pytest.raises(InvalidInput) as refused:
        combining.mean([np.zeros((2, 3)), np.zeros((2, 4))])
    assert (
        str(refused.value) == "children's outputs differ in shape: child 0 (2, 3), child 1 (2, 4)"
    )
    assert refused.value.grpc_code == grpc.StatusCode.INVALID_ARGUMENT


def test_vote_and_max_confidence_need_the_same_rows_and_classes() -> None:
    two_rows, three_rows = np.zeros((2, 3)), np.zeros((3, 3))
    with pytest.raises(InvalidInput, match=r"child 0 \(2, 3\), child 1 \(3, 3\)"):
        combining.majority_vote([two_rows, three_rows], one_hot=False)
    with pytest.raises(InvalidInput, match=r"child 0 \(2, 3\), child 1 \(3, 3\)"):
        combining.max_confidence([two_rows, three_rows])


def test_vote_and_max_confidence_need_rows_of_classes() -> None:
    with pytest.raises(InvalidInput, match=r"\(rows, classes\).*child 1 sent shape \(3,\)"):
        combining.max_confidence([np.zeros((1, 3)), np.zeros(3)])
    with pytest.raises(InvalidInput, match=r"child 0 sent shape \(2, 0\)"):
        combining.majority_vote([np.zeros((2, 0)), np.zeros((2, 0))], one_hot=True)


@pytest.mark.parametrize(
    ("outputs", "complaint"),
    [
        ([], "no children"),
        ([np.zeros(2), "text"], "child 1 sent str data"),
        ([np.zeros(2), {"a": 1}], "child 1 sent dict data"),
        ([np.array(["a", "b"]), np.zeros(2)], "child 0's output is <U1 data"),
    ],
)
def test_outputs_that_are_not_numeric_tensors_are_refused(
    outputs: list[object], complaint: str
) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        combining.numeric_outputs(outputs)
