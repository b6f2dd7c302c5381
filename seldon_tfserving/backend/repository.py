"""The loaded versions of every model, kept in line with the files as TF Serving keeps them.

`refresh` loads the versions a model's policy now asks for and retires the others, but only
once a wanted version is available (TF Serving's availability-preserving policy). Readers see
an immutable snapshot swapped in whole, so a request never meets a half-updated model; a
retired version is not closed under a running request (its session goes with its last user).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from seldon_tfserving.backend.batching_parameters import BatchingParameters
from seldon_tfserving.backend.config import ModelSource
from seldon_tfserving.backend.loader import LoadedVersion, serving_error_from_tf
from seldon_tfserving.backend.server_options import LoadSettings

LOG = logging.getLogger(__name__)

#: TensorFlow's OK error code: a version that ended cleanly (unloaded, not failed).
OK_CODE = 0


@dataclass(frozen=True)
class ServedModel:
    """One model at one moment: its available versions, labels, and the versions that ended."""

    name: str
    versions: Mapping[int, LoadedVersion]
    labels: Mapping[str, int]
    #: version -> (TensorFlow error code, message): failed to load, or unloaded (OK, "").
    ended: Mapping[int, tuple[int, str]] = field(default_factory=dict)
    #: versions being loaded again after a failure (TF Serving reports them LOADING)
    retrying: frozenset[int] = frozenset()


class ModelRepository:
    """Every served model; `models` is a consistent snapshot, `refresh` follows the disk."""

    def __init__(
        self,
        prepare: Callable[[LoadedVersion], object] | None = None,
        batching: BatchingParameters | None = None,
        settings: LoadSettings | None = None,
    ) -> None:
        """`prepare` runs on each newly loaded version before it is served (the warm-up); if
        it raises, the version ends with that error instead. `batching` batches every
        version's runs; `settings` are the tags, session and retries of every load."""
        self._models: dict[str, ServedModel] = {}
        self._refreshing = threading.Lock()
        self._prepare = prepare
        self._batching = batching
        self._settings = settings or LoadSettings()
        #: the models a pending config still wants (None: any); the others stop retrying
        self._wanted: frozenset[str] | None = None
        self._closing = threading.Event()

    @classmethod
    def serving_only(cls, version: LoadedVersion) -> ModelRepository:
        """A repository serving `version` alone: requests to a version not served yet."""
        repository = cls()
        repository._models = {
            version.name: ServedModel(version.name, {version.version: version}, {})
        }
        return repository

    @property
    def models(self) -> Mapping[str, ServedModel]:
        return self._models

    def refresh(self, sources: Sequence[ModelSource]) -> None:
        """Load newly wanted versions, retire unwanted ones once a wanted one is available.

        `sources` is the whole config: a model not in it is unloaded (its versions END), as
        TF Serving tears down a model dropped from its config. One snapshot swap at the end.
        """
        with self._refreshing:
            updated = dict(self._models)
            for source in sources:
                current = self._models.get(source.name) or ServedModel(source.name, {}, {})
                updated[source.name] = self._refreshed(current, source)
            wanted = {source.name for source in sources}
            for name, model in self._models.items():
                if name not in wanted and (model.versions or model.labels):
                    updated[name] = _unloaded(model)
            self._models = updated

    def _refreshed(self, current: ServedModel, source: ModelSource) -> ServedModel:
        versions = dict(current.versions)
        ended = dict(current.ended)
        for version, path in sorted(source.version_dirs.items()):
            if version in versions or ended.get(version, (OK_CODE, ""))[0] != OK_CODE:
                continue  # loaded already, or failed before: TF Serving does not retry forever
            try:
                versions[version] = self._loaded(source.name, version, path)
                ended.pop(version, None)
            except Exception as exc:  # a broken SavedModel must not take the server down
                error = serving_error_from_tf(exc)
                LOG.error(
                    "model %s version %d failed to load: %s", source.name, version, error.message
                )
                ended[version] = (error.grpc_code.value[0], error.message)
        if any(version in versions for version in source.version_dirs):
            for version in [v for v in versions if v not in source.version_dirs]:
                LOG.info("model %s version %d unloaded", source.name, version)
                del versions[version]
                ended[version] = (OK_CODE, "")
        return ServedModel(source.name, versions, dict(source.labels), ended)

    def want_only(self, names: frozenset[str]) -> None:
        """A config naming only `names` is about to be applied: a version of another model
        that is being retried gives up now (as TF Serving cancels the retries of a version
        no longer aspired), instead of holding the reload for its retries."""
        self._wanted = names

    def _loaded(self, name: str, version: int, path: Path) -> LoadedVersion:
        """Load (and prepare) a version; a failure is retried as TF Serving's loader harness
        retries it, while the version is still wanted: its directory is there, its model in
        the config, the server not stopping. The last error is raised."""
        retries = self._settings.retries
        attempt = 0
        while True:
            try:
                return self._load_once(name, version, path)
            except Exception as exc:
                if attempt >= retries.max_retries or not self._still_wanted(name, path):
                    raise
                attempt += 1
                LOG.error("Loading servable %s version %d failed: %s", name, version, exc)
                self._show_retrying(name, version)
                if retries.interval_s > 0 and self._closing.wait(retries.interval_s):
                    raise
                if not self._still_wanted(name, path):
                    LOG.info("Retrying of loading %s version %d was cancelled.", name, version)
                    raise
                LOG.info("Retrying of loading %s version %d, retry: %d", name, version, attempt)

    def _still_wanted(self, name: str, path: Path) -> bool:
        wanted = self._wanted
        return not self._closing.is_set() and path.is_dir() and (wanted is None or name in wanted)

    def _show_retrying(self, name: str, version: int) -> None:
        """Publish the version as LOADING while it waits for its next try."""
        model = self._models.get(name) or ServedModel(name, {}, {})
        self._models = {**self._models, name: replace(model, retrying=model.retrying | {version})}

    def _load_once(self, name: str, version: int, path: Path) -> LoadedVersion:
        loaded = LoadedVersion(name, version, path, self._batching, self._settings)
        if self._prepare is not None:
            try:
                self._prepare(loaded)
            except BaseException:
                loaded.close()
                raise
        return loaded

    def close(self) -> None:
        self._closing.set()
        for model in self._models.values():
            for version in model.versions.values():
                version.close()


def _unloaded(model: ServedModel) -> ServedModel:
    """A model dropped from the config: no versions, no labels, every version ended cleanly."""
    LOG.info("model %s unloaded (versions %s)", model.name, sorted(model.versions))
    ended = dict(model.ended)
    ended.update((version, (OK_CODE, "")) for version in model.versions)
    return ServedModel(model.name, {}, {}, ended)
