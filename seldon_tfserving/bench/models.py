"""The bench's models, exported as SavedModels at bench time so every target serves the same ones.

Three payload sizes, each with a model that really computes on it: a dense layer on 1x4, a
two-layer perceptron on 1x784 and a small three-layer conv net on 1x224x224x3 (float32). They are
TF1-style exports (graph + `serving_default` SignatureDef: `x` -> `y`), the form TF Serving loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: The version directory every bench model is written into.
BENCH_MODEL_VERSION = 1
#: Signature, input and output names of every bench model.
SIGNATURE_NAME = "serving_default"
INPUT_NAME = "x"
OUTPUT_NAME = "y"


@dataclass(frozen=True)
class BenchModel:
    """A model the bench serves, and the shape of the one-row payload it is sent."""

    name: str
    payload_shape: tuple[int, ...]
    build: Callable[[Any, np.random.Generator], Any]

    @property
    def payload_label(self) -> str:
        return "x".join(str(d) for d in self.payload_shape)

    def payload(self, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
        """A deterministic float32 payload in [0, 1) of this model's shape."""
        return np.random.default_rng(seed).random(self.payload_shape, dtype=np.float32)


def _weights(tf: Any, rng: np.random.Generator, shape: tuple[int, ...], name: str) -> Any:
    fan_in = int(np.prod(shape[:-1]))
    values = rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape).astype(np.float32)
    return tf.compat.v1.Variable(values, name=name)


def _dense(tf: Any, rng: np.random.Generator, x: Any, units_in: int, units: int, name: str) -> Any:
    weights = _weights(tf, rng, (units_in, units), f"{name}_w")
    bias = tf.compat.v1.Variable(np.zeros(units, np.float32), name=f"{name}_b")
    return tf.matmul(x, weights) + bias


def _build_dense4(tf: Any, rng: np.random.Generator) -> Any:
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name=INPUT_NAME)
    return x, tf.nn.softmax(_dense(tf, rng, x, 4, 3, "dense"), name=OUTPUT_NAME)


def _build_mlp784(tf: Any, rng: np.random.Generator) -> Any:
    x = tf.compat.v1.placeholder(tf.float32, [None, 784], name=INPUT_NAME)
    hidden = tf.nn.relu(_dense(tf, rng, x, 784, 128, "hidden"))
    return x, tf.nn.softmax(_dense(tf, rng, hidden, 128, 10, "logits"), name=OUTPUT_NAME)


def _build_conv224(tf: Any, rng: np.random.Generator) -> Any:
    x = tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3], name=INPUT_NAME)
    features = x
    for index, (channels_in, channels_out) in enumerate(((3, 8), (8, 16), (16, 32))):
        kernel = _weights(tf, rng, (3, 3, channels_in, channels_out), f"conv{index}")
        features = tf.nn.relu(tf.nn.conv2d(features, kernel, strides=2, padding="SAME"))
    pooled = tf.reduce_mean(features, axis=[1, 2])
    return x, tf.nn.softmax(_dense(tf, rng, pooled, 32, 10, "logits"), name=OUTPUT_NAME)


#: Every bench model, smallest payload first.
BENCH_MODELS: tuple[BenchModel, ...] = (
    BenchModel("dense4", (1, 4), _build_dense4),
    BenchModel("mlp784", (1, 784), _build_mlp784),
    BenchModel("conv224", (1, 224, 224, 3), _build_conv224),
)


def export_bench_model(model: BenchModel, base: Path, seed: int = 7) -> Path:
    """Write `model` as `<base>/<name>/<version>/` with fixed random weights; return that dir."""
    import tensorflow as tf

    v1 = tf.compat.v1
    export_dir = base / model.name / str(BENCH_MODEL_VERSION)
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as session:
        x, y = model.build(tf, np.random.default_rng(seed))
        signature = v1.saved_model.signature_def_utils.predict_signature_def(
            inputs={INPUT_NAME: x}, outputs={OUTPUT_NAME: y}
        )
        session.run(v1.global_variables_initializer())
        builder = v1.saved_model.Builder(str(export_dir))
        builder.add_meta_graph_and_variables(
            session,
            [v1.saved_model.tag_constants.SERVING],
            signature_def_map={SIGNATURE_NAME: signature},
            strip_default_attrs=True,
        )
        builder.save()
    return export_dir


def export_bench_models(base: Path, models: tuple[BenchModel, ...] = BENCH_MODELS) -> Path:
    """Export every bench model under `base`; return `base` (the models' base paths' parent)."""
    for model in models:
        export_bench_model(model, base)
    return base


def model_config(base: Path, models: tuple[BenchModel, ...] = BENCH_MODELS) -> str:
    """A TF Serving `--model_config_file` text serving each model under its own name."""
    entries = "".join(
        f'  config {{\n    name: "{m.name}"\n    base_path: "{base / m.name}"\n'
        f'    model_platform: "tensorflow"\n  }}\n'
        for m in models
    )
    return f"model_config_list {{\n{entries}}}\n"
