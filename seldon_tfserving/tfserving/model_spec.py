"""TF Serving's ModelSpec of a target: the one place a name, version or label becomes one."""

from __future__ import annotations

from tensorflow_serving.apis import model_pb2

from seldon_tfserving.tfserving.client import ModelTarget


def model_spec(target: ModelTarget, signature_name: str = "") -> model_pb2.ModelSpec:
    """TF Serving's ModelSpec for `target` (version and label are exclusive, as in TF)."""
    spec = model_pb2.ModelSpec(name=target.name, signature_name=signature_name)
    if target.version is not None:
        spec.version.value = target.version
    elif target.label is not None:
        spec.version_label = target.label
    return spec
