"""The storage initializer the operator injects for a prepackaged server's `modelUri`
(seldon-core v1.18.2 `model_initializer_injector.go`), and where that model comes from.

An init container copies the URI into an emptyDir the server mounts read-only at
`/mnt/models`; a `pvc://<claim>/<path>` URI is mounted at `/mnt/pvc` and copied from there.
`ModelSource` records each injection, so the local runner can serve `/mnt/models` from a
folder of this machine instead (`up` never downloads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seldon_tfserving.deploy.operator_defaults import MODEL_MOUNT_PATH
from seldon_tfserving.deploy.predictor_servers import STORAGE_INITIALIZER_RESOURCES

PVC_PREFIX = "pvc://"
FILE_PREFIX = "file://"
PVC_SOURCE_VOLUME = "kfserving-pvc-source"
PVC_SOURCE_PATH = "/mnt/pvc"
NAME_LIMIT = 63


@dataclass(frozen=True)
class ModelSource:
    """One model copied into a pod: the node it serves, the URI, and the pod's volumes."""

    predictor: int
    pod: int
    node: str
    #: JSON path of the node in the document
    node_path: str
    uri: str
    #: the emptyDir the server reads at /mnt/models
    volume: str
    #: the claim a pvc:// URI names, and the path inside it ("" for the claim's root)
    claim: str | None = None
    claim_path: str = ""


def kubernetes_name(name: str) -> str:
    """Cut to 63 characters with a trailing '-' dropped, as the operator does."""
    return name[:NAME_LIMIT].rstrip("-") if len(name) > NAME_LIMIT else name


def parse_pvc_uri(uri: str) -> tuple[str, str]:
    """`pvc://claim/some/path` -> ("claim", "some/path")."""
    claim, _, path = uri.removeprefix(PVC_PREFIX).partition("/")
    return claim, path


def _mount(container: dict[str, Any], volume: str, path: str) -> None:
    """addVolumeMountToContainer: a read-only mount, unless the volume is mounted already."""
    mounts = [dict(m) for m in container.get("volumeMounts") or ()]
    if not any(m.get("name") == volume for m in mounts):
        mounts.append({"name": volume, "mountPath": path, "readOnly": True})
    container["volumeMounts"] = mounts


def inject_storage_initializer(
    pod: dict[str, Any],
    server: dict[str, Any],
    node: Mapping[str, Any],
    *,
    image: str,
    env_secret_ref: str | None,
) -> tuple[str, str] | None:
    """Give `server` (a container of `pod`) the model of the node's `modelUri`.

    Returns (volume name, init container name), or None when the node has no modelUri.
    When an init container of that name is already there (the user's own), only the mount
    is added, as the operator does; it then declares no volume either.
    """
    uri = str(node.get("modelUri") or "")
    if not uri:
        return None
    name = str(server.get("name", ""))
    volume = kubernetes_name(f"{name}-provision-location")
    initializer = kubernetes_name(f"{name}-model-initializer")
    init_containers = [dict(c) for c in pod.get("initContainers") or ()]
    if any(c.get("name") == initializer for c in init_containers):
        _mount(server, volume, MODEL_MOUNT_PATH)
        return volume, initializer
    volumes = [dict(v) for v in pod.get("volumes") or ()]
    initializer_mounts: list[dict[str, Any]] = []
    source = uri
    if uri.startswith(PVC_PREFIX):
        claim, path = parse_pvc_uri(uri)
        volumes.append({"name": PVC_SOURCE_VOLUME, "persistentVolumeClaim": {"claimName": claim}})
        initializer_mounts.append(
            {"name": PVC_SOURCE_VOLUME, "mountPath": PVC_SOURCE_PATH, "readOnly": True}
        )
        _mount(server, PVC_SOURCE_VOLUME, PVC_SOURCE_PATH)
        source = f"{PVC_SOURCE_PATH}/{path}"
    volumes.append({"name": volume, "emptyDir": {}})
    initializer_mounts.append({"name": volume, "mountPath": MODEL_MOUNT_PATH, "readOnly": False})
    container: dict[str, Any] = {
        "name": initializer,
        "image": str(node.get("storageInitializerImage") or image),
        "imagePullPolicy": "IfNotPresent",
        "args": [source, MODEL_MOUNT_PATH],
        "volumeMounts": initializer_mounts,
        "resources": {kind: dict(values) for kind, values in STORAGE_INITIALIZER_RESOURCES.items()},
    }
    if env_secret_ref:
        container["envFrom"] = [{"secretRef": {"name": env_secret_ref}}]
    _mount(server, volume, MODEL_MOUNT_PATH)
    pod["volumes"] = volumes
    pod["initContainers"] = [*init_containers, container]
    return volume, initializer
