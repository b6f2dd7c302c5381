"""Which models and versions to serve: TF Serving's ModelServerConfig, read as it reads it.

`--model_config_file` is a real ModelServerConfig text proto; `--model_name` with
`--model_base_path` is the single-model shorthand. Versions are the numeric subdirectories of a
base path, chosen by the model's `model_version_policy` (latest N by default, all, or specific).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from tensorflow_serving.config import model_server_config_pb2

from seldon_tfserving.codec.model_server_config import (
    ModelServerConfigError,
    parse_model_server_config,
)
from seldon_tfserving.errors import ConfigurationError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """One model to serve: its name, where its versions live, which ones, and their labels."""

    name: str
    base_path: Path
    #: version -> its directory (named by the number, leading zeros allowed: `00000123`).
    version_dirs: dict[int, Path]
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self.version_dirs))


def read_model_config_file(path: Path) -> model_server_config_pb2.ModelServerConfig:
    """Parse a ModelServerConfig text proto (the `--model_config_file` format)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError("model_config_file", f"cannot read {path}: {exc}") from None
    try:
        config = parse_model_server_config(text)
    except ModelServerConfigError as exc:
        raise ConfigurationError(
            "model_config_file", f"{path} is not a text proto: {exc}"
        ) from None
    if config.WhichOneof("config") == "custom_model_config":
        raise ConfigurationError("model_config_file", "custom_model_config is not supported")
    return config


def single_model_config(name: str, base_path: str) -> model_server_config_pb2.ModelServerConfig:
    """The config `--model_name` / `--model_base_path` stand for (latest version only)."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    model.base_path = base_path
    model.model_platform = "tensorflow"
    return config


def available_versions(base_path: Path) -> dict[int, Path]:
    """The versions present under `base_path`: its subdirectories named by a non-negative int."""
    if not base_path.is_dir():
        return {}
    return {
        int(child.name): child
        for child in sorted(base_path.iterdir())
        if child.is_dir() and child.name.isdigit()
    }


def _strip_scheme(base_path: str) -> Path:
    return Path(base_path.removeprefix("file://"))


def resolve_sources(
    config: model_server_config_pb2.ModelServerConfig,
    *,
    warn: bool = True,
    check_labels: bool = True,
) -> list[ModelSource]:
    """Apply each model's version policy to the versions on disk; check names and labels.

    `warn=False` (file-system polling) keeps missing versions out of the log each poll;
    `check_labels=False` when the labels were checked already, as a reload checks them.
    """
    sources: list[ModelSource] = []
    seen: set[str] = set()
    for model in config.model_config_list.config:
        if not model.name:
            raise ConfigurationError("model_config_file", "a model config has no name")
        if model.name in seen:
            raise ConfigurationError("model_config_file", f"model {model.name!r} is listed twice")
        seen.add(model.name)
        if model.model_platform not in ("", "tensorflow"):
            raise ConfigurationError(
                "model_config_file",
                f"model {model.name!r}: platform {model.model_platform!r} is not supported",
            )
        base = _strip_scheme(model.base_path)
        on_disk = available_versions(base)
        versions = _apply_policy(model, sorted(on_disk), warn)
        if not versions and warn:
            LOG.warning("model %s: no servable versions under %s", model.name, base)
        labels = dict(model.version_labels)
        for label, labelled in labels.items():
            if check_labels and labelled not in versions:
                raise ConfigurationError(
                    "model_config_file",
                    f"model {model.name!r}: label {label!r} points to version {labelled}, "
                    f"which is not served (served: {list(versions)})",
                )
        chosen = {version: on_disk[version] for version in versions}
        sources.append(ModelSource(model.name, base, chosen, labels))
    return sources


def _apply_policy(
    model: model_server_config_pb2.ModelConfig, on_disk: list[int], warn: bool
) -> list[int]:
    policy = model.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return on_disk
    if choice == "specific":
        wanted = sorted(set(policy.specific.versions))
        missing = [v for v in wanted if v not in on_disk]
        if missing and warn:
            LOG.warning(
                "model %s: versions %s not found under %s", model.name, missing, model.base_path
            )
        return [v for v in wanted if v in on_disk]
    count = policy.latest.num_versions if choice == "latest" else 1
    return on_disk[-max(count, 1) :] if on_disk else []
