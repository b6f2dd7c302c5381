"""Changing what is served while serving: TF Serving's ReloadConfig.

Reached from `ModelService/HandleReloadConfigRequest` and from re-reading `--model_config_file`
every `--model_config_file_poll_wait_seconds`. Semantics follow TF Serving's
server_core.cc: models left out of the new config are unloaded, new ones loaded (the call
returns once they are available), kept ones get their new version policy and labels; a label
may only name a version AVAILABLE now. Loaded versions are kept, never re-loaded, and the
change reaches readers as one snapshot swap, so requests to kept models never fail meanwhile.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from tensorflow_serving.config import model_server_config_pb2

from seldon_tfserving.backend.config import read_model_config_file, resolve_sources
from seldon_tfserving.backend.repository import ModelRepository
from seldon_tfserving.errors import (
    ConfigurationError,
    FailedPrecondition,
    InternalError,
    InvalidInput,
    ServingError,
)

LOG = logging.getLogger(__name__)

ModelServerConfig = model_server_config_pb2.ModelServerConfig


class ServedConfig:
    """The ModelServerConfig being served; every change to what is loaded goes through here.

    One lock orders reloads and file-system polls, so a poll never re-adds a model that a
    reload has just removed (it always resolves the config now in force).
    """

    def __init__(
        self,
        repository: ModelRepository,
        config: model_server_config_pb2.ModelServerConfig,
        *,
        allow_labels_for_unavailable: bool = False,
    ) -> None:
        self._repository = repository
        self._config = ModelServerConfig()
        self._config.CopyFrom(config)
        self._allow_labels_for_unavailable = allow_labels_for_unavailable
        self._changing = threading.Lock()

    def reload(self, new_config: model_server_config_pb2.ModelServerConfig) -> None:
        """Serve `new_config` (TF Serving's ServerCore::ReloadConfig); ServingError if refused.

        A config refused by validation changes nothing: duplicate names, a label on a version
        not available, a platform we do not serve, a base path that is not there (TF Serving
        would drop the models left out, then wait for the missing one forever). If a model
        new to it cannot load, the rest is applied and the call still fails, as TF Serving's
        does; meanwhile every model served before is served. An identical config is a no-op
        (a config-file poll re-reads the same text every few seconds).
        """
        if new_config.WhichOneof("config") == "model_config_list":
            # Versions retried for a model this config drops give up now, as in TF Serving
            # (a poll retrying one holds the lock below).
            self._repository.want_only(_names(new_config))
        with self._changing:
            try:
                self._apply(new_config)
            finally:
                self._repository.want_only(_names(self._config))

    def _apply(self, new_config: model_server_config_pb2.ModelServerConfig) -> None:
        """`reload`'s work, under its lock."""
        if new_config == self._config:
            return
        choice = new_config.WhichOneof("config")
        if choice is None:
            LOG.info("Taking no action for empty config.")
            return
        if choice != "model_config_list":
            raise FailedPrecondition(
                "Cannot transition to requested config. It is only legal to transition "
                "from one ModelConfigList to another."
            )
        _check_unique_names(new_config)
        self._check_labels(new_config)
        _check_base_paths(new_config)
        try:
            sources = resolve_sources(new_config, check_labels=False)
        except ConfigurationError as exc:
            raise InvalidInput(str(exc)) from None
        known = {model.name for model in self._config.model_config_list.config}
        LOG.info("Adding/updating models.")
        self._repository.refresh(sources)
        self._config = ModelServerConfig()
        self._config.CopyFrom(new_config)
        LOG.info("Finished reloading config")
        _check_new_models_available(
            self._repository, [s.name for s in sources if s.name not in known]
        )

    def reload_file(self, path: Path) -> None:
        """Re-read `--model_config_file` and apply it; a bad file is logged, nothing changes."""
        try:
            config = read_model_config_file(path)
            self.reload(config)
        except ConfigurationError as exc:
            LOG.error("Failed to read ModelServerConfig file: %s", exc)
        except ServingError as exc:
            LOG.error("PollFilesystemAndReloadConfig failed to ReloadConfig: %s", exc.message)

    def poll_versions(self) -> None:
        """File-system polling: follow the version directories under the config in force."""
        with self._changing:
            sources = resolve_sources(self._config, warn=False, check_labels=False)
            self._repository.refresh(sources)

    def _check_labels(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """UpdateModelVersionLabelMap's rule: a label names an AVAILABLE version, unless the
        flag allows labels for unavailable versions and the label is new (or unmoved)."""
        models = self._repository.models
        for model in config.model_config_list.config:
            served = models.get(model.name)
            available = served.versions if served is not None else {}
            current = served.labels if served is not None else {}
            for label, version in model.version_labels.items():
                unmoved = current.get(label, version) == version
                if self._allow_labels_for_unavailable and unmoved:
                    continue
                if version not in available:
                    raise FailedPrecondition(
                        f"Request to assign label to version {version} of model {model.name}, "
                        "which is not currently available for inference"
                    )


def _names(config: model_server_config_pb2.ModelServerConfig) -> frozenset[str]:
    return frozenset(model.name for model in config.model_config_list.config)


def _check_base_paths(config: model_server_config_pb2.ModelServerConfig) -> None:
    """Every base path is there (TF Serving's file-system source says this, in these words,
    once it polls)."""
    for model in config.model_config_list.config:
        base_path = model.base_path.removeprefix("file://")
        if not Path(base_path).is_dir():
            raise InvalidInput(
                f"Could not find base path {model.base_path} for servable {model.name}"
            )


def _check_unique_names(config: model_server_config_pb2.ModelServerConfig) -> None:
    seen: set[str] = set()
    for model in config.model_config_list.config:
        if model.name in seen:
            raise InvalidInput(f"Illegal to list model {model.name} multiple times in config list")
        seen.add(model.name)


def _check_new_models_available(repository: ModelRepository, new_names: list[str]) -> None:
    """WaitUntilModelsAvailable: each model new to the config must have a version available."""
    models = repository.models
    failed = [name for name in new_names if not models[name].versions]
    if failed:
        details = ", ".join(
            f"{{{name}: {sorted(models[name].ended.values()) or 'no versions'}}}" for name in failed
        )
        raise InternalError(f"{len(failed)} model(s) did not become available: {{{details}}}")
