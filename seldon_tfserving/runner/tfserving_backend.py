"""A pod's TF Serving container as `up` takes it: deploy's one reading, held to validate's verdict.

The container is read by deploy/tfserving_container exactly as `validate` reads it, and every
finding `validate` makes about it, or about the TfServingModel nodes pointed at it, refuses the
plan here, in the same words. On top comes what only a run on this machine needs: models in
local folders (no remote base paths), and the names in the model config the local backend is
really given (a ConfigMap of the file, or the file in a folder mapped with --volume).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from seldon_tfserving.deploy.findings import Finding
from seldon_tfserving.deploy.model import Predictor, SeldonDeployment
from seldon_tfserving.deploy.tensorflow_server import Expansion
from seldon_tfserving.deploy.tfserving_checks import check_tfserving_pods
from seldon_tfserving.deploy.tfserving_container import (
    ConfigMaps,
    ServedModels,
    TfServingContainer,
    read_model_config,
    read_tfserving_container,
    served_models,
)
from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.model_uris import local_base_path


def manifest_pod_path(deployment: SeldonDeployment, predictor: Predictor, pod_index: int) -> str:
    """The JSON path of a componentSpec's pod in its document, as `validate` names it."""
    raw = (deployment.raw.get("spec") or {}).get("predictors") or ()
    index = next((i for i, p in enumerate(raw) if p.get("name") == predictor.name), 0)
    return f"spec.predictors[{index}].componentSpecs[{pod_index}].spec"


def plan_error(deployment: str, findings: Sequence[Finding]) -> PlanError:
    """What `validate` reports as findings, with its paths, messages and fixes."""
    where = f"SeldonDeployment {deployment!r}"
    return PlanError("\n".join(finding.located(where) for finding in findings))


def refuse_what_validate_refuses(
    deployment: SeldonDeployment, documents: Sequence[Any], expansion: Expansion | None = None
) -> None:
    """validate's TF Serving verdict on the predictors `up` runs: each TF Serving container
    and the TfServingModel nodes pointed at it (deploy/tfserving_checks), read from the pods
    the operator builds (`deployment.raw`, expanded) with validate's paths."""
    running = {p.name for p in deployment.predictors}
    doc = deployment.raw
    chosen = tuple(
        f"spec.predictors[{index}]."
        for index, predictor in enumerate((doc.get("spec") or {}).get("predictors") or ())
        if predictor.get("name") in running
    )
    findings = check_tfserving_pods(doc, list(documents))
    if expansion is not None:
        findings = expansion.relocate(findings)
    findings = [f for f in findings if f.path.startswith(chosen)]
    if findings:
        raise plan_error(deployment.name, findings)


def read_backend(
    container: Mapping[str, Any],
    path: str,
    *,
    deployment: str,
    pod_volumes: Mapping[str, Mapping[str, Any]],
    known_config_maps: ConfigMaps,
    volume_dirs: Collection[str],
    model_uris: Mapping[str, Path] | None = None,
) -> tuple[TfServingContainer, ServedModels | None]:
    """The container and the models the manifest shows it serving (None: not shown), or the
    PlanError for whatever `validate` would refuse, or a local run cannot do.

    `volume_dirs` are the volumes mapped to local folders: their files are read from there,
    not from the manifest; `model_uris` map remote base paths to local folders.
    """
    server, findings = read_tfserving_container(container, path)
    if server is None or findings:
        raise plan_error(deployment, findings)
    models, findings = served_models(
        server, pod_volumes, known_config_maps, unseen_volumes=volume_dirs
    )
    if findings:
        raise plan_error(deployment, findings)
    base = server.model_base_path
    if base and "://" in base and local_base_path(base, model_uris or {}) is None:
        raise PlanError(
            f"TF Serving container {server.name!r} loads {base!r}; locally models must be "
            f"in a folder: map it with --model-uri {base}=DIR, or mount a volume and map it "
            f"with --volume NAME=DIR"
        )
    return server, models


def served_model_names(
    server: TfServingContainer,
    models: ServedModels | None,
    local_config_file: str | None,
    written: Mapping[Path, str],
    *,
    deployment: str,
) -> tuple[str, ...]:
    """The names the local backend serves: as the manifest shows them, else as its local
    model config file lists them (none when that file cannot be read yet)."""
    if models is None and local_config_file:
        text = _local_text(Path(local_config_file), written)
        if text is not None:
            models, findings = read_model_config(server, text, local_config_file)
            if findings:
                raise plan_error(deployment, findings)
    return tuple(models or ())


def _local_text(path: Path, written: Mapping[Path, str]) -> str | None:
    """A file's text: one the plan is about to write, else the one on disk."""
    if path in written:
        return written[path]
    try:
        return path.read_text()
    except OSError:
        return None
