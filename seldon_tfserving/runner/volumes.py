"""Where a container's volume mounts live on this machine, and how its paths are rewritten.

In a pod, a container reads `/models/iris` because a volume is mounted at `/models`. Locally the
same volume is a folder (`--volume NAME=DIR`, a ConfigMap from the same YAML written to a
scratch folder, an emptyDir, a hostPath), so every path under a mount path is rewritten to it.
Pure: materialised ConfigMap files are returned as text to write, never written here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from seldon_tfserving.runner.errors import PlanError

#: A double-quoted absolute path inside a text proto (models.config, batching parameters).
_QUOTED_PATH = re.compile(r'"(/[^"\n]*)"')


@dataclass(frozen=True)
class Mount:
    """One volume mount of one container, resolved to a local folder (or file, with subPath)."""

    volume: str
    mount_path: str
    local_path: Path


@dataclass(frozen=True)
class MountTable:
    """A container's mounts, longest mount path first, so nested mounts win."""

    mounts: tuple[Mount, ...]

    def rewrite(self, value: str) -> str:
        """`value` with a leading mount path replaced by its local folder; else unchanged."""
        for mount in self.mounts:
            root = mount.mount_path.rstrip("/") or "/"
            if value == root:
                return str(mount.local_path)
            prefix = root if root.endswith("/") else root + "/"
            if value.startswith(prefix):
                return str(mount.local_path / value[len(prefix) :])
        return value

    def rewrite_text(self, text: str) -> str:
        """Rewrite every quoted absolute path in a text proto (e.g. a models.config)."""
        return _QUOTED_PATH.sub(lambda m: '"' + self.rewrite(m.group(1)) + '"', text)


@dataclass(frozen=True)
class ResolvedMounts:
    """The mount table of one container plus the files and folders to create before it starts."""

    table: MountTable
    files: Mapping[Path, str]
    folders: tuple[Path, ...]


def resolve_mounts(
    container: Mapping[str, Any],
    pod_volumes: Mapping[str, Mapping[str, Any]],
    *,
    volume_dirs: Mapping[str, Path],
    known_config_maps: Mapping[str, Mapping[str, str]],
    scratch_dir: Path,
) -> ResolvedMounts:
    """Resolve every volumeMount of `container` to a local path.

    `scratch_dir` is this container's own scratch folder (ConfigMaps and emptyDirs go there).
    Raises PlanError naming the volume when it cannot be placed on this machine.
    """
    container_name = str(container.get("name", ""))
    raw_mounts = list(container.get("volumeMounts") or ())
    local_roots: dict[str, Path] = {}
    pending_config_maps: list[tuple[str, Mapping[str, Any], Path]] = []
    folders: list[Path] = []
    for raw in raw_mounts:
        volume_name = str(raw.get("name", ""))
        if volume_name in local_roots:
            continue
        volume = pod_volumes.get(volume_name)
        if volume_name in volume_dirs:
            local_roots[volume_name] = Path(volume_dirs[volume_name])
        elif volume is None:
            raise PlanError(
                f"container {container_name!r} mounts volume {volume_name!r}, which the pod "
                f"does not declare; map it with --volume {volume_name}=DIR"
            )
        elif "configMap" in volume:
            target = scratch_dir / "volumes" / volume_name
            local_roots[volume_name] = target
            pending_config_maps.append((volume_name, volume, target))
        elif "emptyDir" in volume:
            target = scratch_dir / "volumes" / volume_name
            local_roots[volume_name] = target
            folders.append(target)
        elif "hostPath" in volume:
            local_roots[volume_name] = Path(str(volume["hostPath"].get("path", "")))
        else:
            raise PlanError(
                f"volume {volume_name!r} of container {container_name!r} has no local "
                f"counterpart; map it with --volume {volume_name}=DIR"
            )
    mounts = []
    for raw in raw_mounts:
        mount_path = str(raw.get("mountPath", ""))
        if not PurePosixPath(mount_path).is_absolute():
            raise PlanError(
                f"container {container_name!r}: mountPath {mount_path!r} is not absolute"
            )
        local = local_roots[str(raw.get("name", ""))]
        sub_path = raw.get("subPath")
        mounts.append(
            Mount(str(raw.get("name")), mount_path, local / sub_path if sub_path else local)
        )
    mounts.sort(key=lambda m: len(m.mount_path.rstrip("/")), reverse=True)
    table = MountTable(tuple(mounts))
    files: dict[Path, str] = {}
    for volume_name, volume, target in pending_config_maps:
        files.update(_config_map_files(volume_name, volume, target, known_config_maps, table))
    return ResolvedMounts(table, files, tuple(folders))


def _config_map_files(
    volume_name: str,
    volume: Mapping[str, Any],
    target: Path,
    known_config_maps: Mapping[str, Mapping[str, str]],
    table: MountTable,
) -> dict[Path, str]:
    """The files of a ConfigMap volume, with paths under the container's mounts rewritten."""
    source = volume["configMap"] or {}
    name = str(source.get("name", ""))
    if name not in known_config_maps:
        raise PlanError(
            f"volume {volume_name!r} uses ConfigMap {name!r}, which is not in the YAML file; "
            f"add it there or map it with --volume {volume_name}=DIR"
        )
    data = known_config_maps[name]
    items = source.get("items")
    layout = (
        {str(i.get("key")): str(i.get("path") or i.get("key")) for i in items}
        if items
        else {key: key for key in data}
    )
    files: dict[Path, str] = {}
    for key, relative in layout.items():
        if key not in data:
            raise PlanError(f"ConfigMap {name!r} has no key {key!r}")
        files[target / relative] = table.rewrite_text(data[key])
    return files


def localised_model_config(
    local: str | None, table: MountTable, scratch: Path, written: Mapping[Path, str]
) -> tuple[Path, str] | None:
    """A model config read from a local folder whose paths are the pod's (`/mnt/models/m`) is
    served from a copy with those paths made local: (the copy's path, its text). None when the
    file is used as is: already local, one the plan writes itself, or unreadable (the served
    model names then say what they can)."""
    if not local or Path(local) in written:
        return None
    try:
        text = Path(local).read_text()
    except OSError:
        return None
    localised = table.rewrite_text(text)
    if localised == text:
        return None
    return scratch / "model-config" / Path(local).name, localised
