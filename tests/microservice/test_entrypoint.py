"""The one entrypoint decides once which components run without TensorFlow's runtime: ours."""

from __future__ import annotations

import pytest

from seldon_tfserving.microservice.__main__ import serves_our_class


@pytest.mark.parametrize(
    "arguments",
    [
        ["seldon_tfserving.TfServingModel", "--service-type", "MODEL"],
        ["seldon_tfserving.EpsilonGreedyRouter", "--http-port", "9000"],
    ],
)
def test_our_classes_get_the_protos_only(arguments: list[str]) -> None:
    assert serves_our_class(arguments)


@pytest.mark.parametrize(
    "arguments",
    [
        ["my_models.Keras", "--service-type", "MODEL"],
        ["seldon_tfserving_fork.Model"],
        ["--http-port", "9000", "seldon_tfserving.TfServingModel"],  # not where we put it
        [],
    ],
)
def test_any_other_class_gets_tensorflow_whole(arguments: list[str]) -> None:
    assert not serves_our_class(arguments)
