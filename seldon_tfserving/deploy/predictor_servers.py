"""The operator's `predictor_servers` table (ConfigMap seldon-config): the images of
TENSORFLOW_SERVER, as Seldon ships them and as we recommend them.

The operator builds a TENSORFLOW_SERVER pod from two entries of that table (seldon-core
v1.18.2, `prepack.go`): `protocols.seldon`, the image of the node's container under every
protocol but `tensorflow` (Seldon's tfserving-proxy, or our wrapper image), and
`protocols.tensorflow`, the TF Serving image (the node itself under `protocol: tensorflow`,
the `tfserving` container beside it otherwise). `validate` and `up` expand TENSORFLOW_SERVER
with `OUR_IMAGES`, the table `seldon-tfserving render operator-config` writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seldon_tfserving.classes import PACKAGE
from seldon_tfserving.deploy.render_options import (
    DEFAULT_TFSERVING_IMAGE,
    DEFAULT_WRAPPER_IMAGE,
    STORAGE_INITIALIZER_IMAGE,
)

TENSORFLOW_SERVER = "TENSORFLOW_SERVER"
CONFIG_MAP_NAME = "seldon-config"
#: The operator's namespace (its POD_NAMESPACE) in a default install.
OPERATOR_NAMESPACE = "seldon-system"
PREDICTOR_SERVERS_KEY = "predictor_servers"
#: What the wrapper image's own ENV sets (s2i/Dockerfile, s2i/.s2i/environment): with it, the
#: container the operator builds runs TfServingModel without a word in the manifest.
WRAPPER_IMAGE_ENV: Mapping[str, str] = {
    "MODEL_NAME": f"{PACKAGE}.TfServingModel",
    "SERVICE_TYPE": "MODEL",
    "API_TYPE": "REST",
    "PERSISTENCE": "0",
}
#: `storageInitializer` of seldon-config (Helm values of v1.18.2): the init container's resources.
STORAGE_INITIALIZER_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "limits": {"cpu": "1", "memory": "1Gi"},
    "requests": {"cpu": "100m", "memory": "100Mi"},
}


@dataclass(frozen=True)
class ServerImage:
    """One `protocols.<protocol>` entry: an image and its `defaultImageVersion` (the tag)."""

    image: str
    version: str = ""

    @property
    def reference(self) -> str:
        """What the operator writes in the container (PrepackImageName): image:version."""
        return f"{self.image}:{self.version}" if self.version else self.image

    @classmethod
    def parse(cls, reference: str) -> ServerImage:
        """`registry:5000/name:tag` -> (`registry:5000/name`, `tag`); a digest stays whole."""
        name, colon, tag = reference.rpartition(":")
        if not colon or "/" in tag or "@" in reference:
            return cls(reference)
        return cls(name, tag)

    def as_config(self) -> dict[str, str]:
        return {"defaultImageVersion": self.version, "image": self.image}


@dataclass(frozen=True)
class TensorflowServerImages:
    """What the operator puts in a TENSORFLOW_SERVER pod, by protocol."""

    #: `protocols.seldon`: the node's container under every protocol but tensorflow
    seldon: ServerImage
    #: `protocols.tensorflow`: TF Serving
    tensorflow: ServerImage
    #: the ENV the `seldon` image sets itself (how the pod's process is chosen)
    seldon_image_env: Mapping[str, str] = field(default_factory=dict)
    #: `storageInitializer.image`: the init container that copies modelUri to /mnt/models
    storage_initializer: str = STORAGE_INITIALIZER_IMAGE

    def node_image(self, protocol: str) -> str | None:
        """The image of the node's own container (None under kfserving / v2: the table has
        no such entry for TF, so the operator leaves the image empty)."""
        if protocol in ("", "seldon"):
            return self.seldon.reference
        if protocol == "tensorflow":
            return self.tensorflow.reference
        return None

    def as_config(self) -> dict[str, Any]:
        """The TENSORFLOW_SERVER entry of predictor_servers."""
        return {
            "protocols": {
                "seldon": self.seldon.as_config(),
                "tensorflow": self.tensorflow.as_config(),
            }
        }


#: Seldon Core 1.18.2's own table: its tfserving-proxy and TF Serving 2.1.0.
SELDON_IMAGES = TensorflowServerImages(
    ServerImage("seldonio/tfserving-proxy", "1.18.2"), ServerImage("tensorflow/serving", "2.1.0")
)
#: Ours: the wrapper image (TfServingModel) and a current TF Serving.
OUR_IMAGES = TensorflowServerImages(
    ServerImage.parse(DEFAULT_WRAPPER_IMAGE),
    ServerImage.parse(DEFAULT_TFSERVING_IMAGE),
    WRAPPER_IMAGE_ENV,
)


def _servers(entries: Mapping[str, Mapping[str, tuple[str, str]]]) -> dict[str, Any]:
    return {
        server: {
            "protocols": {
                protocol: ServerImage(image, version).as_config()
                for protocol, (image, version) in protocols.items()
            }
        }
        for server, protocols in entries.items()
    }


#: `predictor_servers` of seldon-core v1.18.2 (Helm values.yaml), every server: a ConfigMap
#: change must keep the others, since the operator reads the whole JSON from that one key.
SELDON_PREDICTOR_SERVERS: dict[str, Any] = _servers(
    {
        "HUGGINGFACE_SERVER": {"v2": ("seldonio/mlserver", "1.3.5-huggingface")},
        "MLFLOW_SERVER": {
            "seldon": ("seldonio/mlflowserver", "1.18.2"),
            "v2": ("seldonio/mlserver", "1.3.5-mlflow"),
        },
        "SKLEARN_SERVER": {
            "seldon": ("seldonio/sklearnserver", "1.18.2"),
            "v2": ("seldonio/mlserver", "1.3.5-sklearn"),
        },
        "TEMPO_SERVER": {"v2": ("seldonio/mlserver", "1.3.5-slim")},
        TENSORFLOW_SERVER: {
            "seldon": (SELDON_IMAGES.seldon.image, SELDON_IMAGES.seldon.version),
            "tensorflow": (SELDON_IMAGES.tensorflow.image, SELDON_IMAGES.tensorflow.version),
        },
        "TRITON_SERVER": {"v2": ("nvcr.io/nvidia/tritonserver", "21.08-py3")},
        "XGBOOST_SERVER": {
            "seldon": ("seldonio/xgboostserver", "1.18.2"),
            "v2": ("seldonio/mlserver", "1.3.5-xgboost"),
        },
    }
)


def predictor_servers(images: TensorflowServerImages) -> dict[str, Any]:
    """Seldon's whole table with TENSORFLOW_SERVER's entry replaced by `images`."""
    return {**SELDON_PREDICTOR_SERVERS, TENSORFLOW_SERVER: images.as_config()}


def predictor_servers_text(images: TensorflowServerImages) -> str:
    """The JSON the ConfigMap key holds (keys sorted, as Helm's toJson writes them)."""
    return json.dumps(predictor_servers(images), indent=2, sort_keys=True) + "\n"


def operator_config_map(
    images: TensorflowServerImages, namespace: str = OPERATOR_NAMESPACE
) -> dict[str, Any]:
    """seldon-config with only `predictor_servers`: `kubectl apply` and `kubectl patch
    --type merge` both leave its other keys (credentials, explainer, storageInitializer)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP_NAME, "namespace": namespace},
        "data": {PREDICTOR_SERVERS_KEY: predictor_servers_text(images)},
    }
