"""Small SavedModels built with TensorFlow for the tests, each in `<base>/<name>/<version>/`.

They are TF1-style exports (graph + SignatureDefs), the form TF Serving loads, and each one
exercises a part of the protocol the shared TF Serving test models do not: several inputs and
outputs, int64, strings, `_bytes` outputs, classify/regress on tf.Example, and a slow model
for deadline tests. Building all of them takes a few seconds; the session fixtures cache them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: Weights of the `classifier` model: scores = softmax(x @ CLASSIFIER_WEIGHTS + CLASSIFIER_BIAS).
CLASSIFIER_WEIGHTS = np.array(
    [[1.0, 0.0, -1.0], [0.5, 1.0, 0.0], [0.0, -0.5, 1.0], [-1.0, 0.5, 0.5]], dtype=np.float32
)
CLASSIFIER_BIAS = np.array([0.1, 0.0, -0.1], dtype=np.float32)
CLASSIFIER_LABELS = (b"setosa", b"versicolor", b"virginica")

#: Labels of the `examples` model's classify signature, one score each.
EXAMPLE_CLASSES = (b"low", b"high")

#: How long one call of the `slow` model takes, by default.
SLOW_DELAY_MS = 400

#: The version directory every generated model is written into.
GENERATED_VERSION = 1


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _export(
    export_dir: Path,
    build: Callable[[Any], Mapping[str, Any]],
    *,
    main_op: bool = False,
) -> Path:
    """Build a graph with `build(tf)` -> {signature key: SignatureDef} and save it with `serve`."""
    tf = _tf()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as session:
        signatures = build(tf)
        session.run(v1.global_variables_initializer())
        builder = v1.saved_model.Builder(str(export_dir))
        builder.add_meta_graph_and_variables(
            session,
            [v1.saved_model.tag_constants.SERVING],
            signature_def_map=dict(signatures),
            main_op=v1.tables_initializer() if main_op else None,
            strip_default_attrs=True,
        )
        builder.save()
    return export_dir


def _predict_signature(tf: Any, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> Any:
    v1 = tf.compat.v1
    return v1.saved_model.signature_def_utils.build_signature_def(
        inputs={k: v1.saved_model.utils.build_tensor_info(t) for k, t in inputs.items()},
        outputs={k: v1.saved_model.utils.build_tensor_info(t) for k, t in outputs.items()},
        method_name=v1.saved_model.signature_constants.PREDICT_METHOD_NAME,
    )


def build_multi_io(export_dir: Path) -> Path:
    """`a`, `b` float [-1,2] -> `sum` = a+b and `product` = a*b (two inputs, two outputs)."""

    def build(tf: Any) -> Mapping[str, Any]:
        v1 = tf.compat.v1
        a = v1.placeholder(tf.float32, [None, 2], name="a")
        b = v1.placeholder(tf.float32, [None, 2], name="b")
        outputs = {"sum": tf.add(a, b, name="sum"), "product": tf.multiply(a, b, name="product")}
        return {"serving_default": _predict_signature(tf, {"a": a, "b": b}, outputs)}

    return _export(export_dir, build)


def build_int64(export_dir: Path) -> Path:
    """`x` int64 [-1] -> `y` = 3x, int64 (a dtype that JSON floats must not leak into)."""

    def build(tf: Any) -> Mapping[str, Any]:
        x = tf.compat.v1.placeholder(tf.int64, [None], name="x")
        y = tf.multiply(x, tf.constant(3, tf.int64), name="y")
        return {"serving_default": _predict_signature(tf, {"x": x}, {"y": y})}

    return _export(export_dir, build)


def build_strings(export_dir: Path) -> Path:
    """`text` DT_STRING [-1] -> `length` int32 (bytes) and `upper` (ASCII upper case)."""

    def build(tf: Any) -> Mapping[str, Any]:
        text = tf.compat.v1.placeholder(tf.string, [None], name="text")
        outputs = {
            "length": tf.strings.length(text, name="length"),
            "upper": tf.strings.upper(text, name="upper"),
        }
        return {"serving_default": _predict_signature(tf, {"text": text}, outputs)}

    return _export(export_dir, build)


def build_echo_bytes(export_dir: Path) -> Path:
    """`data_bytes` DT_STRING [-1] -> `data_bytes` (same bytes) and `size` int32.

    An output named `*_bytes` is written as {"b64": ...} by TF Serving's REST face.
    """

    def build(tf: Any) -> Mapping[str, Any]:
        data = tf.compat.v1.placeholder(tf.string, [None], name="data_bytes")
        outputs = {
            "data_bytes": tf.identity(data, name="echo"),
            "size": tf.strings.length(data, name="size"),
        }
        return {"serving_default": _predict_signature(tf, {"data_bytes": data}, outputs)}

    return _export(export_dir, build)


def build_classifier(export_dir: Path) -> Path:
    """`x` float [-1,4] -> `scores` float [-1,3] (softmax, weights in variables) and `classes`.

    `classes` is DT_STRING [-1]: the label with the highest score for each row.
    """

    def build(tf: Any) -> Mapping[str, Any]:
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        weights = v1.Variable(CLASSIFIER_WEIGHTS, name="weights")
        bias = v1.Variable(CLASSIFIER_BIAS, name="bias")
        scores = tf.nn.softmax(tf.matmul(x, weights) + bias, name="scores")
        labels = tf.constant(list(CLASSIFIER_LABELS), dtype=tf.string)
        classes = tf.gather(labels, tf.argmax(scores, axis=1), name="classes")
        outputs = {"scores": scores, "classes": classes}
        return {"serving_default": _predict_signature(tf, {"x": x}, outputs)}

    return _export(export_dir, build)


def classifier_expected(x: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], list[bytes]]:
    """The scores and classes the `classifier` model answers for `x`, computed with numpy."""
    logits = x.astype(np.float32) @ CLASSIFIER_WEIGHTS + CLASSIFIER_BIAS
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    scores = exp / exp.sum(axis=1, keepdims=True)
    return scores, [CLASSIFIER_LABELS[i] for i in scores.argmax(axis=1)]


def build_examples(export_dir: Path) -> Path:
    """A TF1 export with Classify and Regress signatures on serialized tf.Example `inputs`.

    Each Example carries a float feature `x`. Regress: `outputs` = 0.5x + 2 ([-1,1]).
    Classify: `classes` = EXAMPLE_CLASSES per row, `scores` = [1 - sigmoid(x), sigmoid(x)].
    `serving_default` is the regress signature; `predict_x` takes `x` float [-1] directly.
    """

    def build(tf: Any) -> Mapping[str, Any]:
        v1 = tf.compat.v1
        utils = v1.saved_model.utils
        consts = v1.saved_model.signature_constants
        serialized = v1.placeholder(tf.string, [None], name="tf_example")
        features = v1.io.parse_example(serialized, {"x": v1.io.FixedLenFeature([1], tf.float32)})
        x = features["x"]
        regression = tf.add(tf.multiply(x, 0.5), 2.0, name="regression")
        high = tf.sigmoid(x)
        scores = tf.concat([1.0 - high, high], axis=1, name="scores")
        classes = tf.tile(
            tf.constant([list(EXAMPLE_CLASSES)], dtype=tf.string),
            tf.stack([tf.shape(x)[0], 1]),
            name="classes",
        )
        regress = v1.saved_model.signature_def_utils.build_signature_def(
            inputs={consts.REGRESS_INPUTS: utils.build_tensor_info(serialized)},
            outputs={consts.REGRESS_OUTPUTS: utils.build_tensor_info(regression)},
            method_name=consts.REGRESS_METHOD_NAME,
        )
        classify = v1.saved_model.signature_def_utils.build_signature_def(
            inputs={consts.CLASSIFY_INPUTS: utils.build_tensor_info(serialized)},
            outputs={
                consts.CLASSIFY_OUTPUT_CLASSES: utils.build_tensor_info(classes),
                consts.CLASSIFY_OUTPUT_SCORES: utils.build_tensor_info(scores),
            },
            method_name=consts.CLASSIFY_METHOD_NAME,
        )
        direct_x = v1.placeholder(tf.float32, [None], name="x")
        direct_y = tf.add(tf.multiply(direct_x, 0.5), 2.0, name="y")
        return {
            "serving_default": regress,
            "regress_x": regress,
            "classify_x": classify,
            "predict_x": _predict_signature(tf, {"x": direct_x}, {"y": direct_y}),
        }

    return _export(export_dir, build)


def build_slow(export_dir: Path, delay_ms: int = SLOW_DELAY_MS) -> Path:
    """`x` float [-1] -> `y` = x + 1 after sleeping `delay_ms`.

    The wait is TF's own SleepDataset read by one `get_single_element`, so a slow call holds
    a session thread without burning a core: a busy wait made every timed-out call go on
    costing the (two-core) machine CPU after its caller left, and the suite's deadlines with it.
    """

    def build(tf: Any) -> Mapping[str, Any]:
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, [None], name="x")
        one = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
        # get_single_element reads twice (the element, then the end), and each read sleeps
        slept = tf.raw_ops.SleepDataset(
            input_dataset=tf.data.experimental.to_variant(one),
            sleep_microseconds=tf.constant(delay_ms * 1000 // 2, tf.int64),
            output_types=[tf.int64],
            output_shapes=[[]],
        )
        element = tf.data.experimental.get_single_element(
            tf.data.experimental.from_variant(slept, one.element_spec)
        )
        with tf.control_dependencies([element]):
            y = tf.add(x, 1.0, name="y")
        return {"serving_default": _predict_signature(tf, {"x": x}, {"y": y})}

    return _export(export_dir, build)


#: name -> builder of every generated model, as served by the `generated_backend` fixture.
GENERATED_MODELS: dict[str, Callable[[Path], Path]] = {
    "multi_io": build_multi_io,
    "int64": build_int64,
    "strings": build_strings,
    "echo_bytes": build_echo_bytes,
    "classifier": build_classifier,
    "examples": build_examples,
    "slow": build_slow,
}


def build_generated_models(base: Path, version: int = GENERATED_VERSION) -> Path:
    """Write every model of GENERATED_MODELS into `base/<name>/<version>/`; returns `base`."""
    for name, builder in GENERATED_MODELS.items():
        target = base / name / str(version)
        if not (target / "saved_model.pb").exists():
            builder(target)
    return base


def generated_model_config(base: Path) -> str:
    """A ModelServerConfig text proto serving every generated model under its own name."""
    configs = "".join(
        f'  config {{\n    name: "{name}"\n    base_path: "{base / name}"\n'
        f'    model_platform: "tensorflow"\n  }}\n'
        for name in GENERATED_MODELS
    )
    return f"model_config_list {{\n{configs}}}\n"
