"""Models for Seldon's own TENSORFLOW_SERVER examples, built here with known answers.

Seldon's MNIST examples call `gs://seldon-models/tfserving/mnist-model`, whose signature
`predict_images` takes `images` (float [-1, 784]) and answers `scores` (ten class
probabilities). The model built here has that signature with fixed weights, so numpy gives
the same scores; TF Serving's half_plus_two test models stand in for Seldon's copies of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

PIXELS, CLASSES = 784, 10
#: scores = softmax(images @ MNIST_WEIGHTS + MNIST_BIAS)
MNIST_WEIGHTS = ((np.arange(PIXELS * CLASSES).reshape(PIXELS, CLASSES) % 13 - 6) / 50.0).astype(
    np.float32
)
MNIST_BIAS = np.linspace(-0.5, 0.5, CLASSES, dtype=np.float32)
MNIST_SIGNATURE = "predict_images"


def mnist_scores(images: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """What the model answers for `images`, computed with numpy."""
    logits = images.astype(np.float32) @ MNIST_WEIGHTS + MNIST_BIAS
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    scores: np.ndarray[Any, Any] = shifted / shifted.sum(axis=1, keepdims=True)
    return scores


def build_mnist_model(base: Path, version: int = 1) -> Path:
    """Export the model as `<base>/<version>/` (TF Serving's layout); returns `base`."""
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as session:
        images = v1.placeholder(tf.float32, [None, PIXELS], name="images")
        logits = tf.matmul(images, tf.constant(MNIST_WEIGHTS)) + tf.constant(MNIST_BIAS)
        scores = tf.nn.softmax(logits, name="scores")
        signature = v1.saved_model.signature_def_utils.predict_signature_def(
            inputs={"images": images}, outputs={"scores": scores}
        )
        builder = v1.saved_model.Builder(str(base / str(version)))
        builder.add_meta_graph_and_variables(
            session,
            [v1.saved_model.tag_constants.SERVING],
            signature_def_map={MNIST_SIGNATURE: signature},
        )
        builder.save()
    return base
