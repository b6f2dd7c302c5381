"""The demo's data and its two classifiers: trained in seconds, exported as TF Serving loads them.

Three Gaussian blobs in four features; version 1 sees only the first feature and trains for a
few steps (deliberately weak), version 2 sees all four and trains to convergence. Both export
a SavedModel whose `serving_default` takes `x` float [-1, 4] and returns `probabilities`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = 4
CLASSES = 3
SIGNATURE_INPUT = "x"
SIGNATURE_OUTPUT = "probabilities"

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Dataset:
    train_x: Array
    train_y: Array
    test_x: Array
    test_y: Array


@dataclass(frozen=True)
class Recipe:
    """How one model version is trained: which features it may see, for how many steps."""

    version: int
    feature_mask: tuple[float, ...]
    steps: int
    learning_rate: float


#: v1: one feature, a handful of steps. v2: every feature, trained properly.
RECIPES = (
    Recipe(1, (1.0, 0.0, 0.0, 0.0), steps=8, learning_rate=0.05),
    Recipe(2, (1.0, 1.0, 1.0, 1.0), steps=300, learning_rate=0.2),
)


def make_dataset(seed: int = 7, per_class: int = 400, test_share: float = 0.25) -> Dataset:
    """Three overlapping Gaussian blobs; the first feature alone separates them poorly."""
    rng = np.random.default_rng(seed)
    centres = np.array(
        [[0.0, 0.0, 0.0, 0.0], [0.6, 2.5, -1.5, 1.0], [-0.4, -1.5, 2.5, -2.0]], dtype=np.float32
    )
    x = np.concatenate(
        [rng.normal(centres[c], 1.0, size=(per_class, FEATURES)) for c in range(CLASSES)]
    ).astype(np.float32)
    y = np.repeat(np.arange(CLASSES), per_class).astype(np.int64)
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    cut = int(len(y) * (1 - test_share))
    return Dataset(x[:cut], y[:cut], x[cut:], y[cut:])


def train_and_export(recipe: Recipe, data: Dataset, model_dir: Path) -> Array:
    """Train a small classifier by `recipe` and export it to `model_dir/<version>`; returns its
    probabilities for the test split (to score it, and to recognise its answers later)."""
    import tensorflow as tf

    tf.random.set_seed(recipe.version)
    mask = tf.constant(recipe.feature_mask, dtype=tf.float32)
    hidden = 16
    weights = [
        tf.Variable(tf.random.normal([FEATURES, hidden], stddev=0.3), name="w1"),
        tf.Variable(tf.zeros([hidden]), name="b1"),
        tf.Variable(tf.random.normal([hidden, CLASSES], stddev=0.3), name="w2"),
        tf.Variable(tf.zeros([CLASSES]), name="b2"),
    ]

    def logits(x: Any) -> Any:
        h = tf.nn.relu(tf.matmul(x * mask, weights[0]) + weights[1])
        return tf.matmul(h, weights[2]) + weights[3]

    optimizer = tf.keras.optimizers.Adam(recipe.learning_rate)
    x, y = tf.constant(data.train_x), tf.constant(data.train_y)

    @tf.function  # type: ignore[untyped-decorator]
    def step() -> None:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits(x))
            )
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))

    for _ in range(recipe.steps):
        step()

    serving_spec = [tf.TensorSpec([None, FEATURES], tf.float32, name=SIGNATURE_INPUT)]

    class Classifier(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.weights = weights
            self.mask = mask

        @tf.function(input_signature=serving_spec)  # type: ignore[untyped-decorator]
        def serve(self, x: Any) -> dict[str, Any]:
            return {SIGNATURE_OUTPUT: tf.nn.softmax(logits(x))}

    module = Classifier()
    target = model_dir / str(recipe.version)
    tf.saved_model.save(module, str(target), signatures={"serving_default": module.serve})
    return np.asarray(module.serve(tf.constant(data.test_x))[SIGNATURE_OUTPUT].numpy())


def accuracy(probabilities: Array, labels: Array) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))
