"""Where a model URI's files are on this machine: `up` never downloads.

On a cluster Seldon's storage initializer copies a prepackaged server's `modelUri` into
`/mnt/models`, and TF Serving may read a `gs://` `--model_base_path` itself. Here the same
files come from a local folder: a local path or `file://` in place, `pvc://<claim>/<path>`
under the folder `--volume <claim>=DIR` maps, any other URI from `--model-uri URI=DIR`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from seldon_tfserving.deploy.storage_initializer import (
    FILE_PREFIX,
    PVC_PREFIX,
    PVC_SOURCE_VOLUME,
    ModelSource,
    parse_pvc_uri,
)
from seldon_tfserving.runner.errors import PlanError

#: `gs://...`, `s3:bucket/...` (rclone's remote:path form): anything that is not a local path.
_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _mapped(uri: str, model_uris: Mapping[str, Path]) -> Path | None:
    wanted = uri.rstrip("/")
    return next((Path(d) for u, d in model_uris.items() if u.rstrip("/") == wanted), None)


def is_remote(uri: str) -> bool:
    """A URI only a download could read (every scheme but file://, and rclone remotes)."""
    return not uri.startswith(FILE_PREFIX) and _REMOTE.match(uri) is not None


def model_folder(
    uri: str, *, node: str, model_uris: Mapping[str, Path], volumes: Mapping[str, Path]
) -> Path:
    """The local folder holding what the storage initializer would copy from `uri`."""
    mapped = _mapped(uri, model_uris)
    if mapped is not None:
        return mapped
    if uri.startswith(PVC_PREFIX):
        claim, inside = parse_pvc_uri(uri)
        if claim not in volumes:
            raise PlanError(
                f"graph node {node!r} loads modelUri {uri!r} from PersistentVolumeClaim "
                f"{claim!r}: map the claim to a local folder with --volume {claim}=DIR "
                f"(or the URI with --model-uri {uri}=DIR)"
            )
        return _existing(Path(volumes[claim]) / inside, uri, node)
    if is_remote(uri):
        raise PlanError(
            f"graph node {node!r} loads modelUri {uri!r}, which `up` does not download: map "
            f"it to a local folder with --model-uri {uri}=DIR (DIR holding what Seldon's "
            "storage initializer would copy to /mnt/models, e.g. DIR/1/saved_model.pb)"
        )
    return _existing(Path(uri.removeprefix(FILE_PREFIX)).expanduser().resolve(), uri, node)


def _existing(folder: Path, uri: str, node: str) -> Path:
    if not folder.is_dir():
        raise PlanError(
            f"graph node {node!r} loads modelUri {uri!r}, but {folder} is not a folder on "
            "this machine"
        )
    return folder


def model_volume_dirs(
    sources: Iterable[ModelSource],
    *,
    model_uris: Mapping[str, Path],
    volumes: Mapping[str, Path],
) -> dict[str, Path]:
    """Volume name -> local folder for the volumes the operator adds to one pod: each
    node's /mnt/models emptyDir is the model's folder, and a pvc:// source volume is the
    claim's folder (nothing reads it but the initializer, which does not run here)."""
    dirs: dict[str, Path] = {}
    for source in sources:
        folder = model_folder(source.uri, node=source.node, model_uris=model_uris, volumes=volumes)
        dirs[source.volume] = folder
        if source.claim is not None:
            dirs[PVC_SOURCE_VOLUME] = Path(volumes.get(source.claim, folder))
    return dirs


def local_base_path(value: str, model_uris: Mapping[str, Path]) -> str | None:
    """A remote `--model_base_path` mapped with --model-uri (TF Serving reads gs:// itself
    on a cluster); None when it is not mapped."""
    mapped = _mapped(value, model_uris)
    return str(mapped) if mapped is not None else None
